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
import { ATTR, METRICS } from '../telemetry/catalog.js';
import { ALERT_SPECS, type Alert, type AlertSink } from './alerts.js';

/**
 * The instrumentation scope of the watchdog's meter and tracer: the same as
 * the link telemetry's (a unit test keeps them equal), declared here so the
 * watchdog does not load the link instrumentation for two strings.
 */
export const WATCHDOG_SCOPE = { name: 'linkwatch', version: '0.1.0' } as const;

export interface WatchdogTelemetryOptions {
  meterProvider?: MeterProvider;
  tracerProvider?: TracerProvider;
  logger?: Logger;
  /** Where the event-loop numbers come from (the watchdog's sentinel). */
  eventLoop?: { delayMs(): number; blocks(): number };
  /** Failed telemetry exports are counted from here. */
  exportHealth?: { onFailure: Set<() => void> };
  base?: Attributes;
}

interface Instruments {
  provider: MeterProvider;
  alerts: Counter;
  deliveryFailures: Counter;
  exportFailures: Counter;
  blocks: Counter;
  active: Observable;
  delay: Observable;
  dispose(): void;
}

/**
 * The OTel sink of the watchdog: an alerts counter, an active-alerts gauge,
 * a log record and a span event per alert, plus event-loop and delivery
 * metrics. Providers are resolved lazily like the link instrumentation.
 */
export class WatchdogTelemetry implements AlertSink {
  readonly #o: WatchdogTelemetryOptions;
  readonly #active = new Map<string, Alert>();
  #ins: Instruments | undefined;
  #blocksSeen = 0;
  readonly #onExportFailure = () => this.#instruments().exportFailures.add(1, this.#o.base ?? {});

  constructor(options: WatchdogTelemetryOptions = {}) {
    this.#o = options;
    options.exportHealth?.onFailure.add(this.#onExportFailure);
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
    const active = meter.createObservableGauge(METRICS.alertActive.name, opts('alertActive'));
    const delay = meter.createObservableGauge(METRICS.eventLoopDelay.name, opts('eventLoopDelay'));
    const observe = (r: BatchObservableResult) => this.#observe(r);
    meter.addBatchObservableCallback(observe, [active, delay]);
    const base = this.#o.base ?? {};
    const ins: Instruments = {
      provider,
      alerts: meter.createCounter(METRICS.alerts.name, opts('alerts')),
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
      dispose: () => meter.removeBatchObservableCallback(observe, [active, delay]),
    };
    for (const c of [ins.deliveryFailures, ins.exportFailures, ins.blocks]) c.add(0, base);
    // One zero series per alert of this process, so the counter exists before anything fires.
    for (const [reason, spec] of Object.entries(ALERT_SPECS)) {
      ins.alerts.add(0, {
        ...base,
        [ATTR.alertName]: spec.name,
        [ATTR.severity]: spec.severity,
        [ATTR.reason]: reason,
      });
    }
    this.#ins = ins;
    return ins;
  }

  #observe(r: BatchObservableResult): void {
    const ins = this.#ins;
    if (!ins) return;
    const base = this.#o.base ?? {};
    for (const a of this.#active.values()) r.observe(ins.active, 1, attrs(a));
    if (this.#o.eventLoop) {
      r.observe(ins.delay, this.#o.eventLoop.delayMs() / 1000, base);
      const blocks = this.#o.eventLoop.blocks();
      if (blocks > this.#blocksSeen) {
        ins.blocks.add(blocks - this.#blocksSeen, base);
        this.#blocksSeen = blocks;
      }
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
      this.#active.set(key, alert);
      ins.alerts.add(1, a);
    } else {
      this.#active.delete(key);
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

  async close(): Promise<void> {
    this.#o.exportHealth?.onFailure.delete(this.#onExportFailure);
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
