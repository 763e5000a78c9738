import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Attributes } from '@opentelemetry/api';
import { type DataPoint, MeterProvider, type ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { describe, expect, it } from 'vitest';
import { ObservedMetricsProducer } from '../../../src/cli/observed-producer.js';
import { linkwatchViews } from '../../../src/cli/telemetry-sdk.js';
import { ATTR, MAX_LABEL_VALUES, MAX_WORKERS, METRICS } from '../../../src/telemetry/catalog.js';
import { instrument } from '../../../src/telemetry/instrumentation.js';
import { prometheusText } from '../../../src/telemetry/prometheus-text.js';
import { budget } from '../../../src/telemetry/signal-table.js';
import { ManualReader } from '../../helpers/otel.js';
import { fakeTarget } from './fake-target.js';
import { useMetricCleanup } from './metric-cleanup.js';

const OVERFLOW = 'otel.metric.overflow';
const { attached, providers } = useMetricCleanup();

function sdk(withViews: boolean) {
  const reader = new ManualReader();
  const meterProvider = new MeterProvider({
    readers: [reader],
    ...(withViews ? { views: linkwatchViews() } : {}),
  });
  providers.push(meterProvider);
  return { reader, meterProvider };
}

function points(rm: ResourceMetrics): { name: string; attributes: Attributes }[] {
  return rm.scopeMetrics.flatMap((sm) =>
    sm.metrics.flatMap((m) =>
      (m.dataPoints as DataPoint<unknown>[]).map((p) => ({
        name: m.descriptor.name,
        attributes: p.attributes,
      })),
    ),
  );
}

function ids(n: number, prefix = 'worker-'): string[] {
  return Array.from({ length: n }, (_, i) => `${prefix}${String(i).padStart(5, '0')}`);
}

async function text(producer: ObservedMetricsProducer): Promise<string> {
  let out = '';
  for await (const chunk of prometheusText((emit) => producer.observe(emit))) out += chunk;
  return out;
}

describe('cardinality at fleet size', () => {
  it(`${MAX_WORKERS} workers through the real MeterProvider with the CLI's views: no overflow series`, async () => {
    const { reader, meterProvider } = sdk(true);
    const hub = fakeTarget('hub');
    hub.addWorkers(ids(MAX_WORKERS));
    attached.push(instrument(hub, { side: 'hub', hubId: 'hub-1', meterProvider }));
    const all = points((await reader.collect()).resourceMetrics);
    expect(all.filter((p) => OVERFLOW in p.attributes)).toEqual([]);
    const up = all.filter((p) => p.name === METRICS.linkUp.name);
    expect(new Set(up.map((p) => p.attributes[ATTR.workerId])).size).toBe(MAX_WORKERS);
    // The budget the README states: per-worker series times the fleet, plus the hub-wide ones.
    const perWorker = all.filter((p) => p.attributes[ATTR.workerId] !== undefined);
    expect(perWorker).toHaveLength(budget().hubPerWorker * MAX_WORKERS);
  });

  it("without the views, the SDK's default limit folds workers past 2,000 into an overflow series", async () => {
    const { reader, meterProvider } = sdk(false);
    const hub = fakeTarget('hub');
    hub.addWorkers(ids(2_500));
    attached.push(instrument(hub, { side: 'hub', hubId: 'hub-1', meterProvider }));
    const all = points((await reader.collect()).resourceMetrics);
    expect(all.some((p) => p.name === METRICS.linkUp.name && OVERFLOW in p.attributes)).toBe(true);
  });

  it(`${MAX_WORKERS} workers through the CLI's producer: every worker's series, none overflowing`, async () => {
    const producer = new ObservedMetricsProducer();
    const hub = fakeTarget('hub');
    hub.addWorkers(ids(MAX_WORKERS));
    attached.push(instrument(hub, { side: 'hub', hubId: 'hub-1', observedMetrics: producer }));
    const body = await text(producer);
    expect(body).not.toContain('overflow');
    const up = body.split('\n').filter((l) => l.startsWith('linkwatch_link_up{'));
    expect(up).toHaveLength(MAX_WORKERS);
    expect(up[0]).toMatch(
      /^linkwatch_link_up\{linkwatch_worker_id="worker-00000",linkwatch_link_side="hub",linkwatch_hub_id="hub-1"\} 1$/,
    );
    const otlp = points((await producer.collect()).resourceMetrics);
    expect(otlp.filter((p) => p.attributes[ATTR.workerId] !== undefined)).toHaveLength(
      budget().hubPerWorker * MAX_WORKERS,
    );
  });

  it('series of a worker whose session the hub forgot vanish from the next collection', async () => {
    const producer = new ObservedMetricsProducer();
    const hub = fakeTarget('hub');
    hub.addWorkers(['w-stays', 'w-goes']);
    attached.push(instrument(hub, { side: 'hub', hubId: 'hub-1', observedMetrics: producer }));
    expect(await text(producer)).toContain('linkwatch_worker_id="w-goes"');
    hub.sessionsMap.delete('w-goes'); // what Hub#forget does after the session TTL
    const after = await text(producer);
    expect(after).not.toContain('w-goes');
    expect(after).toContain('linkwatch_worker_id="w-stays"');
    const otlp = points((await producer.collect()).resourceMetrics);
    expect(otlp.some((p) => p.attributes[ATTR.workerId] === 'w-goes')).toBe(false);
  });

  it('failed logins never become a label, a series or a worker id, whatever id they claim', async () => {
    const { reader, meterProvider } = sdk(true);
    const hub = fakeTarget('hub');
    hub.addWorkers(['w-real']);
    attached.push(instrument(hub, { side: 'hub', hubId: 'hub-1', meterProvider }));
    const before = points((await reader.collect()).resourceMetrics).length;
    for (const id of ids(5_000, 'attacker-')) {
      hub.emit(id, { type: 'auth-failed', errorType: 'LW_ERR_AUTH_FAILED', remoteAddress: '127.0.0.1' });
    }
    const all = points((await reader.collect()).resourceMetrics);
    expect(all.filter((p) => String(p.attributes[ATTR.workerId] ?? '').startsWith('attacker-'))).toEqual([]);
    // One new series at most: the hub-wide count of this error type.
    expect(all.length).toBeLessThanOrEqual(before + 1);
    const failures = all.filter((p) => p.name === METRICS.authFailures.name && p.attributes[ATTR.errorType]);
    expect(failures.map((p) => p.attributes)).toEqual([
      { [ATTR.side]: 'hub', [ATTR.hubId]: 'hub-1', [ATTR.errorType]: 'LW_ERR_AUTH_FAILED' },
    ]);
  });

  it(`a label key takes at most ${MAX_LABEL_VALUES} values; the rest count as 'other'`, async () => {
    const { reader, meterProvider } = sdk(true);
    const hub = fakeTarget('hub');
    attached.push(instrument(hub, { side: 'hub', hubId: 'hub-1', meterProvider }));
    for (let i = 0; i < 100; i++)
      hub.emit('w-1', { type: 'frame-rejected', errorType: `LW_ERR_${i}`, closeCode: 1002, reason: 'x' });
    const rejected = points((await reader.collect()).resourceMetrics).filter(
      (p) => p.name === METRICS.framesRejected.name && p.attributes[ATTR.errorType] !== undefined,
    );
    // The cap is per label key, and the seeded disconnect types already hold some of its values.
    const values = new Set(rejected.map((p) => p.attributes[ATTR.errorType]));
    expect(values.size).toBeLessThanOrEqual(MAX_LABEL_VALUES + 1);
    expect(values.has('LW_ERR_0')).toBe(true);
    expect(values.has('other')).toBe(true);
  });

  it('docs/telemetry.md states the budget the catalog gives', () => {
    // Biome pads table columns: compare with runs of spaces folded.
    const doc = readFileSync(join(import.meta.dirname, '../../../docs/telemetry.md'), 'utf8').replace(
      / +/g,
      ' ',
    );
    const b = budget();
    expect(doc).toContain(`${b.hubPerWorker} series per connected worker`);
    expect(doc).toContain(`| hub, hub-wide (no worker id) | ${b.hubWide}:`);
    expect(doc).toContain(`| worker process | ${b.worker}:`);
  });

  it('every rejection before a link counts hub-wide by error.type, seeded at 0', async () => {
    const { reader, meterProvider } = sdk(true);
    const hub = fakeTarget('hub');
    attached.push(instrument(hub, { side: 'hub', hubId: 'hub-1', meterProvider }));
    const refused = async (errorType: string) => {
      const rm = (await reader.collect()).resourceMetrics;
      const metric = rm.scopeMetrics
        .flatMap((sm) => sm.metrics)
        .find((m) => m.descriptor.name === METRICS.connectionsRefused.name);
      return (metric?.dataPoints as DataPoint<number>[] | undefined)?.find(
        (p) => p.attributes[ATTR.errorType] === errorType,
      )?.value;
    };
    expect(await refused('LW_ERR_BUSY')).toBe(0);
    hub.emit('', { type: 'connection-refused', errorType: 'LW_ERR_BUSY' });
    hub.emit('', { type: 'connection-refused', errorType: 'LW_ERR_CONNECTION_LIMIT' });
    hub.emit('', { type: 'connection-refused', errorType: 'LW_ERR_REQUEST_TIMEOUT' });
    // An authenticated upgrade that never said hello.
    hub.emit('w-quiet', {
      type: 'handshake-failed',
      url: '',
      errorType: 'LW_ERR_HANDSHAKE_TIMEOUT',
      handshakeMs: 5000,
    });
    hub.emit('w-1', { type: 'checkpoint-failed', stream: 's', processed: 3, errorType: 'LW_ERR_CHECKPOINT' });
    for (const t of [
      'LW_ERR_BUSY',
      'LW_ERR_CONNECTION_LIMIT',
      'LW_ERR_REQUEST_TIMEOUT',
      'LW_ERR_HANDSHAKE_TIMEOUT',
    ])
      expect(await refused(t), t).toBe(1);
    const all = points((await reader.collect()).resourceMetrics);
    const rejections = all.filter((p) =>
      [METRICS.connectionsRefused.name, METRICS.checkpointFailures.name].includes(p.name),
    );
    expect(rejections.every((p) => p.attributes[ATTR.workerId] === undefined)).toBe(true);
    expect(rejections.some((p) => p.attributes[ATTR.errorType] === 'LW_ERR_CHECKPOINT')).toBe(true);
  });
});
