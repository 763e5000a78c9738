import {
  type Attributes,
  type MeterProvider,
  metrics,
  type Tracer,
  type TracerProvider,
  trace,
} from '@opentelemetry/api';
import type { LinkEvent, LinkState } from '../link/events.js';
import type { LinkSource } from '../link/view.js';
import { MESSAGE_HISTOGRAM_BURST_EVERY_MS, METRICS, type MetricKey } from './catalog.js';
import {
  createInstruments,
  INSTRUMENTATION_NAME,
  INSTRUMENTATION_VERSION,
  type Instruments,
  isNoopMeterProvider,
  isNoopTracerProvider,
  LinkAttributes,
} from './instruments.js';
import { type Emit, LinkMetrics, type MetricsSource } from './link-metrics.js';
import {
  DEFAULT_MAX_MESSAGE_TRACES_PER_SECOND,
  DEFAULT_SLOW_HEARTBEAT_MS,
  DEFAULT_TRACE_SAMPLE_RATIO,
  LinkSpans,
} from './link-spans.js';
import { OwnHistogram } from './own-histogram.js';

export type { Emit, MetricsSource };
export {
  DEFAULT_MAX_MESSAGE_TRACES_PER_SECOND,
  DEFAULT_SLOW_HEARTBEAT_MS,
  DEFAULT_TRACE_SAMPLE_RATIO,
  INSTRUMENTATION_NAME,
  INSTRUMENTATION_VERSION,
};

/**
 * A histogram burst listens to per-message events until its messages have
 * completed in the work queue. A process that only sends (the usual worker)
 * completes none, so the burst never ends; the subscription therefore closes
 * after this many per-message events of any kind, and opens again at most
 * once per MESSAGE_HISTOGRAM_BURST_EVERY_MS. Before, such a worker built an
 * event object for every message it sent, for ever.
 */
export const PER_MESSAGE_WINDOW_EVENTS = 256;

export const LINK_STATES: readonly LinkState[] = ['connecting', 'healthy', 'degraded', 'stalled', 'down'];

/** What telemetry needs from a Hub or a Worker: the read-only LinkSource, plus a hub's totals. */
export interface InstrumentTarget extends MetricsSource, Pick<LinkSource, 'on' | 'hooks'> {}

/**
 * Where observed link metrics go instead of observable instruments: the
 * CLI's metric producer, which makes a fresh set of points per collection,
 * so a forgotten worker's series vanish (the SDK keeps every attribute set
 * an observable instrument ever reported) and no point is hashed.
 */
export interface ObservedMetricsSink {
  /** `observe` emits every point; it may pause (yield) between slices of workers. */
  add(observe: (emit: Emit) => Generator<void>): () => void;
  /**
   * A histogram linkwatch keeps itself (a hub's heartbeat RTT), read at each
   * collection with these attributes. Optional: without it the SDK's
   * histogram records, as it does without a sink.
   */
  addHistogram?(key: MetricKey, histogram: OwnHistogram, attributes: Attributes): () => void;
}

export interface TelemetryOptions {
  /** @default the global MeterProvider, resolved lazily */
  meterProvider?: MeterProvider;
  /** @default the global TracerProvider, resolved lazily */
  tracerProvider?: TracerProvider;
  /** The watchdog's view of a link; without one, connected links are 'healthy' and others 'down'. */
  stateOf?: (workerId: string) => LinkState | undefined;
  /** `linkwatch.hub.id` of the hub-wide series. */
  hubId?: string;
  side: 'hub' | 'worker';
  /**
   * Share of messages (producer and consumer spans) and of healthy
   * heartbeats traced; anomalous heartbeats, handshakes and outages always
   * are, and a sampled parent (caller's context, frame's traceparent) wins.
   * @default 0.01
   */
  traceSampleRatio?: number;
  /**
   * At most this many messages a second get producer or consumer spans, per
   * instrumented Hub or Worker, whatever the ratio (a sampled parent too).
   * @default 100
   */
  maxMessageTracesPerSecond?: number;
  /** A heartbeat round trip at least this slow is always traced, ms. @default 250 */
  slowHeartbeatMs?: number;
  /** Observed metrics go here instead of to observable instruments (see ObservedMetricsSink). */
  observedMetrics?: ObservedMetricsSink;
}

function ratioOption(value: unknown): number {
  if (value === undefined) return DEFAULT_TRACE_SAMPLE_RATIO;
  if (typeof value !== 'number' || !(value >= 0 && value <= 1))
    throw new TypeError(`Expected \`traceSampleRatio\` to be a number from 0 to 1, got ${String(value)}`);
  return value;
}

function perSecondOption(value: unknown): number {
  if (value === undefined) return DEFAULT_MAX_MESSAGE_TRACES_PER_SECOND;
  if (typeof value !== 'number' || !(value >= 0) || !Number.isFinite(value))
    throw new TypeError(
      `Expected \`maxMessageTracesPerSecond\` to be a finite number >= 0, got ${String(value)}`,
    );
  return value;
}

function slowOption(value: unknown): number {
  if (value === undefined) return DEFAULT_SLOW_HEARTBEAT_MS;
  if (typeof value !== 'number' || !(value >= 0) || !Number.isFinite(value))
    throw new TypeError(`Expected \`slowHeartbeatMs\` to be a finite number >= 0, got ${String(value)}`);
  return value;
}

/**
 * Subscribes to a Hub's or Worker's link events and turns them into metrics
 * (link-metrics.ts) and spans (link-spans.ts). Meters and tracers are
 * resolved on use, so an SDK started after this is attached still receives
 * everything. Per-message events are subscribed to only in short bursts,
 * for the queue histograms.
 */
export class LinkTelemetry {
  readonly #target: InstrumentTarget;
  readonly #options: TelemetryOptions;
  readonly #metrics: LinkMetrics;
  readonly #spans: LinkSpans;
  readonly #unsubscribe: () => void;
  #removeObserved: (() => void) | undefined;
  // A hub's heartbeat RTT histogram, kept here when the sink takes it (see OwnHistogram).
  readonly #ownRtt: OwnHistogram | undefined;
  #removeOwnRtt: (() => void) | undefined;
  // Set while an SDK records: the per-message subscription and the span hooks.
  #unsubscribePerMessage: (() => void) | undefined;
  // Removes this instance's span hooks (and only them) while tracing is on.
  #removeHooks: (() => void) | undefined;
  #tracing = false;
  // A histogram burst is recording (LinkMetrics.burst).
  #metricsBurst = false;
  // The per-message subscription's window: events left, and when it opened.
  #windowLeft = 0;
  #windowAt = Number.NEGATIVE_INFINITY;
  // The meter provider last checked for being the no-op one, and the answer.
  #checkedMeterProvider: MeterProvider | undefined;
  #meterIsNoop = true;
  #instruments: Instruments | undefined;
  #tracerProvider: TracerProvider | undefined;
  #tracer: Tracer | undefined;

  constructor(target: InstrumentTarget, options: TelemetryOptions) {
    if (options.side !== 'hub' && options.side !== 'worker')
      throw new TypeError(`Expected \`side\` to be 'hub' or 'worker', got ${String(options.side)}`);
    this.#target = target;
    this.#options = options;
    const attrs = new LinkAttributes(options.side, options.hubId);
    const stateOf = (id: string) => options.stateOf?.(id) ?? target.hooks.stateOf?.(id);
    const sink = options.observedMetrics;
    if (options.side === 'hub' && sink?.addHistogram) {
      this.#ownRtt = new OwnHistogram(METRICS.heartbeatRtt.buckets ?? []);
      this.#removeOwnRtt = sink.addHistogram('heartbeatRtt', this.#ownRtt, attrs.hub());
    }
    this.#metrics = new LinkMetrics(options.side, attrs, target, stateOf, this.#ownRtt);
    this.#spans = new LinkSpans(
      options.side,
      attrs,
      () => this.#getTracer(),
      ratioOption(options.traceSampleRatio),
      slowOption(options.slowHeartbeatMs),
      options.hubId,
      (id) => target.sessions().get(id),
      perSecondOption(options.maxMessageTracesPerSecond),
    );
    this.#removeObserved = options.observedMetrics?.add((emit) => this.#metrics.observeInSlices(emit));
    this.#unsubscribe = target.on((e) => this.#onLifecycle(e), 'lifecycle');
    this.#ensureInstruments();
    this.#sync();
    const now = performance.now();
    this.#metricsBurst = !this.#meterIsNoop && this.#metrics.burst(now);
    this.#subscribePerMessage(now);
  }

  /**
   * Which providers record, checked at every lifecycle event (heartbeats
   * included), so an SDK registered later is picked up within one heartbeat
   * interval. Tracing installs the send and around hooks.
   */
  #sync(): void {
    const meterProvider = this.#options.meterProvider ?? metrics.getMeterProvider();
    if (meterProvider !== this.#checkedMeterProvider) {
      this.#checkedMeterProvider = meterProvider;
      this.#meterIsNoop = isNoopMeterProvider(meterProvider);
    }
    const tracing = !isNoopTracerProvider(this.#options.tracerProvider ?? trace.getTracerProvider());
    if (tracing === this.#tracing) return;
    this.#tracing = tracing;
    this.#removeHooks?.();
    this.#removeHooks = tracing
      ? this.#target.hooks.add({
          send: this.#spans.send,
          around: this.#spans.around,
          acked: this.#spans.acked,
        })
      : undefined;
  }

  /**
   * Per-message events make the core build an object per message and
   * event, so they are listened to only during a histogram burst, for at
   * most PER_MESSAGE_WINDOW_EVENTS events a window and one window per
   * MESSAGE_HISTOGRAM_BURST_EVERY_MS; spans need none (see LinkSpans).
   */
  #subscribePerMessage(now: number): void {
    if (this.#unsubscribePerMessage) {
      if (this.#metricsBurst && this.#windowLeft > 0) return;
      this.#unsubscribePerMessage();
      this.#unsubscribePerMessage = undefined;
    } else if (this.#metricsBurst && now - this.#windowAt >= MESSAGE_HISTOGRAM_BURST_EVERY_MS) {
      this.#windowLeft = PER_MESSAGE_WINDOW_EVENTS;
      this.#windowAt = now;
      this.#unsubscribePerMessage = this.#target.on((e) => this.#onMessage(e), 'per-message');
    }
  }

  #onLifecycle(e: LinkEvent): void {
    this.#sync();
    this.#metrics.onEvent(this.#ensureInstruments(), e);
    if (this.#tracing) this.#spans.onEvent(e);
    this.#metricsBurst = !this.#meterIsNoop && this.#metrics.burst(e.at);
    this.#subscribePerMessage(e.at);
  }

  #onMessage(e: LinkEvent): void {
    this.#windowLeft--;
    if (this.#metricsBurst) {
      this.#metrics.onMessage(this.#ensureInstruments(), e);
      this.#metricsBurst = this.#metrics.burst(e.at);
    }
    if (this.#tracing) this.#spans.onEvent(e);
    this.#subscribePerMessage(e.at);
  }

  /** Unsubscribes, unregisters observers and ends open spans. */
  dispose(): void {
    this.#unsubscribe();
    this.#unsubscribePerMessage?.();
    this.#unsubscribePerMessage = undefined;
    this.#removeObserved?.();
    this.#removeObserved = undefined;
    this.#removeOwnRtt?.();
    this.#removeOwnRtt = undefined;
    this.#tracing = false;
    this.#removeHooks?.();
    this.#removeHooks = undefined;
    this.#instruments?.dispose();
    this.#instruments = undefined;
    this.#spans.dispose();
  }

  #ensureInstruments(): Instruments {
    const provider = this.#options.meterProvider ?? metrics.getMeterProvider();
    if (this.#instruments?.provider === provider) return this.#instruments;
    this.#instruments?.dispose();
    const ins: Instruments = createInstruments(
      provider,
      this.#options.side,
      (r) => {
        // With a sink, the observed points go there; the instruments stay empty.
        if (this.#removeObserved) return;
        this.#metrics.observe((key, value, attrs) => {
          const o = ins.observables[key];
          if (o) r.observe(o, value, attrs);
        });
      },
      // The sink exports the hub's own RTT histogram; an SDK one of the same name would clash.
      this.#ownRtt ? ['heartbeatRtt'] : [],
    );
    this.#instruments = ins;
    this.#metrics.reset(ins);
    return ins;
  }

  #getTracer(): Tracer {
    const provider = this.#options.tracerProvider ?? trace.getTracerProvider();
    if (provider !== this.#tracerProvider || !this.#tracer) {
      this.#tracerProvider = provider;
      this.#tracer = provider.getTracer(INSTRUMENTATION_NAME, INSTRUMENTATION_VERSION);
    }
    return this.#tracer;
  }
}

/** Attaches telemetry to a Hub or a Worker; call `dispose()` to detach. */
export function instrument(target: InstrumentTarget, options: TelemetryOptions): LinkTelemetry {
  return new LinkTelemetry(target, options);
}
