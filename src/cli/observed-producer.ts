import { type Attributes, type HrTime, ValueType } from '@opentelemetry/api';
import { emptyResource } from '@opentelemetry/resources';
import {
  AggregationTemporality,
  type CollectionResult,
  type DataPoint,
  DataPointType,
  type Histogram,
  type MetricData,
  type MetricProducer,
} from '@opentelemetry/sdk-metrics';
import { METRICS, type MetricKey } from '../telemetry/catalog.js';
import type { ObservedMetricsSink } from '../telemetry/instrumentation.js';
import { INSTRUMENTATION_NAME, INSTRUMENTATION_VERSION } from '../telemetry/instruments.js';
import type { Emit } from '../telemetry/link-metrics.js';
import type { OwnHistogram } from '../telemetry/own-histogram.js';

/**
 * The CLI's path for observed link metrics: a MetricProducer that every
 * metric reader (the Prometheus exporter, the OTLP reader) asks at
 * collection time. It builds the points fresh each time from the sessions,
 * so:
 *
 * - a worker's series vanish with its session (the hub forgets it after the
 *   session TTL); the SDK's own storage keeps every attribute set an
 *   observable instrument ever reported, with its last value, for good;
 * - no point is hashed or merged, so a 10,000-worker scrape does not pay for
 *   the SDK's per-attribute-set bookkeeping;
 * - the SDK's cardinality limit does not apply to these points.
 *
 * Counters are cumulative sums that start when the producer started.
 */
export class ObservedMetricsProducer implements MetricProducer, ObservedMetricsSink {
  readonly #observers = new Set<(emit: Emit) => Generator<void>>();
  readonly #histograms = new Set<{ key: MetricKey; histogram: OwnHistogram; attributes: Attributes }>();
  readonly #startTime: HrTime = hrTime(Date.now());

  add(observe: (emit: Emit) => Generator<void>): () => void {
    this.#observers.add(observe);
    return () => this.#observers.delete(observe);
  }

  addHistogram(key: MetricKey, histogram: OwnHistogram, attributes: Attributes): () => void {
    const entry = { key, histogram, attributes };
    this.#histograms.add(entry);
    return () => this.#histograms.delete(entry);
  }

  /**
   * The histograms given to addHistogram(), as the SDK's histogram
   * instruments would have reported them (cumulative, with min and max).
   * /metrics serializes them with the SDK's own part.
   */
  histogramMetrics(): MetricData[] {
    const now = hrTime(Date.now());
    const byKey = new Map<MetricKey, DataPoint<Histogram>[]>();
    for (const { key, histogram, attributes } of this.#histograms) {
      let points = byKey.get(key);
      if (!points) {
        points = [];
        byKey.set(key, points);
      }
      points.push({ startTime: this.#startTime, endTime: now, attributes, value: histogram.snapshot() });
    }
    return [...byKey].map(([key, dataPoints]) => ({
      descriptor: descriptorOf(key),
      aggregationTemporality: AggregationTemporality.CUMULATIVE,
      dataPointType: DataPointType.HISTOGRAM,
      dataPoints,
    }));
  }

  /** Runs every observer: each emits its points as of now. */
  observe(emit: Emit): void {
    for (const observe of this.#observers) for (const _ of observe(emit));
  }

  /** The same, yielding to the event loop between slices of workers. */
  async observeYielding(emit: Emit): Promise<void> {
    for (const observe of this.#observers) {
      for (const _ of observe(emit)) await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }

  async collect(): Promise<CollectionResult> {
    const now = hrTime(Date.now());
    const points = new Map<MetricKey, DataPoint<number>[]>();
    const emit: Emit = (key, value, attributes: Attributes) => {
      let list = points.get(key);
      if (!list) {
        list = [];
        points.set(key, list);
      }
      list.push({ startTime: this.#startTime, endTime: now, attributes, value });
    };
    this.observe(emit);
    const metrics: MetricData[] = this.histogramMetrics();
    for (const [key, dataPoints] of points) {
      const spec = METRICS[key];
      const descriptor = descriptorOf(key);
      metrics.push(
        spec.instrument === 'counter'
          ? {
              descriptor,
              aggregationTemporality: AggregationTemporality.CUMULATIVE,
              dataPointType: DataPointType.SUM,
              isMonotonic: true,
              dataPoints,
            }
          : {
              descriptor,
              aggregationTemporality: AggregationTemporality.CUMULATIVE,
              dataPointType: DataPointType.GAUGE,
              dataPoints,
            },
      );
    }
    return {
      resourceMetrics: {
        // Ignored: readers attach the SDK's resource.
        resource: emptyResource(),
        scopeMetrics: [{ scope: { name: INSTRUMENTATION_NAME, version: INSTRUMENTATION_VERSION }, metrics }],
      },
      errors: [],
    };
  }
}

function descriptorOf(key: MetricKey): MetricData['descriptor'] {
  const spec = METRICS[key];
  return { name: spec.name, description: spec.description, unit: spec.unit, valueType: ValueType.DOUBLE };
}

function hrTime(ms: number): HrTime {
  return [Math.floor(ms / 1000), Math.round((ms % 1000) * 1e6)];
}
