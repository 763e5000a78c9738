import {
  type Attributes,
  type BatchObservableResult,
  type Counter,
  createNoopMeter,
  type Histogram,
  type MeterProvider,
  type Observable,
  ProxyTracerProvider,
  type TracerProvider,
} from '@opentelemetry/api';
import type { Side } from '../link/events.js';
import {
  ATTR,
  MAX_LABEL_VALUES,
  METRICS,
  type MetricKey,
  type MetricSpec,
  WATCHDOG_METRICS,
} from './catalog.js';

export const INSTRUMENTATION_NAME = 'linkwatch';
export const INSTRUMENTATION_VERSION = '0.1.0';

/**
 * The link instrumentation's instruments, created in one place from the
 * catalog: synchronous counters and histograms for what happens per event
 * (connects, rejections, round trips), observable counters and gauges for
 * what the core already counts (Session.counters, queue and outbox state),
 * read once per collection instead of once per message.
 */
export interface Instruments {
  provider: MeterProvider;
  counters: Partial<Record<MetricKey, Counter>>;
  histograms: Partial<Record<MetricKey, Histogram>>;
  observables: Partial<Record<MetricKey, Observable>>;
  dispose(): void;
}

/** Whether this side exports the metric at all (a hub: per worker or hub-wide). */
export function exportedBy(spec: MetricSpec, side: Side): boolean {
  return side === 'hub' ? spec.hub !== 'none' : spec.worker;
}

export function createInstruments(
  provider: MeterProvider,
  side: Side,
  observe: (r: BatchObservableResult) => void,
  /** Metrics exported some other way (the hub's own RTT histogram, see OwnHistogram). */
  skip: readonly MetricKey[] = [],
): Instruments {
  const meter = provider.getMeter(INSTRUMENTATION_NAME, INSTRUMENTATION_VERSION);
  const counters: Instruments['counters'] = {};
  const histograms: Instruments['histograms'] = {};
  const observables: Instruments['observables'] = {};
  for (const [key, spec] of Object.entries(METRICS) as [MetricKey, MetricSpec][]) {
    if (WATCHDOG_METRICS.includes(key) || !exportedBy(spec, side) || skip.includes(key)) continue;
    const opts = { unit: spec.unit, description: spec.description };
    if (spec.instrument === 'histogram') {
      histograms[key] = meter.createHistogram(spec.name, {
        ...opts,
        advice: { explicitBucketBoundaries: [...(spec.buckets ?? [])] },
      });
    } else if (!spec.observed) counters[key] = meter.createCounter(spec.name, opts);
    else if (spec.instrument === 'counter') observables[key] = meter.createObservableCounter(spec.name, opts);
    else observables[key] = meter.createObservableGauge(spec.name, opts);
  }
  const list = Object.values(observables);
  meter.addBatchObservableCallback(observe, list);
  return {
    provider,
    counters,
    histograms,
    observables,
    dispose: () => meter.removeBatchObservableCallback(observe, list),
  };
}

const NOOP_METER = createNoopMeter();

export function isNoopMeterProvider(provider: MeterProvider): boolean {
  return provider.getMeter(INSTRUMENTATION_NAME) === NOOP_METER;
}

// The delegate a ProxyTracerProvider has while no SDK is registered.
const NOOP_TRACER_PROVIDER = new ProxyTracerProvider().getDelegate();

export function isNoopTracerProvider(provider: TracerProvider): boolean {
  const delegate = provider instanceof ProxyTracerProvider ? provider.getDelegate() : provider;
  return delegate === NOOP_TRACER_PROVIDER;
}

/**
 * Attribute sets, built once and reused on every data point: the SDK hashes
 * what it is given, but a shared object costs no allocation. Keyed only by
 * worker ids of sessions (authenticated peers) and by the hub's own error
 * codes, each label bounded to MAX_LABEL_VALUES values.
 */
export class LinkAttributes {
  readonly #side: Side;
  readonly #hubId: string | undefined;
  // Per worker id, then hub id ('' before the handshake).
  readonly #base = new Map<string, Map<string, Attributes>>();
  // Base attributes plus one label: per base object, then label key, then value.
  readonly #labelled = new WeakMap<Attributes, Map<string, Map<string, Attributes>>>();
  // Values seen per label key, to fold the rest into 'other'.
  readonly #values = new Map<string, Set<string>>();
  #hub: Attributes | undefined;

  constructor(side: Side, hubId: string | undefined) {
    this.#side = side;
    this.#hubId = hubId;
  }

  /** A worker's link: worker id, side and, once known, the hub id. */
  base(workerId: string, hubId: string | undefined): Attributes {
    let byHub = this.#base.get(workerId);
    if (!byHub) {
      byHub = new Map();
      this.#base.set(workerId, byHub);
    }
    let attrs = byHub.get(hubId ?? '');
    if (!attrs) {
      attrs = { [ATTR.workerId]: workerId, [ATTR.side]: this.#side };
      if (hubId) attrs[ATTR.hubId] = hubId;
      byHub.set(hubId ?? '', attrs);
    }
    return attrs;
  }

  /** The hub as a whole: side and hub id, no worker id. */
  hub(): Attributes {
    this.#hub ??= { [ATTR.side]: 'hub', ...(this.#hubId ? { [ATTR.hubId]: this.#hubId } : {}) };
    return this.#hub;
  }

  /** `base` plus `key: value`; past MAX_LABEL_VALUES distinct values of `key`, the value is 'other'. */
  with(base: Attributes, key: string, value: string): Attributes {
    const cached = this.#labelled.get(base)?.get(key)?.get(value);
    if (cached) return cached;
    let seen = this.#values.get(key);
    if (!seen) {
      seen = new Set();
      this.#values.set(key, seen);
    }
    if (!seen.has(value)) {
      if (seen.size >= MAX_LABEL_VALUES) value = 'other';
      else seen.add(value);
    }
    let byKey = this.#labelled.get(base);
    if (!byKey) {
      byKey = new Map();
      this.#labelled.set(base, byKey);
    }
    let byValue = byKey.get(key);
    if (!byValue) {
      byValue = new Map();
      byKey.set(key, byValue);
    }
    let attrs = byValue.get(value);
    if (!attrs) {
      attrs = { ...base, [key]: value };
      byValue.set(value, attrs);
    }
    return attrs;
  }

  /** Forgets workers that have no session any more, so the cache follows the fleet. */
  prune(live: ReadonlyMap<string, unknown>): void {
    if (this.#base.size <= live.size + 64) return;
    for (const id of this.#base.keys()) if (!live.has(id)) this.#base.delete(id);
  }
}
