import {
  type Attributes,
  type BatchObservableResult,
  type Counter,
  type MeterProvider,
  metrics,
  type Observable,
  SpanKind,
  type TracerProvider,
  trace,
} from '@opentelemetry/api';
import type { Logger } from '../log/logger.js';
import { ATTR, METRICS, type MetricKey } from '../telemetry/catalog.js';
import { ALERT_SPECS, type Alert, type AlertSink } from './alerts.js';

/**
 * The instrumentation scope of the watchdog's meter and tracer: the same as
 * the link telemetry's (a unit test keeps them equal), declared here so the
 * watchdog does not load the link instrumentation for two strings.
 */
export const WATCHDOG_SCOPE = { name: 'linkwatch', version: '0.1.0' } as const;

/**
 * The CLI's producer of observed metrics (ObservedMetricsSink of the link
 * instrumentation, declared here by shape: the watchdog does not load it).
 */
export interface ObservedAlertsSink {
  add(
    observe: (emit: (key: MetricKey, value: number, attrs: Attributes) => void) => Generator<void>,
  ): () => void;
}

/** Alert series observed between two pauses (yields) of a scrape. */
const ALERTS_PER_SLICE = 1_000;
/** A resolved alert's count stays this long, then its series goes (the hub's default session TTL). */
export const ALERT_COUNT_TTL_MS = 10 * 60_000;

export interface WatchdogTelemetryOptions {
  meterProvider?: MeterProvider;
  tracerProvider?: TracerProvider;
  logger?: Logger;
  /** Where the event-loop numbers come from (the watchdog's sentinel). */
  eventLoop?: { delayMs(): number; blocks(): number };
  /** Failed telemetry exports are counted from here. */
  exportHealth?: { onFailure: Set<() => void> };
  base?: Attributes;
  // A hub in a mass outage has one or two alert series per worker (20,000 at 10,000 workers), which
  // the SDK would hash at every collection, serialize in one call and keep for good. Through the sink
  // they are rendered in slices that yield, and a resolved alert's count goes after ALERT_COUNT_TTL_MS.
  /** Where the alert series go instead of SDK instruments (the CLI passes its producer; docs/telemetry.md). */
  observedMetrics?: ObservedAlertsSink;
}

interface Instruments {
  provider: MeterProvider;
  /** Undefined with an observed sink: the alert series go there. */
  alerts: Counter | undefined;
  deliveryFailures: Counter;
  exportFailures: Counter;
  blocks: Counter;
  active: Observable | undefined;
  delay: Observable;
  dispose(): void;
}

/** Times an alert (reason and link) fired; `resolvedAt` set while it is not firing. */
interface FiredCount {
  attrs: Attributes;
  count: number;
  resolvedAt: number | undefined;
  /** One of the process's zero series, kept for good. */
  seed: boolean;
}

function countKey(reason: string, attributes: Attributes): string {
  return `${reason}|${attributes[ATTR.workerId] ?? ''}`;
}

/**
 * The OTel sink of the watchdog: an alerts counter, an active-alerts gauge,
 * a log record and a span event per alert, plus event-loop and delivery
 * metrics. Providers are resolved lazily like the link instrumentation.
 */
export class WatchdogTelemetry implements AlertSink {
  readonly #o: WatchdogTelemetryOptions;
  // Firing alerts' attributes, by alert name and worker.
  readonly #active = new Map<string, Attributes>();
  // With an observed sink: counts by countKey(), seeded at 0 per alert of this process.
  readonly #fired = new Map<string, FiredCount>();
  #removeObserved: (() => void) | undefined;
  #ins: Instruments | undefined;
  #blocksSeen = 0;
  readonly #onExportFailure = () => this.#instruments().exportFailures.add(1, this.#o.base ?? {});

  constructor(options: WatchdogTelemetryOptions = {}) {
    this.#o = options;
    options.exportHealth?.onFailure.add(this.#onExportFailure);
    this.#removeObserved = options.observedMetrics?.add((emit) => this.#observeAlerts(emit));
    this.#instruments();
  }

  #instruments(): Instruments {
    const provider = this.#o.meterProvider ?? metrics.getMeterProvider();
    if (this.#ins?.provider === provider) return this.#ins;
    this.#ins?.dispose();
    const meter = provider.getMeter(WATCHDOG_SCOPE.name, WATCHDOG_SCOPE.version);
    const opts = (k: keyof typeof METRICS) => ({
      unit: METRICS[k].unit,
      description: METRICS[k].description,
    });
    const observed = this.#removeObserved !== undefined;
    const active = observed
      ? undefined
      : meter.createObservableGauge(METRICS.alertActive.name, opts('alertActive'));
    const delay = meter.createObservableGauge(METRICS.eventLoopDelay.name, opts('eventLoopDelay'));
    const observables = active ? [active, delay] : [delay];
    const observe = (r: BatchObservableResult) => this.#observe(r);
    meter.addBatchObservableCallback(observe, observables);
    const base = this.#o.base ?? {};
    const ins: Instruments = {
      provider,
      alerts: observed ? undefined : meter.createCounter(METRICS.alerts.name, opts('alerts')),
      deliveryFailures: meter.createCounter(
        METRICS.alertDeliveryFailures.name,
        opts('alertDeliveryFailures'),
      ),
      exportFailures: meter.createCounter(
        METRICS.telemetryExportFailures.name,
        opts('telemetryExportFailures'),
      ),
      blocks: meter.createCounter(METRICS.eventLoopBlocks.name, opts('eventLoopBlocks')),
      active,
      delay,
      dispose: () => meter.removeBatchObservableCallback(observe, observables),
    };
    for (const c of [ins.deliveryFailures, ins.exportFailures, ins.blocks]) c.add(0, base);
    // One zero series per alert of this process, so the counter exists before anything fires.
    for (const [reason, spec] of Object.entries(ALERT_SPECS)) {
      const attrs = {
        ...base,
        [ATTR.alertName]: spec.name,
        [ATTR.severity]: spec.severity,
        [ATTR.reason]: reason,
      };
      const key = countKey(reason, attrs);
      if (ins.alerts) ins.alerts.add(0, attrs);
      else if (!this.#fired.has(key))
        this.#fired.set(key, { attrs, count: 0, resolvedAt: undefined, seed: true });
    }
    this.#ins = ins;
    return ins;
  }

  #observe(r: BatchObservableResult): void {
    const ins = this.#ins;
    if (!ins) return;
    const base = this.#o.base ?? {};
    if (ins.active) for (const a of this.#active.values()) r.observe(ins.active, 1, a);
    if (this.#o.eventLoop) {
      r.observe(ins.delay, this.#o.eventLoop.delayMs() / 1000, base);
      const blocks = this.#o.eventLoop.blocks();
      if (blocks > this.#blocksSeen) {
        ins.blocks.add(blocks - this.#blocksSeen, base);
        this.#blocksSeen = blocks;
      }
    }
  }

  /**
   * The alert series for an observed sink: 1 per firing alert, and every
   * count; pauses every ALERTS_PER_SLICE series so a scrape can yield. A
   * resolved alert's count goes after ALERT_COUNT_TTL_MS, so the series of
   * workers that alerted once do not pile up for the life of the process.
   */
  *#observeAlerts(emit: (key: MetricKey, value: number, attrs: Attributes) => void): Generator<void> {
    let n = 0;
    for (const a of this.#active.values()) {
      emit('alertActive', 1, a);
      if (++n % ALERTS_PER_SLICE === 0) yield;
    }
    const now = performance.now();
    for (const [key, f] of this.#fired) {
      if (!f.seed && f.resolvedAt !== undefined && now - f.resolvedAt > ALERT_COUNT_TTL_MS) {
        this.#fired.delete(key);
        continue;
      }
      emit('alerts', f.count, f.attrs);
      if (++n % ALERTS_PER_SLICE === 0) yield;
    }
  }

  /** Counts a failed Alertmanager delivery. */
  deliveryFailed(): void {
    this.#instruments().deliveryFailures.add(1, this.#o.base ?? {});
  }

  deliver(alert: Alert): void {
    const ins = this.#instruments();
    const key = `${alert.name}|${alert.labels.linkwatch_worker_id ?? ''}`;
    const a = attrs(alert);
    if (alert.status === 'firing') {
      this.#active.set(key, a);
      if (ins.alerts) ins.alerts.add(1, a);
      else this.#count(alert.reason, a);
    } else {
      this.#active.delete(key);
      const f = this.#fired.get(countKey(alert.reason, a));
      if (f) f.resolvedAt = performance.now();
    }
    const fields = {
      alertname: alert.name,
      severity: alert.severity,
      status: alert.status,
      reason: alert.reason,
      worker_id: alert.labels.linkwatch_worker_id,
      hub_id: alert.labels.linkwatch_hub_id,
      side: alert.labels.linkwatch_link_side,
      description: alert.annotations.description,
    };
    const log = this.#o.logger;
    if (log) {
      if (alert.status === 'resolved') log.info('alert resolved', fields);
      else if (alert.severity === 'critical') log.error('alert firing', fields);
      else log.warn('alert firing', fields);
    }
    const tracer = (this.#o.tracerProvider ?? trace.getTracerProvider()).getTracer(
      WATCHDOG_SCOPE.name,
      WATCHDOG_SCOPE.version,
    );
    const span = tracer.startSpan('linkwatch.watchdog.alert', { kind: SpanKind.INTERNAL });
    if (span.isRecording()) {
      span.setAttributes(a);
      span.addEvent(alert.status === 'firing' ? 'linkwatch.alert.firing' : 'linkwatch.alert.resolved', {
        [ATTR.alertName]: alert.name,
        'linkwatch.alert.description': alert.annotations.description,
      });
    }
    span.end();
  }

  #count(reason: string, a: Attributes): void {
    const key = countKey(reason, a);
    const f = this.#fired.get(key);
    if (f) {
      f.count++;
      f.resolvedAt = undefined;
    } else this.#fired.set(key, { attrs: a, count: 1, resolvedAt: undefined, seed: false });
  }

  async close(): Promise<void> {
    this.#o.exportHealth?.onFailure.delete(this.#onExportFailure);
    this.#removeObserved?.();
    this.#removeObserved = undefined;
    this.#ins?.dispose();
    this.#ins = undefined;
  }
}

function attrs(a: Alert): Attributes {
  return {
    [ATTR.alertName]: a.name,
    [ATTR.severity]: a.severity,
    [ATTR.reason]: a.reason,
    [ATTR.side]: a.labels.linkwatch_link_side ?? '',
    ...(a.labels.linkwatch_worker_id ? { [ATTR.workerId]: a.labels.linkwatch_worker_id } : {}),
    ...(a.labels.linkwatch_hub_id ? { [ATTR.hubId]: a.labels.linkwatch_hub_id } : {}),
  };
}
