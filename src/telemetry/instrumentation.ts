import {
  type Attributes,
  type BatchObservableResult,
  type Counter,
  context,
  createNoopMeter,
  type Histogram,
  type Meter,
  type MeterProvider,
  metrics,
  type Observable,
  ProxyTracerProvider,
  type Span,
  SpanKind,
  SpanStatusCode,
  type Tracer,
  type TracerProvider,
  trace,
} from '@opentelemetry/api';
import type { EventScope, LinkEvent, LinkEventListener, LinkState } from '../link/events.js';
import type { LinkHooks, SendTrace } from '../link/hooks.js';
import type { Session } from '../link/session.js';
import { ATTR, METRICS, type MetricKey, type MetricSpec, SPANS } from './catalog.js';
import { contextFromTraceparent, formatTraceparent } from './traceparent.js';

export const INSTRUMENTATION_NAME = 'linkwatch';
export const INSTRUMENTATION_VERSION = '0.1.0';
/** Counters the watchdog's telemetry records with its own labels; a per-link zero series would mislead. */
const WATCHDOG_COUNTERS = new Set<string>([
  'alerts',
  'alertDeliveryFailures',
  'eventLoopBlocks',
  'telemetryExportFailures',
] satisfies MetricKey[]);

/**
 * Label values seeded at 0 on each link for counters that carry one, so
 * rate() and increase() see the first event. Only the values a healthy
 * deployment will meet; rarer ones start at 1 when they happen.
 */
const DISCONNECT_REASONS = [
  'LW_ERR_HEARTBEAT_TIMEOUT',
  'LW_ERR_CONNECTION_LOST',
  'LW_ERR_TRANSPORT_STALLED',
  'LW_ERR_STALLED',
  'LW_ERR_EVICTED',
  'LW_ERR_SUPERSEDED',
];
const SEEDED_LABELS: Partial<Record<MetricKey, [string, readonly string[]]>> = {
  reconnects: [ATTR.errorType, DISCONNECT_REASONS],
  disconnects: [ATTR.errorType, DISCONNECT_REASONS],
  queueFailed: [ATTR.errorType, ['LW_ERR_HANDLER_TIMEOUT', 'LW_ERR_HANDLER_FAILED']],
  queueDropped: [ATTR.reason, ['shutdown', 'session-expired']],
  outboxDropped: [ATTR.reason, ['drop-oldest', 'drop-newest']],
};

export const LINK_STATES: readonly LinkState[] = ['connecting', 'healthy', 'degraded', 'stalled', 'down'];

/** What telemetry needs from a Hub or a Worker. */
export interface InstrumentTarget {
  readonly hooks: LinkHooks;
  on(listener: LinkEventListener, scope?: EventScope): () => void;
  sessions(): ReadonlyMap<string, Session>;
  linkOf(workerId: string): { silentMs(): number; readonly bufferedAmount: number } | undefined;
}

export interface TelemetryOptions {
  /** @default the global MeterProvider, resolved lazily */
  meterProvider?: MeterProvider;
  /** @default the global TracerProvider, resolved lazily */
  tracerProvider?: TracerProvider;
  /** The watchdog's view of a link; without one, connected links are 'healthy' and others 'down'. */
  stateOf?: (workerId: string) => LinkState | undefined;
  /** `linkwatch.hub.id` for hub-wide series before any worker connects. */
  hubId?: string;
  side: 'hub' | 'worker';
}

type Counters = {
  [K in MetricKey as (typeof METRICS)[K]['instrument'] extends 'counter' ? K : never]: Counter;
};
type Histograms = {
  [K in MetricKey as (typeof METRICS)[K]['instrument'] extends 'histogram' ? K : never]: Histogram;
};
type Gauges = {
  [K in MetricKey as (typeof METRICS)[K]['instrument'] extends 'gauge' ? K : never]: Observable;
};

interface Instruments {
  provider: MeterProvider;
  meter: Meter;
  counters: Counters;
  histograms: Histograms;
  gauges: Gauges;
  dispose(): void;
}

/**
 * Subscribes to a Hub's or Worker's link events and turns them into metrics
 * and spans. Meters and tracers are resolved on use, so an SDK started after
 * this is attached still receives everything. When no SDK is registered the
 * hot path does no attribute work: attribute sets are cached per link and
 * spans are non-recording.
 */
export class LinkTelemetry {
  readonly #target: InstrumentTarget;
  readonly #options: TelemetryOptions;
  readonly #unsubscribe: () => void;
  // Set while an SDK records: the per-message subscription and the span hooks.
  #unsubscribePerMessage: (() => void) | undefined;
  #tracing = false;
  // The meter provider last checked for being the no-op one, and the answer.
  #checkedMeterProvider: MeterProvider | undefined;
  #meterIsNoop = true;
  #instruments: Instruments | undefined;
  #tracerProvider: TracerProvider | undefined;
  #tracer: Tracer | undefined;
  // Base attribute set per worker id, then hub id ('' before the handshake); reused on every data point.
  readonly #attrs = new Map<string, Map<string, Attributes>>();
  // Counters initialised at 0 per link, so rate() works from the first increment.
  readonly #seeded = new Set<string>();
  // Open spans; each map is bounded by what it tracks (links, outbox, queue).
  readonly #heartbeatSpans = new Map<string, Span>();
  readonly #producerSpans = new Map<string, { seq: number; span: Span }[]>();
  readonly #processSpans = new Map<string, Span>();
  readonly #outageSpans = new Map<string, { span: Span; attempts: number }>();
  readonly #handshakeSpans = new Map<string, Span>();
  readonly #lastDisconnect = new Map<string, string>();

  constructor(target: InstrumentTarget, options: TelemetryOptions) {
    this.#target = target;
    this.#options = options;
    this.#unsubscribe = target.on((e) => this.#onLifecycle(e), 'lifecycle');
    this.#ensureInstruments();
    this.#sync();
  }

  /**
   * Per-message work (events, producer and consumer spans) runs only while an
   * SDK records. Checked at every lifecycle event (heartbeats included), so an
   * SDK registered later is picked up within one heartbeat interval.
   */
  #sync(): void {
    const meterProvider = this.#options.meterProvider ?? metrics.getMeterProvider();
    if (meterProvider !== this.#checkedMeterProvider) {
      this.#checkedMeterProvider = meterProvider;
      this.#meterIsNoop = meterProvider.getMeter(INSTRUMENTATION_NAME) === createNoopMeter();
    }
    const tracing = !isNoopTracerProvider(this.#options.tracerProvider ?? trace.getTracerProvider());
    const recording = tracing || !this.#meterIsNoop;
    if (recording && !this.#unsubscribePerMessage) {
      this.#unsubscribePerMessage = this.#target.on((e) => this.#onEvent(e), 'per-message');
    } else if (!recording && this.#unsubscribePerMessage) {
      this.#unsubscribePerMessage();
      this.#unsubscribePerMessage = undefined;
    }
    if (tracing === this.#tracing) return;
    this.#tracing = tracing;
    const hooks = this.#target.hooks;
    if (tracing) {
      hooks.send = (session) => this.#startSend(session);
      hooks.around = (message, _traceparent, fn) => {
        const span = this.#processSpans.get(`${message.workerId}:${message.seq}`);
        return span ? context.with(trace.setSpan(context.active(), span), fn) : fn();
      };
    } else {
      hooks.send = undefined;
      hooks.around = undefined;
    }
  }

  #onLifecycle(e: LinkEvent): void {
    this.#sync();
    // Seed once the series' final label set is known (a worker learns its hub id in the handshake).
    const ins = this.#ensureInstruments();
    if (e.hubId !== undefined)
      this.#seed(ins, `${e.workerId}\u0000${e.hubId}`, this.#base(e.workerId, e.hubId));
    this.#onEvent(e, ins);
  }

  /** Unsubscribes, unregisters gauges and ends open spans. */
  dispose(): void {
    this.#unsubscribe();
    this.#unsubscribePerMessage?.();
    this.#unsubscribePerMessage = undefined;
    this.#tracing = false;
    this.#target.hooks.send = undefined;
    this.#target.hooks.around = undefined;
    this.#instruments?.dispose();
    this.#instruments = undefined;
    for (const span of this.#heartbeatSpans.values()) span.end();
    for (const list of this.#producerSpans.values()) for (const { span } of list) span.end();
    for (const span of this.#processSpans.values()) span.end();
    for (const { span } of this.#outageSpans.values()) span.end();
    for (const span of this.#handshakeSpans.values()) span.end();
    this.#heartbeatSpans.clear();
    this.#producerSpans.clear();
    this.#processSpans.clear();
    this.#outageSpans.clear();
    this.#handshakeSpans.clear();
  }

  #ensureInstruments(): Instruments {
    const provider = this.#options.meterProvider ?? metrics.getMeterProvider();
    if (this.#instruments?.provider === provider) return this.#instruments;
    this.#instruments?.dispose();
    this.#seeded.clear();
    this.#instruments = createInstruments(provider, (r) => this.#observe(r));
    return this.#instruments;
  }

  #getTracer(): Tracer {
    const provider = this.#options.tracerProvider ?? trace.getTracerProvider();
    if (provider !== this.#tracerProvider || !this.#tracer) {
      this.#tracerProvider = provider;
      this.#tracer = provider.getTracer(INSTRUMENTATION_NAME, INSTRUMENTATION_VERSION);
    }
    return this.#tracer;
  }

  #base(workerId: string, hubId: string | undefined): Attributes {
    let byHub = this.#attrs.get(workerId);
    if (!byHub) {
      byHub = new Map();
      this.#attrs.set(workerId, byHub);
    }
    let attrs = byHub.get(hubId ?? '');
    if (!attrs) {
      attrs = { [ATTR.workerId]: workerId, [ATTR.side]: this.#options.side };
      if (hubId) attrs[ATTR.hubId] = hubId;
      byHub.set(hubId ?? '', attrs);
    }
    return attrs;
  }

  #with(base: Attributes, extra: Attributes): Attributes {
    return { ...base, ...extra };
  }

  #seed(ins: Instruments, key: string, base: Attributes): void {
    if (this.#seeded.has(key)) return;
    this.#seeded.add(key);
    for (const [name, counter] of Object.entries(ins.counters)) {
      if (WATCHDOG_COUNTERS.has(name)) continue;
      const labelled = SEEDED_LABELS[name as MetricKey];
      if (!labelled) {
        counter.add(0, base);
        continue;
      }
      // The first event of a label value would start its series at 1, which increase() cannot see.
      const [attr, values] = labelled;
      for (const v of values) counter.add(0, this.#with(base, { [attr]: v }));
    }
  }

  #onEvent(e: LinkEvent, ins = this.#ensureInstruments()): void {
    const c = ins.counters;
    const h = ins.histograms;
    const base = e.workerId === 'unknown' ? this.#hubBase() : this.#base(e.workerId, e.hubId);
    switch (e.type) {
      case 'heartbeat-sent':
        c.heartbeatsSent.add(1, base);
        this.#heartbeatStart(e.workerId, base);
        return;
      case 'heartbeat-received':
        c.heartbeatsReceived.add(1, base);
        return;
      case 'heartbeat-rtt':
        h.heartbeatRtt.record(e.rttMs / 1000, base);
        this.#heartbeatEnd(e.workerId, e.rttMs, undefined);
        return;
      case 'heartbeat-missed':
        c.heartbeatsMissed.add(1, base);
        this.#heartbeatEnd(e.workerId, undefined, 'LW_ERR_HEARTBEAT_MISSED');
        return;
      case 'heartbeat-timeout':
        this.#heartbeatEnd(e.workerId, undefined, 'LW_ERR_HEARTBEAT_TIMEOUT');
        return;
      case 'data-sent':
        if (e.replay) c.messagesReplayed.add(1, base);
        else c.messagesSent.add(1, base);
        c.bytesSent.add(e.bytes, base);
        return;
      case 'data-acked':
        c.messagesAcked.add(e.released, base);
        this.#producerAcked(e.workerId, e.seq);
        return;
      case 'data-received':
        c.messagesReceived.add(1, base);
        c.bytesReceived.add(e.bytes, base);
        return;
      case 'duplicate-dropped':
        c.duplicatesDropped.add(1, base);
        return;
      case 'outbox-dropped':
        c.outboxDropped.add(1, this.#with(base, { [ATTR.reason]: e.reason }));
        this.#producerDropped(e.workerId, e.seq, e.reason);
        return;
      case 'queue-enqueued':
        c.queueEnqueued.add(1, base);
        this.#processStart(e.workerId, e.seq, e.traceparent, base);
        return;
      case 'queue-started':
        c.queueStarted.add(1, base);
        h.queueWait.record(e.waitMs / 1000, base);
        this.#processSpans.get(`${e.workerId}:${e.seq}`)?.addEvent('linkwatch.queue.started', {
          'linkwatch.queue.wait_ms': e.waitMs,
        });
        return;
      case 'queue-completed':
        c.queueCompleted.add(1, base);
        h.queueProcess.record(e.durationMs / 1000, base);
        this.#processEnd(e.workerId, e.seq, undefined);
        return;
      case 'queue-dropped':
        c.queueDropped.add(e.count, this.#with(base, { [ATTR.reason]: e.reason }));
        return;
      case 'queue-failed': {
        const attrs = this.#with(base, { [ATTR.errorType]: e.errorType });
        c.queueFailed.add(1, attrs);
        h.queueProcess.record(e.durationMs / 1000, attrs);
        if (e.errorType === 'LW_ERR_HANDLER_TIMEOUT') c.queueTimeouts.add(1, base);
        this.#processEnd(e.workerId, e.seq, e.errorType);
        return;
      }
      case 'dialing':
        this.#handshakeStart(e.workerId, e.url);
        return;
      case 'connected': {
        c.connects.add(1, base);
        const prior = this.#lastDisconnect.get(e.workerId);
        if (prior !== undefined) c.reconnects.add(1, this.#with(base, { [ATTR.errorType]: prior }));
        if (this.#options.side === 'worker') h.connectDuration.record(e.handshakeMs / 1000, base);
        this.#handshakeEnd(e.workerId, e.hubId, undefined);
        this.#outageEnd(e.workerId);
        return;
      }
      case 'handshake-failed':
        h.connectDuration.record(e.handshakeMs / 1000, this.#with(base, { [ATTR.errorType]: e.errorType }));
        this.#handshakeEnd(e.workerId, undefined, e.errorType);
        return;
      case 'disconnected':
        c.disconnects.add(1, this.#with(base, { [ATTR.errorType]: e.errorType }));
        this.#lastDisconnect.set(e.workerId, e.errorType);
        this.#outageStart(e.workerId, e.errorType, base);
        this.#heartbeatEnd(e.workerId, undefined, e.errorType);
        return;
      case 'reconnect-scheduled':
        h.backoffDelay.record(e.delayMs / 1000, base);
        this.#outageAttempt(e.workerId, e.attempt, e.delayMs, e.url, e.errorType, base);
        return;
      case 'failover':
        c.failovers.add(1, base);
        return;
      case 'frame-rejected':
        c.framesRejected.add(1, this.#with(base, { [ATTR.errorType]: e.errorType }));
        return;
      case 'auth-failed':
        c.authFailures.add(1, this.#with(base, { [ATTR.errorType]: e.errorType }));
        return;
      case 'transport-stalled':
        c.transportStalls.add(1, base);
        return;
      default:
        return;
    }
  }

  #hubBase(): Attributes {
    return this.#base('unknown', this.#options.hubId);
  }

  #observe(r: BatchObservableResult): void {
    const ins = this.#instruments;
    if (!ins) return;
    const g = ins.gauges;
    const now = performance.now();
    r.observe(g.processHeartbeat, Date.now() / 1000, this.#processAttrs());
    for (const [workerId, s] of this.#target.sessions()) {
      const base = this.#base(workerId, s.hubId);
      const link = this.#target.linkOf(workerId);
      const state =
        this.#options.stateOf?.(workerId) ??
        this.#target.hooks.stateOf?.(workerId) ??
        (link ? 'healthy' : 'down');
      for (const st of LINK_STATES)
        r.observe(g.linkState, st === state ? 1 : 0, this.#with(base, { [ATTR.state]: st }));
      r.observe(g.linkUp, link ? 1 : 0, base);
      const heardAt = s.lastHeartbeatAt;
      r.observe(
        g.heartbeatAge,
        link ? link.silentMs() / 1000 : heardAt === undefined ? 0 : (now - heardAt) / 1000,
        base,
      );
      r.observe(g.queueDepth, s.queue.depth, base);
      r.observe(g.queueCapacity, s.queue.capacity, base);
      r.observe(g.queueHung, s.queue.hung, base);
      r.observe(g.outboxMessages, s.outbox.size, base);
      r.observe(g.outboxBytes, s.outbox.bytes, base);
      r.observe(g.outboxOldestAge, s.outbox.oldestAgeMs(now) / 1000, base);
      r.observe(g.outboxBlocked, s.outbox.waiting, base);
      r.observe(g.bufferedBytes, link?.bufferedAmount ?? 0, base);
    }
  }

  #processAttrs(): Attributes {
    if (this.#options.side === 'hub') {
      return { [ATTR.side]: 'hub', ...(this.#options.hubId ? { [ATTR.hubId]: this.#options.hubId } : {}) };
    }
    // Worker id and side only: a hub id would change the series on every failover.
    const [workerId] = [...this.#target.sessions().keys()];
    return this.#base(workerId ?? 'unknown', undefined);
  }

  // Spans

  #heartbeatStart(workerId: string, base: Attributes): void {
    const tracer = this.#getTracer();
    // Still open: no miss was counted for it (a miss ends it first), because data proved the
    // round trip while this heartbeat queued behind it. Not an error.
    this.#heartbeatEnd(workerId, undefined, undefined);
    const span = tracer.startSpan(SPANS.heartbeat.name, { kind: SpanKind.INTERNAL, attributes: base });
    if (span.isRecording()) this.#heartbeatSpans.set(workerId, span);
  }

  #heartbeatEnd(workerId: string, rttMs: number | undefined, errorType: string | undefined): void {
    const span = this.#heartbeatSpans.get(workerId);
    if (!span) return;
    this.#heartbeatSpans.delete(workerId);
    if (rttMs !== undefined) span.setAttribute('linkwatch.heartbeat.rtt_ms', rttMs);
    if (errorType) {
      span.setAttribute(ATTR.errorType, errorType);
      span.setStatus({ code: SpanStatusCode.ERROR, message: errorType });
    }
    span.end();
  }

  #startSend(session: Session): SendTrace | undefined {
    const tracer = this.#getTracer();
    const span = tracer.startSpan(SPANS.send.name, { kind: SpanKind.PRODUCER }, context.active());
    if (!span.isRecording()) return undefined;
    span.setAttributes({
      ...this.#base(session.workerId, session.hubId),
      [ATTR.messagingSystem]: 'linkwatch',
      [ATTR.messagingOperationType]: 'send',
      [ATTR.messagingOperationName]: 'send',
      [ATTR.messagingDestination]: this.#options.side === 'worker' ? 'hub' : 'worker',
    });
    const workerId = session.workerId;
    return {
      traceparent: formatTraceparent(span.spanContext()),
      queued: (seq, status) => {
        span.setAttribute('linkwatch.seq', seq);
        if (status === 'dropped') {
          span.addEvent('linkwatch.dropped', { [ATTR.reason]: 'drop-newest' });
          span.end();
          return;
        }
        const list = this.#producerSpans.get(workerId) ?? [];
        this.#producerSpans.set(workerId, list);
        list.push({ seq, span });
      },
      failed: (error) => {
        const code = (error as { code?: string })?.code ?? 'unknown';
        span.setAttribute(ATTR.errorType, code);
        span.setStatus({ code: SpanStatusCode.ERROR, message: code });
        span.end();
      },
    };
  }

  #producerAcked(workerId: string, seq: number): void {
    const list = this.#producerSpans.get(workerId);
    if (!list) return;
    let i = 0;
    while (i < list.length && list[i]!.seq <= seq) list[i++]!.span.end();
    if (i > 0) list.splice(0, i);
  }

  #producerDropped(workerId: string, seq: number, reason: string): void {
    const list = this.#producerSpans.get(workerId);
    const i = list?.findIndex((p) => p.seq === seq) ?? -1;
    if (!list || i < 0) return;
    const [{ span }] = list.splice(i, 1) as [{ seq: number; span: Span }];
    span.addEvent('linkwatch.dropped', { [ATTR.reason]: reason });
    span.setStatus({ code: SpanStatusCode.ERROR, message: 'dropped' });
    span.end();
  }

  #processStart(workerId: string, seq: number, traceparent: string | undefined, base: Attributes): void {
    const tracer = this.#getTracer();
    const parent = contextFromTraceparent(traceparent);
    const span = tracer.startSpan(SPANS.process.name, { kind: SpanKind.CONSUMER }, parent);
    if (!span.isRecording()) return;
    span.setAttributes({
      ...base,
      [ATTR.messagingSystem]: 'linkwatch',
      [ATTR.messagingOperationType]: 'process',
      [ATTR.messagingOperationName]: 'process',
      'linkwatch.seq': seq,
    });
    span.addEvent('linkwatch.queue.enqueued');
    this.#processSpans.set(`${workerId}:${seq}`, span);
  }

  #processEnd(workerId: string, seq: number, errorType: string | undefined): void {
    const key = `${workerId}:${seq}`;
    const span = this.#processSpans.get(key);
    if (!span) return;
    this.#processSpans.delete(key);
    if (errorType) {
      if (errorType === 'LW_ERR_HANDLER_TIMEOUT') span.addEvent('linkwatch.queue.timeout');
      span.setAttribute(ATTR.errorType, errorType);
      span.setStatus({ code: SpanStatusCode.ERROR, message: errorType });
    }
    span.end();
  }

  #handshakeStart(workerId: string, url: string): void {
    this.#handshakeEnd(workerId, undefined, 'LW_ERR_CONNECT');
    const span = this.#getTracer().startSpan(SPANS.handshake.name, { kind: SpanKind.CLIENT });
    if (!span.isRecording()) return;
    let address: string | undefined;
    let port: number | undefined;
    try {
      const u = new URL(url);
      address = u.hostname;
      port = Number(u.port || (u.protocol === 'wss:' ? 443 : 80));
    } catch {}
    span.setAttributes({
      [ATTR.workerId]: workerId,
      ...(address ? { [ATTR.serverAddress]: address, [ATTR.serverPort]: port } : {}),
    });
    this.#handshakeSpans.set(workerId, span);
  }

  #handshakeEnd(workerId: string, hubId: string | undefined, errorType: string | undefined): void {
    const span = this.#handshakeSpans.get(workerId);
    if (!span) return;
    this.#handshakeSpans.delete(workerId);
    if (hubId) span.setAttribute(ATTR.hubId, hubId);
    if (errorType) {
      span.setAttribute(ATTR.errorType, errorType);
      span.setStatus({ code: SpanStatusCode.ERROR, message: errorType });
    }
    span.end();
  }

  #outageStart(workerId: string, errorType: string, base: Attributes): void {
    if (this.#outageSpans.has(workerId)) return;
    const span = this.#getTracer().startSpan(SPANS.outage.name, {
      kind: SpanKind.INTERNAL,
      attributes: { ...base, [ATTR.errorType]: errorType },
    });
    if (span.isRecording()) this.#outageSpans.set(workerId, { span, attempts: 0 });
  }

  #outageAttempt(
    workerId: string,
    attempt: number,
    delayMs: number,
    url: string,
    errorType: string,
    base: Attributes,
  ): void {
    // A first dial that fails also opens an outage.
    if (!this.#outageSpans.has(workerId)) this.#outageStart(workerId, errorType, base);
    const o = this.#outageSpans.get(workerId);
    if (!o) return;
    o.attempts = attempt;
    o.span.addEvent('linkwatch.reconnect.attempt', {
      'linkwatch.attempt': attempt,
      'linkwatch.backoff.delay_ms': delayMs,
      [ATTR.urlFull]: url,
      [ATTR.errorType]: errorType,
    });
  }

  #outageEnd(workerId: string): void {
    const o = this.#outageSpans.get(workerId);
    if (!o) return;
    this.#outageSpans.delete(workerId);
    o.span.setAttribute('linkwatch.outage.attempts', o.attempts);
    o.span.end();
  }
}

// The delegate a ProxyTracerProvider has while no SDK is registered.
const NOOP_TRACER_PROVIDER = new ProxyTracerProvider().getDelegate();

function isNoopTracerProvider(provider: TracerProvider): boolean {
  const delegate = provider instanceof ProxyTracerProvider ? provider.getDelegate() : provider;
  return delegate === NOOP_TRACER_PROVIDER;
}

function createInstruments(
  provider: MeterProvider,
  observe: (r: BatchObservableResult) => void,
): Instruments {
  const meter = provider.getMeter(INSTRUMENTATION_NAME, INSTRUMENTATION_VERSION);
  const counters: Record<string, Counter> = {};
  const histograms: Record<string, Histogram> = {};
  const gauges: Record<string, Observable> = {};
  for (const [key, spec] of Object.entries(METRICS) as [string, MetricSpec][]) {
    const opts = { unit: spec.unit, description: spec.description };
    if (spec.instrument === 'counter') counters[key] = meter.createCounter(spec.name, opts);
    else if (spec.instrument === 'histogram') {
      histograms[key] = meter.createHistogram(spec.name, {
        ...opts,
        advice: { explicitBucketBoundaries: [...(spec.buckets ?? [])] },
      });
    } else gauges[key] = meter.createObservableGauge(spec.name, opts);
  }
  const observables = Object.values(gauges);
  meter.addBatchObservableCallback(observe, observables);
  return {
    provider,
    meter,
    counters: counters as Counters,
    histograms: histograms as Histograms,
    gauges: gauges as Gauges,
    dispose: () => meter.removeBatchObservableCallback(observe, observables),
  };
}

/** Attaches telemetry to a Hub or a Worker; call `dispose()` to detach. */
export function instrument(target: InstrumentTarget, options: TelemetryOptions): LinkTelemetry {
  return new LinkTelemetry(target, options);
}
