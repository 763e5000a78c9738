import { PrometheusSerializer } from '@opentelemetry/exporter-prometheus';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ObservedMetricsProducer } from '../../../src/cli/observed-producer.js';
import { instrument, type LinkTelemetry } from '../../../src/telemetry/instrumentation.js';
import { prometheusText, WITHOUT_SCOPE_INFO } from '../../../src/telemetry/prometheus-text.js';
import { fakeTarget } from './fake-target.js';

let attached: LinkTelemetry[] = [];
afterEach(() => {
  vi.useRealTimers();
  for (const t of attached) t.dispose();
  attached = [];
});

/** Sample lines only (no comments), sorted: families may come in another order. */
function samples(text: string): string[] {
  return text
    .split('\n')
    .filter((l) => l && !l.startsWith('#'))
    .sort();
}

async function rendered(producer: ObservedMetricsProducer): Promise<string> {
  let out = '';
  for await (const chunk of prometheusText((emit) => producer.observe(emit))) out += chunk;
  return out;
}

describe('prometheusText, the CLI renderer of per-worker series', () => {
  it("renders every sample exactly as the SDK's serializer does with the CLI's exporter flags", async () => {
    // One clock for both renderings: the process heartbeat is the time of the collection.
    vi.useFakeTimers({ toFake: ['Date', 'performance'] });
    const producer = new ObservedMetricsProducer();
    const hub = fakeTarget('hub', 'hub-"1"');
    hub.addWorkers(['w-1', 'w\\2', 'w\n3']);
    hub.sessionsMap.get('w-1')!.counters.processed = 42;
    attached.push(instrument(hub, { side: 'hub', hubId: 'hub-"1"', observedMetrics: producer }));
    hub.emit('w-1', { type: 'heartbeat-rtt', rttMs: 3 });
    const sdk = new PrometheusSerializer(undefined, false, undefined, true, WITHOUT_SCOPE_INFO);
    const { resourceMetrics } = await producer.collect();
    // As /metrics does: the histograms linkwatch keeps go through the SDK's serializer.
    const own = sdk.serialize({
      resource: resourceMetrics.resource,
      scopeMetrics: [{ scope: { name: 'linkwatch' }, metrics: producer.histogramMetrics() }],
    });
    const ours = samples(`${own}${await rendered(producer)}`);
    const theirs = samples(sdk.serialize(resourceMetrics));
    expect(ours.length).toBeGreaterThan(20);
    expect(ours).toContain(
      'linkwatch_heartbeat_rtt_seconds_count{linkwatch_link_side="hub",linkwatch_hub_id="hub-\\"1\\""} 1',
    );
    expect(ours).toEqual(theirs);
  });

  it('per-worker lines carry no otel_scope_* labels: one constant scope said nothing per series', async () => {
    const producer = new ObservedMetricsProducer();
    const hub = fakeTarget('hub');
    hub.addWorkers(['w-1']);
    attached.push(instrument(hub, { side: 'hub', hubId: 'hub-1', observedMetrics: producer }));
    const text = await rendered(producer);
    expect(text).not.toContain('otel_scope');
    expect(text).toContain(
      'linkwatch_link_up{linkwatch_worker_id="w-1",linkwatch_link_side="hub",linkwatch_hub_id="hub-1"} 1\n',
    );
  });
});
