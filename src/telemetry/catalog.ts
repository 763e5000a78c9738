/**
 * The one catalog of signals. Instrumentation, the README signal table, the
 * dashboards and the Prometheus rules all come from here; tests fail when
 * they disagree.
 *
 * Naming rule: a metric whose unit is seconds or bytes keeps the unit word
 * as the last name segment (`...seconds`, `...bytes`), and no name ends in
 * `total` or `ratio`. Then the JS Prometheus exporter (dots → underscores,
 * `_total` on counters) and the Collector's `prometheus` exporter (adds the
 * unit suffix unless the name already holds it, adds `_total`) produce the
 * same Prometheus name. `test/unit/telemetry/prometheus-names.test.ts`
 * applies both rule sets to every entry.
 */

export const ATTR = {
  workerId: 'linkwatch.worker.id',
  hubId: 'linkwatch.hub.id',
  side: 'linkwatch.link.side',
  state: 'linkwatch.link.state',
  reason: 'linkwatch.reason',
  alertName: 'linkwatch.alert.name',
  severity: 'linkwatch.alert.severity',
  errorType: 'error.type',
  messagingSystem: 'messaging.system',
  messagingOperationType: 'messaging.operation.type',
  messagingOperationName: 'messaging.operation.name',
  messagingDestination: 'messaging.destination.name',
  serverAddress: 'server.address',
  serverPort: 'server.port',
  networkTransport: 'network.transport',
  networkProtocolName: 'network.protocol.name',
  urlFull: 'url.full',
} as const;

export type Instrument = 'counter' | 'histogram' | 'gauge' | 'updowncounter';

export interface MetricSpec {
  name: string;
  instrument: Instrument;
  unit: string;
  description: string;
  /** Attribute keys beyond worker id, hub id and side, which every metric carries. */
  attributes: readonly string[];
  /** Explicit histogram buckets, in the metric's unit. */
  buckets?: readonly number[];
}

const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const BACKOFF_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60];

function m<I extends Instrument>(
  name: string,
  instrument: I,
  unit: string,
  description: string,
  attributes: readonly string[] = [],
  buckets?: readonly number[],
): MetricSpec & { instrument: I } {
  return buckets
    ? { name, instrument, unit, description, attributes, buckets }
    : { name, instrument, unit, description, attributes };
}

/** Every metric, keyed by a short handle the instrumentation uses. */
export const METRICS = {
  // Heartbeats
  heartbeatsSent: m('linkwatch.heartbeats.sent', 'counter', '{heartbeat}', 'Heartbeats sent on a link.'),
  heartbeatsReceived: m(
    'linkwatch.heartbeats.received',
    'counter',
    '{heartbeat}',
    'Heartbeats received from the peer.',
  ),
  heartbeatsMissed: m(
    'linkwatch.heartbeats.missed',
    'counter',
    '{heartbeat}',
    'Heartbeat intervals that passed without an ack for our heartbeat.',
  ),
  heartbeatRtt: m(
    'linkwatch.heartbeat.rtt.seconds',
    'histogram',
    's',
    'Heartbeat round-trip time.',
    [],
    LATENCY_BUCKETS,
  ),
  heartbeatAge: m(
    'linkwatch.heartbeat.age.seconds',
    'gauge',
    's',
    'Time since the last heartbeat round trip on a live link (since disconnect when down).',
  ),
  // Link lifecycle
  linkState: m(
    'linkwatch.link.state',
    'gauge',
    '{state}',
    'Link health state: 1 for the current state, 0 for the others.',
    [ATTR.state],
  ),
  linkUp: m('linkwatch.link.up', 'gauge', '{link}', '1 while the link is connected, else 0.'),
  connects: m(
    'linkwatch.connects',
    'counter',
    '{connect}',
    'Successful handshakes (first connect and reconnects).',
  ),
  reconnects: m(
    'linkwatch.reconnects',
    'counter',
    '{connect}',
    'Successful reconnects, by the error.type of the disconnect before them.',
    [ATTR.errorType],
  ),
  disconnects: m('linkwatch.disconnects', 'counter', '{disconnect}', 'Links that went down, by error.type.', [
    ATTR.errorType,
  ]),
  connectDuration: m(
    'linkwatch.connect.duration.seconds',
    'histogram',
    's',
    'Dial to welcome (worker) for successful and failed handshakes.',
    [ATTR.errorType],
    LATENCY_BUCKETS,
  ),
  backoffDelay: m(
    'linkwatch.backoff.delay.seconds',
    'histogram',
    's',
    'Delay chosen before each reconnect attempt.',
    [],
    BACKOFF_BUCKETS,
  ),
  failovers: m(
    'linkwatch.failovers',
    'counter',
    '{failover}',
    'Moves to the next hub URL after a failed dial.',
  ),
  // Work queue
  queueEnqueued: m('linkwatch.queue.enqueued', 'counter', '{message}', 'Messages added to the work queue.'),
  queueStarted: m('linkwatch.queue.started', 'counter', '{message}', 'Handler calls started.'),
  queueCompleted: m('linkwatch.queue.completed', 'counter', '{message}', 'Handler calls that succeeded.'),
  queueFailed: m(
    'linkwatch.queue.failed',
    'counter',
    '{message}',
    'Handler calls that failed or timed out, by error.type.',
    [ATTR.errorType],
  ),
  queueTimeouts: m(
    'linkwatch.queue.timeouts',
    'counter',
    '{message}',
    'Handler calls that ran past their deadline.',
  ),
  queueDropped: m(
    'linkwatch.queue.dropped',
    'counter',
    '{message}',
    'Messages dropped from the work queue unprocessed when it closed (shutdown, session expired), by reason; the peer still holds them unacked and replays them.',
    [ATTR.reason],
  ),
  queueDepth: m(
    'linkwatch.queue.depth',
    'gauge',
    '{message}',
    'Messages waiting or running in the work queue.',
  ),
  queueCapacity: m('linkwatch.queue.capacity', 'gauge', '{message}', 'Work queue capacity.'),
  queueHung: m(
    'linkwatch.queue.hung',
    'gauge',
    '{message}',
    'Handler calls past their deadline that have not returned.',
  ),
  queueWait: m(
    'linkwatch.queue.wait.seconds',
    'histogram',
    's',
    'Time from enqueue to handler start.',
    [],
    LATENCY_BUCKETS,
  ),
  queueProcess: m(
    'linkwatch.queue.process.seconds',
    'histogram',
    's',
    'Handler run time, by outcome (error.type empty on success).',
    [ATTR.errorType],
    LATENCY_BUCKETS,
  ),
  // Outbox
  outboxMessages: m(
    'linkwatch.outbox.messages',
    'gauge',
    '{message}',
    'Messages held in the outbox (unsent plus unacked).',
  ),
  outboxBytes: m('linkwatch.outbox.pending.bytes', 'gauge', 'By', 'Bytes held in the outbox.'),
  outboxOldestAge: m(
    'linkwatch.outbox.oldest.age.seconds',
    'gauge',
    's',
    'Age of the oldest unacked message in the outbox.',
  ),
  outboxDropped: m(
    'linkwatch.outbox.dropped',
    'counter',
    '{message}',
    'Messages discarded by a drop policy, by reason.',
    [ATTR.reason],
  ),
  outboxBlocked: m(
    'linkwatch.outbox.waiting',
    'gauge',
    '{producer}',
    'Producers waiting for outbox room (backpressure).',
  ),
  // Delivery
  messagesSent: m(
    'linkwatch.messages.sent',
    'counter',
    '{message}',
    'Data messages written for the first time.',
  ),
  messagesAcked: m('linkwatch.messages.acked', 'counter', '{message}', 'Data messages the peer acked.'),
  messagesReplayed: m(
    'linkwatch.messages.replayed',
    'counter',
    '{message}',
    'Data messages written again after a reconnect.',
  ),
  messagesReceived: m(
    'linkwatch.messages.received',
    'counter',
    '{message}',
    'New data messages received (duplicates excluded).',
  ),
  duplicatesDropped: m(
    'linkwatch.messages.duplicates',
    'counter',
    '{message}',
    'Duplicate data messages dropped by the receiver.',
  ),
  // Transport
  bufferedBytes: m(
    'linkwatch.transport.buffered.bytes',
    'gauge',
    'By',
    'Bytes buffered in the socket, not yet sent.',
  ),
  bytesSent: m('linkwatch.transport.sent.bytes', 'counter', 'By', 'Data frame bytes written.'),
  bytesReceived: m('linkwatch.transport.received.bytes', 'counter', 'By', 'Data frame bytes received.'),
  framesRejected: m(
    'linkwatch.frames.rejected',
    'counter',
    '{frame}',
    'Frames that closed their link, by error.type.',
    [ATTR.errorType],
  ),
  authFailures: m('linkwatch.auth.failures', 'counter', '{attempt}', 'Rejected handshakes, by error.type.', [
    ATTR.errorType,
  ]),
  transportStalls: m(
    'linkwatch.transport.stalls',
    'counter',
    '{stall}',
    'Links torn down because the socket buffer did not drain.',
  ),
  // Watchdog
  alerts: m(
    'linkwatch.watchdog.alerts',
    'counter',
    '{alert}',
    'Watchdog alerts that fired, by alert name and severity.',
    [ATTR.alertName, ATTR.severity, ATTR.reason],
  ),
  alertActive: m(
    'linkwatch.watchdog.alert.active',
    'gauge',
    '{alert}',
    'Watchdog alerts currently firing, by alert name and severity (1 while firing).',
    [ATTR.alertName, ATTR.severity, ATTR.reason],
  ),
  alertDeliveryFailures: m(
    'linkwatch.watchdog.delivery.failures',
    'counter',
    '{attempt}',
    'Failed deliveries of watchdog alerts to Alertmanager.',
  ),
  eventLoopDelay: m(
    'linkwatch.eventloop.delay.seconds',
    'gauge',
    's',
    'Event-loop delay p99 over the last collection interval.',
  ),
  eventLoopBlocks: m(
    'linkwatch.eventloop.blocks',
    'counter',
    '{block}',
    'Times the sentinel thread saw the event loop blocked past its threshold.',
  ),
  telemetryExportFailures: m(
    'linkwatch.telemetry.export.failures',
    'counter',
    '{export}',
    'Failed OTLP metric exports.',
  ),
  // Process liveness (the dead-man's switch reads it)
  processHeartbeat: m(
    'linkwatch.process.heartbeat.seconds',
    'gauge',
    's',
    'Unix time of the last telemetry collection; stops moving when the process hangs.',
  ),
} as const satisfies Record<string, MetricSpec>;

export type MetricKey = keyof typeof METRICS;

export interface SpanSpec {
  name: string;
  kind: 'internal' | 'producer' | 'consumer' | 'client';
  description: string;
  attributes: readonly string[];
  events: readonly string[];
}

export const SPANS = {
  heartbeat: {
    name: 'linkwatch.heartbeat',
    kind: 'internal',
    description:
      'One heartbeat round trip. RTT as an attribute; a miss ends it with an error status. One overtaken by the next heartbeat while data kept the link moving ends with neither.',
    attributes: [ATTR.workerId, ATTR.hubId, ATTR.side, 'linkwatch.heartbeat.rtt_ms', ATTR.errorType],
    events: [],
  },
  send: {
    name: 'send linkwatch',
    kind: 'producer',
    description: 'A data message from send() until the peer acks it. Its context travels in the frame.',
    attributes: [
      ATTR.workerId,
      ATTR.side,
      ATTR.messagingSystem,
      ATTR.messagingOperationType,
      ATTR.messagingOperationName,
      ATTR.messagingDestination,
      'linkwatch.seq',
    ],
    events: ['linkwatch.sent', 'linkwatch.dropped'],
  },
  process: {
    name: 'process linkwatch',
    kind: 'consumer',
    description: 'A received message from enqueue to handler completion; child of the producer span.',
    attributes: [
      ATTR.workerId,
      ATTR.hubId,
      ATTR.side,
      ATTR.messagingSystem,
      ATTR.messagingOperationType,
      ATTR.messagingOperationName,
      'linkwatch.seq',
      ATTR.errorType,
    ],
    events: ['linkwatch.queue.enqueued', 'linkwatch.queue.started', 'linkwatch.queue.timeout'],
  },
  outage: {
    name: 'linkwatch.outage',
    kind: 'internal',
    description: 'From a disconnect to the next connection, one event per reconnect attempt.',
    attributes: [ATTR.workerId, ATTR.side, ATTR.errorType, 'linkwatch.outage.attempts'],
    events: ['linkwatch.reconnect.attempt'],
  },
  handshake: {
    name: 'linkwatch.handshake',
    kind: 'client',
    description: 'Dial, upgrade and hello/welcome for one attempt.',
    attributes: [ATTR.workerId, ATTR.hubId, ATTR.serverAddress, ATTR.serverPort, ATTR.errorType],
    events: [],
  },
  alert: {
    name: 'linkwatch.watchdog.alert',
    kind: 'internal',
    description: 'A watchdog alert firing or resolving, as a span event.',
    attributes: [ATTR.workerId, ATTR.hubId, ATTR.side, ATTR.alertName, ATTR.severity, ATTR.reason],
    events: ['linkwatch.alert.firing', 'linkwatch.alert.resolved'],
  },
} as const satisfies Record<string, SpanSpec>;
