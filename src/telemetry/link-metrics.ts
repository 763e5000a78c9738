import type { Attributes } from '@opentelemetry/api';
import type { LinkEvent, LinkState, Side } from '../link/events.js';
import { newSessionCounters, type SessionCounters } from '../link/session.js';
import type { LinkView, SessionView } from '../link/view.js';
import {
  ATTR,
  MESSAGE_HISTOGRAM_BURST,
  MESSAGE_HISTOGRAM_BURST_EVERY_MS,
  METRICS,
  type MetricKey,
} from './catalog.js';
import type { Instruments, LinkAttributes } from './instruments.js';
import type { OwnHistogram } from './own-histogram.js';

/** What link metrics read from a Hub or a Worker at collection time. */
export interface MetricsSource {
  sessions(): ReadonlyMap<string, SessionView>;
  linkOf(workerId: string): Pick<LinkView, 'silentMs' | 'bufferedAmount'> | undefined;
  /** A hub's counters over every session it had, forgotten ones included (monotonic). */
  totals?(): SessionCounters;
}

/** Workers observed between two pauses of observeInSlices(). */
const SLICE = 1_000;

/** One observed data point: metric, value, attributes. */
export type Emit = (key: MetricKey, value: number, attrs: Attributes) => void;

/**
 * Label values seeded at 0 so rate() and increase() see the first event.
 * Only the values a healthy deployment meets; rarer ones start at 1.
 */
const DISCONNECT_TYPES = [
  'LW_ERR_HEARTBEAT_TIMEOUT',
  'LW_ERR_CONNECTION_LOST',
  'LW_ERR_TRANSPORT_STALLED',
  'LW_ERR_STALLED',
  'LW_ERR_EVICTED',
  'LW_ERR_SUPERSEDED',
];
const SEEDED: Partial<Record<MetricKey, [string, readonly string[]]>> = {
  reconnects: [ATTR.errorType, DISCONNECT_TYPES],
  disconnects: [ATTR.errorType, DISCONNECT_TYPES],
  queueDropped: [ATTR.reason, ['shutdown', 'session-expired']],
  outboxDropped: [ATTR.reason, ['drop-oldest', 'drop-newest']],
  connectionsRefused: [
    ATTR.errorType,
    ['LW_ERR_BUSY', 'LW_ERR_CONNECTION_LIMIT', 'LW_ERR_REQUEST_TIMEOUT', 'LW_ERR_HANDSHAKE_TIMEOUT'],
  ],
};

/**
 * Link metrics: per event for what happens rarely (connects, rejections,
 * round trips), at collection time for what the core counts anyway. A hub
 * keeps per worker only the series of METRICS entries marked `per-worker`;
 * its event counters and histograms are hub-wide, so nothing a peer sends,
 * before or after authenticating, makes a hub grow a series.
 */
export class LinkMetrics {
  readonly #side: Side;
  readonly #attrs: LinkAttributes;
  readonly #source: MetricsSource;
  readonly #stateOf: (workerId: string) => LinkState | undefined;
  // Worker links whose counters were seeded, as `workerId\0hubId` (a worker process has one or a few).
  readonly #seeded = new Set<string>();
  #hubSeeded = false;
  // The error.type of a worker's last disconnect, for its reconnect counter.
  readonly #lastDisconnect = new Map<string, string>();
  // Messages left to record in the current histogram burst, and when it began.
  #burstLeft = 0;
  #burstAt = Number.NEGATIVE_INFINITY;
  readonly #ownRtt: OwnHistogram | undefined; // a hub's heartbeat RTT, when not the SDK's
  constructor(
    side: Side,
    attrs: LinkAttributes,
    source: MetricsSource,
    stateOf: (workerId: string) => LinkState | undefined,
    ownRtt?: OwnHistogram,
  ) {
    this.#ownRtt = ownRtt;
    this.#side = side;
    this.#attrs = attrs;
    this.#source = source;
    this.#stateOf = stateOf;
  }

  /** Event-counted series carry the worker's link on a worker, the hub as a whole on a hub. */
  #eventAttrs(e: LinkEvent): Attributes {
    return this.#side === 'hub' ? this.#attrs.hub() : this.#attrs.base(e.workerId, e.hubId);
  }

  /** New instruments (a new provider): seed again; a hub's hub-wide series at once. */
  reset(ins: Instruments): void {
    this.#seeded.clear();
    this.#hubSeeded = false;
    if (this.#side === 'hub') this.#seed(ins, undefined, this.#attrs.hub());
  }

  #seed(ins: Instruments, e: LinkEvent | undefined, base: Attributes): void {
    if (this.#side === 'hub') {
      if (this.#hubSeeded) return;
      this.#hubSeeded = true;
    } else {
      // Seed once the series' final label set is known (a worker learns its hub id in the handshake).
      if (e?.hubId === undefined) return;
      const key = `${e.workerId}\u0000${e.hubId}`;
      if (this.#seeded.has(key)) return;
      this.#seeded.add(key);
    }
    for (const [key, counter] of Object.entries(ins.counters) as [
      MetricKey,
      NonNullable<Instruments['counters'][MetricKey]>,
    ][]) {
      const labelled = SEEDED[key];
      if (!labelled) {
        counter.add(0, base);
        continue;
      }
      // The first event of a label value would start its series at 1, which increase() cannot see.
      const [attr, values] = labelled;
      for (const v of values) counter.add(0, this.#attrs.with(base, attr, v));
    }
  }

  /** A lifecycle event. */
  onEvent(ins: Instruments, e: LinkEvent): void {
    const c = ins.counters;
    const h = ins.histograms;
    const base = this.#eventAttrs(e);
    this.#seed(ins, e, base);
    switch (e.type) {
      case 'heartbeat-rtt':
        if (this.#ownRtt) this.#ownRtt.record(e.rttMs / 1000);
        else h.heartbeatRtt?.record(e.rttMs / 1000, base);
        return;
      case 'queue-failed':
        // Every failure: rare, and the failing ones are what the histogram is read for.
        h.queueProcess?.record(e.durationMs / 1000, this.#attrs.with(base, ATTR.errorType, e.errorType));
        return;
      case 'queue-dropped':
        c.queueDropped?.add(e.count, this.#attrs.with(base, ATTR.reason, e.reason));
        return;
      case 'outbox-dropped':
        c.outboxDropped?.add(1, this.#attrs.with(base, ATTR.reason, e.reason));
        return;
      case 'connected': {
        c.connects?.add(1, base);
        const prior = this.#lastDisconnect.get(e.workerId);
        if (prior !== undefined && c.reconnects)
          c.reconnects.add(1, this.#attrs.with(base, ATTR.errorType, prior));
        h.connectDuration?.record(e.handshakeMs / 1000, base);
        return;
      }
      case 'handshake-failed':
        // A hub's is an upgraded socket that sent no hello in time: turned away, hub-wide.
        if (this.#side === 'hub')
          c.connectionsRefused?.add(1, this.#attrs.with(base, ATTR.errorType, e.errorType));
        else
          h.connectDuration?.record(
            e.handshakeMs / 1000,
            this.#attrs.with(base, ATTR.errorType, e.errorType),
          );
        return;
      case 'connection-refused':
        c.connectionsRefused?.add(1, this.#attrs.with(this.#attrs.hub(), ATTR.errorType, e.errorType));
        return;
      case 'checkpoint-failed':
        c.checkpointFailures?.add(1, this.#attrs.with(base, ATTR.errorType, e.errorType));
        return;
      case 'disconnected':
        c.disconnects?.add(1, this.#attrs.with(base, ATTR.errorType, e.errorType));
        if (this.#side === 'worker') this.#lastDisconnect.set(e.workerId, e.errorType);
        return;
      case 'reconnect-scheduled':
        h.backoffDelay?.record(e.delayMs / 1000, base);
        return;
      case 'failover':
        c.failovers?.add(1, base);
        return;
      case 'frame-rejected':
        c.framesRejected?.add(1, this.#attrs.with(base, ATTR.errorType, e.errorType));
        return;
      case 'auth-failed':
        // Hub-wide whatever the event says: the caller is not authenticated.
        c.authFailures?.add(1, this.#attrs.with(this.#attrs.hub(), ATTR.errorType, e.errorType));
        return;
      case 'transport-stalled':
        c.transportStalls?.add(1, base);
        return;
      default:
        return;
    }
  }

  /** Starts a histogram burst if one is due; true while one runs (per-message events are then wanted). */
  burst(now: number): boolean {
    if (this.#burstLeft === 0 && now - this.#burstAt >= MESSAGE_HISTOGRAM_BURST_EVERY_MS) {
      this.#burstLeft = MESSAGE_HISTOGRAM_BURST;
      this.#burstAt = now;
    }
    return this.#burstLeft > 0;
  }

  /** A per-message event during a burst: its queue wait or handler time. */
  onMessage(ins: Instruments, e: LinkEvent): void {
    if (this.#burstLeft === 0) return;
    if (e.type === 'queue-started') ins.histograms.queueWait?.record(e.waitMs / 1000, this.#eventAttrs(e));
    else if (e.type === 'queue-completed') {
      ins.histograms.queueProcess?.record(e.durationMs / 1000, this.#eventAttrs(e));
      this.#burstLeft--;
    }
  }

  /** Every observed data point, as of now. */
  observe(emit: Emit): void {
    const pass = this.observeInSlices(emit);
    for (let step = pass.next(); !step.done; step = pass.next());
  }

  /**
   * The same, pausing after every SLICE workers so a caller can yield to the
   * event loop between slices (a 10,000-worker hub's scrape).
   */
  *observeInSlices(emit: Emit): Generator<void> {
    const sessions = this.#source.sessions();
    this.#attrs.prune(sessions);
    if (this.#side === 'hub') yield* this.#observeHub(emit, sessions);
    else for (const [workerId, s] of sessions) this.#observeWorker(emit, workerId, s);
  }

  #linkGauges(emit: Emit, workerId: string, s: SessionView, base: Attributes, now: number): void {
    const link = this.#source.linkOf(workerId);
    const state = this.#stateOf(workerId) ?? (link ? 'healthy' : 'down');
    emit('linkState', 1, this.#attrs.with(base, ATTR.state, state));
    emit('linkUp', link ? 1 : 0, base);
    const heardAt = s.lastHeartbeatAt;
    emit(
      'heartbeatAge',
      link ? link.silentMs() / 1000 : heardAt === undefined ? 0 : (now - heardAt) / 1000,
      base,
    );
    emit('queueDepth', s.queue.depth, base);
    emit('queueHung', s.queue.hung, base);
    const c = s.counters;
    emit('queueCompleted', c.processed, base);
    emit(
      'queueFailed',
      c.failed - c.timedOut,
      this.#attrs.with(base, ATTR.errorType, 'LW_ERR_HANDLER_FAILED'),
    );
    emit('queueFailed', c.timedOut, this.#attrs.with(base, ATTR.errorType, 'LW_ERR_HANDLER_TIMEOUT'));
  }

  #observeWorker(emit: Emit, workerId: string, s: SessionView): void {
    const now = performance.now();
    const base = this.#attrs.base(workerId, s.hubId);
    this.#linkGauges(emit, workerId, s, base, now);
    emitCounters(emit, s.counters, base);
    emit('queueCapacity', s.queue.capacity, base);
    emit('outboxMessages', s.outbox.size, base);
    emit('outboxBytes', s.outbox.bytes, base);
    emit('outboxOldestAge', s.outbox.oldestAgeMs(now) / 1000, base);
    emit('outboxBlocked', s.outbox.waiting, base);
    emit('bufferedBytes', this.#source.linkOf(workerId)?.bufferedAmount ?? 0, base);
    // Worker id and side only: a hub id would change the series on every failover.
    emit('processHeartbeat', Date.now() / 1000, this.#attrs.base(workerId, undefined));
  }

  *#observeHub(emit: Emit, sessions: ReadonlyMap<string, SessionView>): Generator<void> {
    const now = performance.now();
    const hub = this.#attrs.hub();
    let capacity = 0;
    let outboxMessages = 0;
    let outboxBytes = 0;
    let oldestMs = 0;
    let waiting = 0;
    let buffered = 0;
    let n = 0;
    for (const [workerId, s] of sessions) {
      if (++n % SLICE === 0) yield;
      this.#linkGauges(
        emit,
        workerId,
        s,
        this.#attrs.base(workerId, s.hubId ?? (hub[ATTR.hubId] as string)),
        now,
      );
      capacity = Math.max(capacity, s.queue.capacity);
      outboxMessages += s.outbox.size;
      outboxBytes += s.outbox.bytes;
      if (s.outbox.size > 0) oldestMs = Math.max(oldestMs, s.outbox.oldestAgeMs(now));
      waiting += s.outbox.waiting;
      buffered = Math.max(buffered, this.#source.linkOf(workerId)?.bufferedAmount ?? 0);
    }
    emitCounters(emit, this.#source.totals?.() ?? sum(sessions), hub);
    if (capacity > 0) emit('queueCapacity', capacity, hub);
    emit('outboxMessages', outboxMessages, hub);
    emit('outboxBytes', outboxBytes, hub);
    emit('outboxOldestAge', oldestMs / 1000, hub);
    emit('outboxBlocked', waiting, hub);
    emit('bufferedBytes', buffered, hub);
    emit('processHeartbeat', Date.now() / 1000, hub);
  }
}

/** The observed counters that are not per worker on a hub. */
function emitCounters(emit: Emit, c: SessionCounters, attrs: Attributes): void {
  emit('heartbeatsSent', c.heartbeatsSent, attrs);
  emit('heartbeatsReceived', c.heartbeatsReceived, attrs);
  emit('heartbeatsMissed', c.heartbeatsMissed, attrs);
  emit('queueTimeouts', c.timedOut, attrs);
  emit('messagesSent', c.sent, attrs);
  emit('messagesAcked', c.acked, attrs);
  emit('messagesReplayed', c.replayed, attrs);
  emit('messagesReceived', c.received, attrs);
  emit('duplicatesDropped', c.duplicates, attrs);
  emit('bytesSent', c.bytesSent, attrs);
  emit('bytesReceived', c.bytesReceived, attrs);
}

function sum(sessions: ReadonlyMap<string, SessionView>): SessionCounters {
  const total = newSessionCounters();
  for (const s of sessions.values())
    for (const k of Object.keys(total) as (keyof SessionCounters)[]) total[k] += s.counters[k];
  return total;
}

/** Every metric key LinkMetrics.observe() emits, for adapters that need them up front. */
export const OBSERVED_KEYS = (Object.keys(METRICS) as MetricKey[]).filter((k) => METRICS[k].observed);
