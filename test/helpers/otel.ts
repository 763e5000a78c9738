import { type Attributes, ROOT_CONTEXT } from '@opentelemetry/api';
import {
  type DataPoint,
  MeterProvider,
  MetricReader,
  type ResourceMetrics,
} from '@opentelemetry/sdk-metrics';
import {
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
  TracerProvider,
} from '@opentelemetry/sdk-trace';

/** A reader the test collects from by hand: no timers, no export pipeline. */
export class ManualReader extends MetricReader {
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

export interface OtelHarness {
  meterProvider: MeterProvider;
  tracerProvider: TracerProvider;
  spans: InMemorySpanExporter;
  reader: ManualReader;
  collect(): Promise<ResourceMetrics>;
  /** Sum of every point's value (counter) or count (histogram) for `name` whose attributes include `match`. */
  total(name: string, match?: Attributes): Promise<number>;
  finished(name?: string): ReadableSpan[];
  shutdown(): Promise<void>;
}

export function otelHarness(): OtelHarness {
  const reader = new ManualReader();
  const meterProvider = new MeterProvider({ readers: [reader] });
  const spans = new InMemorySpanExporter();
  const tracerProvider = new TracerProvider({
    spanProcessors: [new SimpleSpanProcessor({ exporter: spans })],
  });
  const collect = async () => (await reader.collect()).resourceMetrics;
  return {
    meterProvider,
    tracerProvider,
    spans,
    reader,
    collect,
    async total(name, match = {}) {
      const rm = await collect();
      let sum = 0;
      for (const sm of rm.scopeMetrics) {
        for (const metric of sm.metrics) {
          if (metric.descriptor.name !== name) continue;
          for (const p of metric.dataPoints as DataPoint<unknown>[]) {
            if (!Object.entries(match).every(([k, v]) => p.attributes[k] === v)) continue;
            const v = p.value as number | { count: number };
            sum += typeof v === 'number' ? v : v.count;
          }
        }
      }
      return sum;
    },
    finished(name) {
      const all = spans.getFinishedSpans();
      return name ? all.filter((s) => s.name === name) : all;
    },
    async shutdown() {
      await meterProvider.shutdown();
      await tracerProvider.shutdown();
    },
  };
}

export { ROOT_CONTEXT };
