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
 *
 * Each metric also states its cardinality (where it has series: per worker
 * or hub-wide on a hub, on the worker) and the README's table shows it.
 * Long because it is one table; splitting it would split the vocabulary.
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

/**
 * Which series a metric has on a hub: one per connected worker, one for the
 * whole hub (no worker id), or none. The hub exports per worker only what
 * only the hub can see; each worker process exports its own detail.
 */
export type HubSeries = 'per-worker' | 'hub-wide' | 'none';

export interface MetricSpec {
  name: string;
  instrument: Instrument;
  unit: string;
  description: string;
  /** Attribute keys beyond worker id, hub id and side, which every metric carries. */
  attributes: readonly string[];
  /** Explicit histogram buckets, in the metric's unit. */
  buckets?: readonly number[];
  /** Read at collection time from the counters and state the core keeps; otherwise counted per event. */
  observed: boolean;
  /** Its series on a hub. */
  hub: HubSeries;
  /** A worker process exports it, for its one worker. */
  worker: boolean;
  /** Label sets per worker (hub: per hub) from `attributes`: the values that occur. */
  labelValues: number;
  /** Per-message histograms record bursts of messages, not every one (MESSAGE_HISTOGRAM_BURST). */
  sampled?: boolean;
}

/** Series of one label set: a histogram has one per bucket, plus +Inf, _sum and _count. */
export function seriesPerLabelSet(spec: MetricSpec): number {
  return spec.instrument === 'histogram' ? (spec.buckets?.length ?? 0) + 3 : 1;
}

/** No linkwatch metric may overflow the SDK's cardinality limit below this many workers. */
export const MAX_WORKERS = 20_000;
/**
 * The SDK cardinality limit for every linkwatch instrument (a view on
 * `linkwatch.*` with `aggregationCardinalityLimit`; the CLI sets it). The
 * SDK's default of 2,000 attribute sets made every per-worker metric
 * overflow past 2,000 workers. The most one linkwatch metric can hold is one
 * set per link state per worker (the SDK keeps every set an observable
 * instrument reported), so MAX_WORKERS × 5 states, doubled for workers
 * replaced within a session TTL.
 */
export const CARDINALITY_LIMIT = 2 * MAX_WORKERS * 5;
/** Distinct values one label may take per metric; later ones fold into `other`. */
export const MAX_LABEL_VALUES = 32;
/**
 * Per-message histograms (queue wait, handler time) record a burst of this
 * many messages at most once per MESSAGE_HISTOGRAM_BURST_EVERY_MS: recording
 * every message would make the core build an event object per message.
 */
export const MESSAGE_HISTOGRAM_BURST = 16;
export const MESSAGE_HISTOGRAM_BURST_EVERY_MS = 1000;

const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const BACKOFF_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60];

interface Where {
  observed?: boolean;
  hub?: HubSeries;
  worker?: boolean;
  labelValues?: number;
  buckets?: readonly number[];
  sampled?: boolean;
}

function m<I extends Instrument>(
  name: string,
  instrument: I,
  unit: string,
  description: string,
  attributes: readonly string[] = [],
  where: Where = {},
): MetricSpec & { instrument: I } {
  const { buckets, sampled } = where;
  return {
    name,
    instrument,
    unit,
    description,
    attributes,
    observed: where.observed ?? false,
    hub: where.hub ?? 'hub-wide',
    worker: where.worker ?? true,
    labelValues: where.labelValues ?? 1,
    ...(buckets ? { buckets } : {}),
    ...(sampled ? { sampled } : {}),
  };
}

const PER_WORKER = { observed: true, hub: 'per-worker' } as const;
const OBSERVED = { observed: true } as const;
const WORKER_ONLY = { hub: 'none' } as const;
/** Disconnect error types a healthy fleet meets (seeded at 0); rarer ones start at 1. */
const DISCONNECT_TYPES = 6;

/** Every metric, keyed by a short handle the instrumentation uses. */
export const METRICS = {
  // Heartbeats
  heartbeatsSent: m('linkwatch.heartbeats.sent', 'counter', '{heartbeat}', 'Heartbeats sent.', [], OBSERVED),
  heartbeatsReceived: m(
    'linkwatch.heartbeats.received',
    'counter',
    '{heartbeat}',
    'Heartbeats received from the peer.',
    [],
    OBSERVED,
  ),
  heartbeatsMissed: m(
    'linkwatch.heartbeats.missed',
    'counter',
    '{heartbeat}',
    'Heartbeat intervals that passed without an ack for our heartbeat.',
    [],
    OBSERVED,
  ),
  heartbeatRtt: m('linkwatch.heartbeat.rtt.seconds', 'histogram', 's', 'Heartbeat round-trip time.', [], {
    buckets: LATENCY_BUCKETS,
  }),
  heartbeatAge: m(
    'linkwatch.heartbeat.age.seconds',
    'gauge',
    's',
    'Time since the last heartbeat round trip on a live link (since disconnect when down).',
    [],
    PER_WORKER,
  ),
  // Link lifecycle
  linkState: m(
    'linkwatch.link.state',
    'gauge',
    '{state}',
    'Link health state: one series, value 1, labelled with the current state.',
    [ATTR.state],
    PER_WORKER,
  ),
  linkUp: m('linkwatch.link.up', 'gauge', '{link}', '1 while the link is connected, else 0.', [], PER_WORKER),
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
    { ...WORKER_ONLY, labelValues: DISCONNECT_TYPES },
  ),
  disconnects: m(
    'linkwatch.disconnects',
    'counter',
    '{disconnect}',
    'Links that went down, by error.type.',
    [ATTR.errorType],
    { labelValues: DISCONNECT_TYPES },
  ),
  connectDuration: m(
    'linkwatch.connect.duration.seconds',
    'histogram',
    's',
    'Dial to welcome (worker) for successful and failed handshakes.',
    [ATTR.errorType],
    { ...WORKER_ONLY, buckets: LATENCY_BUCKETS },
  ),
  backoffDelay: m(
    'linkwatch.backoff.delay.seconds',
    'histogram',
    's',
    'Delay chosen before each reconnect attempt.',
    [],
    { ...WORKER_ONLY, buckets: BACKOFF_BUCKETS },
  ),
  failovers: m(
    'linkwatch.failovers',
    'counter',
    '{failover}',
    'Moves to the next hub URL after a failed dial.',
    [],
    WORKER_ONLY,
  ),
  // Work queue
  queueCompleted: m(
    'linkwatch.queue.completed',
    'counter',
    '{message}',
    'Handler calls that succeeded.',
    [],
    PER_WORKER,
  ),
  queueFailed: m(
    'linkwatch.queue.failed',
    'counter',
    '{message}',
    'Handler calls that failed (LW_ERR_HANDLER_FAILED) or timed out (LW_ERR_HANDLER_TIMEOUT), by error.type.',
    [ATTR.errorType],
    { ...PER_WORKER, labelValues: 2 },
  ),
  queueTimeouts: m(
    'linkwatch.queue.timeouts',
    'counter',
    '{message}',
    'Handler calls that ran past their deadline.',
    [],
    OBSERVED,
  ),
  queueDropped: m(
    'linkwatch.queue.dropped',
    'counter',
    '{message}',
    'Messages dropped from the work queue unprocessed when it closed (shutdown, session expired), by reason; the peer still holds them unacked and replays them.',
    [ATTR.reason],
    { labelValues: 2 },
  ),
  queueDepth: m(
    'linkwatch.queue.depth',
    'gauge',
    '{message}',
    'Messages waiting or running in the work queue.',
    [],
    PER_WORKER,
  ),
  queueCapacity: m('linkwatch.queue.capacity', 'gauge', '{message}', 'Work queue capacity.', [], OBSERVED),
  queueHung: m(
    'linkwatch.queue.hung',
    'gauge',
    '{message}',
    'Handler calls past their deadline that have not returned.',
    [],
    PER_WORKER,
  ),
  queueWait: m(
    'linkwatch.queue.wait.seconds',
    'histogram',
    's',
    `Time from enqueue to handler start, of a sample: up to ${MESSAGE_HISTOGRAM_BURST} messages in a row once a second.`,
    [],
    { buckets: LATENCY_BUCKETS, sampled: true },
  ),
  queueProcess: m(
    'linkwatch.queue.process.seconds',
    'histogram',
    's',
    `Handler run time, by outcome (error.type empty on success): successes sampled like the wait, every failure.`,
    [ATTR.errorType],
    { buckets: LATENCY_BUCKETS, labelValues: 3, sampled: true },
  ),
  // Outbox (a hub sums or maxes its workers' outboxes)
  outboxMessages: m(
    'linkwatch.outbox.messages',
    'gauge',
    '{message}',
    'Messages held in the outbox (unsent plus unacked).',
    [],
    OBSERVED,
  ),
  outboxBytes: m('linkwatch.outbox.pending.bytes', 'gauge', 'By', 'Bytes held in the outbox.', [], OBSERVED),
  outboxOldestAge: m(
    'linkwatch.outbox.oldest.age.seconds',
    'gauge',
    's',
    'Age of the oldest unacked message in the outbox (a hub: the oldest of all).',
    [],
    OBSERVED,
  ),
  outboxDropped: m(
    'linkwatch.outbox.dropped',
    'counter',
    '{message}',
    'Messages discarded by a drop policy, by reason.',
    [ATTR.reason],
    { labelValues: 2 },
  ),
  outboxBlocked: m(
    'linkwatch.outbox.waiting',
    'gauge',
    '{producer}',
    'Producers waiting for outbox room (backpressure).',
    [],
    OBSERVED,
  ),
  // Delivery
  messagesSent: m(
    'linkwatch.messages.sent',
    'counter',
    '{message}',
    'Data messages written for the first time.',
    [],
    OBSERVED,
  ),
  messagesAcked: m(
    'linkwatch.messages.acked',
    'counter',
    '{message}',
    'Data messages the peer acked.',
    [],
    OBSERVED,
  ),
  messagesReplayed: m(
    'linkwatch.messages.replayed',
    'counter',
    '{message}',
    'Data messages written again after a reconnect.',
    [],
    OBSERVED,
  ),
  messagesReceived: m(
    'linkwatch.messages.received',
    'counter',
    '{message}',
    'New data messages received (duplicates excluded).',
    [],
    OBSERVED,
  ),
  duplicatesDropped: m(
    'linkwatch.messages.duplicates',
    'counter',
    '{message}',
    'Duplicate data messages dropped by the receiver.',
    [],
    OBSERVED,
  ),
  // Transport
  bufferedBytes: m(
    'linkwatch.transport.buffered.bytes',
    'gauge',
    'By',
    'Bytes buffered in the socket, not yet sent (a hub: the largest of its links).',
    [],
    OBSERVED,
  ),
  bytesSent: m(
    'linkwatch.transport.sent.bytes',
    'counter',
    'By',
    'Bytes of data and batch frames written, replays included.',
    [],
    OBSERVED,
  ),
  bytesReceived: m(
    'linkwatch.transport.received.bytes',
    'counter',
    'By',
    'Bytes of data and batch frames received, duplicates included.',
    [],
    OBSERVED,
  ),
  framesRejected: m(
    'linkwatch.frames.rejected',
    'counter',
    '{frame}',
    'Frames that closed their link, by error.type.',
    [ATTR.errorType],
    { labelValues: 4 },
  ),
  authFailures: m(
    'linkwatch.auth.failures',
    'counter',
    '{attempt}',
    'Rejected handshakes, by error.type. Hub-wide: nothing an unauthenticated peer sends becomes a label.',
    [ATTR.errorType],
    { worker: false, labelValues: 2 },
  ),
  connectionsRefused: m(
    'linkwatch.connections.refused',
    'counter',
    '{connection}',
    'Connections a hub turned away before a link, by error.type: busy (LW_ERR_BUSY, 503), over the pre-auth limit (LW_ERR_CONNECTION_LIMIT), request head too slow (LW_ERR_REQUEST_TIMEOUT), no hello in time (LW_ERR_HANDSHAKE_TIMEOUT, 4003).',
    [ATTR.errorType],
    { worker: false, labelValues: 4 },
  ),
  checkpointFailures: m(
    'linkwatch.checkpoint.failures',
    'counter',
    '{failure}',
    'CheckpointStore calls that threw or rejected, by error.type; the link closes with 4005 and the peer replays what was not recorded.',
    [ATTR.errorType],
  ),
  transportStalls: m(
    'linkwatch.transport.stalls',
    'counter',
    '{stall}',
    'Links torn down because the socket buffer did not drain.',
  ),
  // Watchdog (recorded by src/watchdog/otel-sink.ts with its own labels; an alert names its worker)
  alerts: m(
    'linkwatch.watchdog.alerts',
    'counter',
    '{alert}',
    'Watchdog alerts that fired, by alert name and severity.',
    [ATTR.alertName, ATTR.severity, ATTR.reason],
    { labelValues: 12 },
  ),
  alertActive: m(
    'linkwatch.watchdog.alert.active',
    'gauge',
    '{alert}',
    'Watchdog alerts currently firing, by alert name and severity (1 while firing).',
    [ATTR.alertName, ATTR.severity, ATTR.reason],
    { labelValues: 12 },
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
    [],
    OBSERVED,
  ),
} as const satisfies Record<string, MetricSpec>;

/** Metrics the watchdog's sink records (src/watchdog/otel-sink.ts), not the link instrumentation. */
export const WATCHDOG_METRICS: readonly MetricKey[] = [
  'alerts',
  'alertActive',
  'alertDeliveryFailures',
  'eventLoopDelay',
  'eventLoopBlocks',
  'telemetryExportFailures',
];

/** Series one metric has on a hub with `workers` connected workers (alerts: when every alert fires). */
export function hubSeries(spec: MetricSpec, workers: number): number {
  const perSet = seriesPerLabelSet(spec) * spec.labelValues;
  if (spec.hub === 'per-worker') return perSet * workers;
  return spec.hub === 'hub-wide' ? perSet : 0;
}

/** Series one metric has on a worker process. */
export function workerSeries(spec: MetricSpec): number {
  return spec.worker ? seriesPerLabelSet(spec) * spec.labelValues : 0;
}

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
    description:
      'A data message from send() until the ack frame that covers it arrives (the peer acks once its handler settled, acks coalesced). Its context travels in the frame.',
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
    description:
      "A received message from handler start to completion; child of the producer span. Decided in the around hook: the frame's traceparent flag; a frame without one at the ratio, unless its peer sent a traceparent on this link (then the peer chose not to trace it).",
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
    events: ['linkwatch.queue.timeout'],
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
