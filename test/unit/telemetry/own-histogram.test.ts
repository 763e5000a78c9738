import { type DataPoint, DataPointType, type Histogram, MeterProvider } from '@opentelemetry/sdk-metrics';
import { describe, expect, it } from 'vitest';
import { ObservedMetricsProducer } from '../../../src/cli/observed-producer.js';
import { METRICS } from '../../../src/telemetry/catalog.js';
import { instrument } from '../../../src/telemetry/instrumentation.js';
import { OwnHistogram } from '../../../src/telemetry/own-histogram.js';
import { ManualReader } from '../../helpers/otel.js';
import { fakeTarget } from './fake-target.js';
import { useMetricCleanup } from './metric-cleanup.js';

const { attached, providers } = useMetricCleanup();
const BUCKETS = METRICS.heartbeatRtt.buckets ?? [];
// On, between and around the boundaries, below the first and above the last.
const VALUES = [0, 0.0001, ...BUCKETS, ...BUCKETS.map((b) => b * 1.5), 1e6];

/** The SDK's explicit-bucket aggregation of the same values. */
async function sdkHistogram(values: number[]): Promise<Histogram> {
  const reader = new ManualReader();
  const provider = new MeterProvider({ readers: [reader] });
  providers.push(provider);
  const h = provider
    .getMeter('t')
    .createHistogram('h', { advice: { explicitBucketBoundaries: [...BUCKETS] } });
  for (const v of values) h.record(v, { a: 'b' });
  const { resourceMetrics } = await reader.collect();
  return (resourceMetrics.scopeMetrics[0]!.metrics[0]!.dataPoints[0] as DataPoint<Histogram>).value;
}

describe('OwnHistogram', () => {
  it('puts every value in the bucket the SDK puts it in, with the same sum, count, min and max', async () => {
    const own = new OwnHistogram(BUCKETS);
    for (const v of VALUES) own.record(v);
    const sdk = await sdkHistogram(VALUES);
    const mine = own.snapshot();
    expect(mine.buckets).toEqual(sdk.buckets);
    expect(mine.count).toBe(sdk.count);
    expect(mine.sum).toBeCloseTo(sdk.sum ?? Number.NaN, 9);
    expect([mine.min, mine.max]).toEqual([sdk.min, sdk.max]);
  });

  it('ignores NaN, reports no min or max while empty, and rejects unordered boundaries naming them', () => {
    const h = new OwnHistogram([1, 2]);
    h.record(Number.NaN);
    expect(h.snapshot()).toEqual({ buckets: { boundaries: [1, 2], counts: [0, 0, 0] }, sum: 0, count: 0 });
    expect(() => new OwnHistogram([2, 1])).toThrow(/`boundaries`.*strictly increasing.*\[2,1\]/);
  });
});

describe("a hub's heartbeat RTT with the CLI's producer", () => {
  it('is recorded in an OwnHistogram and read by every collection, never by an SDK histogram', async () => {
    const reader = new ManualReader();
    const producer = new ObservedMetricsProducer();
    const meterProvider = new MeterProvider({ readers: [reader] });
    providers.push(meterProvider);
    const target = fakeTarget('hub', 'h1');
    const t = instrument(target, { side: 'hub', hubId: 'h1', meterProvider, observedMetrics: producer });
    attached.push(t);
    for (const rttMs of [0.4, 3, 3, 700]) target.emit('w1', { type: 'heartbeat-rtt', rttMs });
    // Not in the SDK: the same name from two places would be two families in /metrics.
    const sdkNames = (await reader.collect()).resourceMetrics.scopeMetrics.flatMap((s) =>
      s.metrics.map((m) => m.descriptor.name),
    );
    expect(sdkNames).not.toContain(METRICS.heartbeatRtt.name);
    const [metric] = producer.histogramMetrics();
    expect(metric?.descriptor.name).toBe(METRICS.heartbeatRtt.name);
    expect(metric?.dataPointType).toBe(DataPointType.HISTOGRAM);
    const point = metric?.dataPoints[0] as DataPoint<Histogram>;
    expect(point.attributes).toEqual({ 'linkwatch.link.side': 'hub', 'linkwatch.hub.id': 'h1' });
    expect(point.value.count).toBe(4);
    expect(point.value.max).toBe(0.7);
    // OTLP readers get it from collect() with the observed points.
    const collected = await producer.collect();
    const names = collected.resourceMetrics.scopeMetrics[0]!.metrics.map((m) => m.descriptor.name);
    expect(names).toContain(METRICS.heartbeatRtt.name);
    t.dispose();
    attached.splice(attached.indexOf(t), 1);
    expect(producer.histogramMetrics()).toEqual([]);
  });
});
