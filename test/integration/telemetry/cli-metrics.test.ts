import { afterEach, describe, expect, it } from 'vitest';
import { METRICS, type MetricSpec } from '../../../src/telemetry/catalog.js';
import { jsExporterName } from '../../../src/telemetry/prometheus-names.js';
import { freePort, type Proc, runCli, summary, tempDir, writeFile } from '../../helpers/cli.js';
import { eventually } from '../../helpers/fleet.js';

const procs: Proc[] = [];
afterEach(() => {
  for (const p of procs.splice(0)) p.child.kill('SIGKILL');
});

/** Metric families in a Prometheus text scrape, with the label sets of their samples. */
function parse(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s/.exec(line);
    if (!m) continue;
    const family = m[1]!.replace(/_(bucket|sum|count)$/, '');
    const list = out.get(family) ?? [];
    list.push(m[2] ?? '');
    out.set(family, list);
  }
  return out;
}

async function scrape(url: string): Promise<string> {
  const res = await fetch(url);
  expect(res.status).toBe(200);
  return res.text();
}

describe('the CLI exports every catalog metric', () => {
  it('hub and worker processes serve /metrics with every metric, labelled by worker id', async () => {
    const dir = tempDir();
    const tokens = writeFile(dir, 'tokens', 'cli-metrics-token-1\n');
    const token = writeFile(dir, 'token', 'cli-metrics-token-1\n');
    const [port, hubMetrics, workerMetrics] = [await freePort(), await freePort(), await freePort()];
    const hubArgs = [
      'hub',
      '--listen',
      `127.0.0.1:${port}`,
      '--tokens',
      tokens,
      '--metrics-listen',
      `127.0.0.1:${hubMetrics}`,
      '--heartbeat-interval',
      '200ms',
      // Slow, timing-out handlers so queue timeouts, hung handlers and an alert show up.
      '--handler-delay',
      '1500ms',
      '--handler-timeout',
      '300ms',
      '--queue-concurrency',
      '4',
      '--handler-ignores-deadline',
    ];
    let hub = runCli(hubArgs);
    procs.push(hub);
    await hub.waitFor('hub listening');
    const worker = runCli([
      'worker',
      '--hub',
      `ws://127.0.0.1:${port}`,
      '--id',
      'w-cli',
      '--token-file',
      token,
      '--rate',
      '50',
      '--metrics-listen',
      `127.0.0.1:${workerMetrics}`,
    ]);
    procs.push(worker);
    await worker.waitFor('link connected');
    // A restart makes the worker back off and reconnect.
    hub.child.kill('SIGTERM');
    await hub.exited;
    hub = runCli(hubArgs);
    procs.push(hub);
    await hub.waitFor('hub listening');
    await worker.waitFor(/"msg":"link connected"[\s\S]*"msg":"link connected"/);
    await hub.waitFor('"alertname":"LinkwatchHandlerHung"');

    let families = new Map<string, string[]>();
    let both = '';
    // Every metric is there. What the worker process exports carries its worker id; what a
    // hub exports hub-wide (auth failures, queue times of its own handler) carries none.
    const specs = Object.values(METRICS) as MetricSpec[];
    const hubOnly = specs.filter((m) => !m.worker).map(jsExporterName);
    const seen = (name: string, label: string) => (families.get(name) ?? []).some((l) => l.includes(label));
    const missing = () =>
      specs
        .filter(
          (m) =>
            !seen(jsExporterName(m), 'linkwatch_worker_id="w-cli"') &&
            !(m.hub === 'hub-wide' && seen(jsExporterName(m), 'linkwatch_link_side="hub"')),
        )
        .map(jsExporterName);
    await eventually(
      async () => {
        both = `${await scrape(`http://127.0.0.1:${hubMetrics}/metrics`)}\n${await scrape(`http://127.0.0.1:${workerMetrics}/metrics`)}`;
        families = parse(both);
        return missing().length === 0;
      },
      15_000,
      () => `metrics with linkwatch_worker_id="w-cli": missing ${missing().join(', ')}`,
    );
    for (const name of hubOnly) {
      for (const line of families.get(name) ?? []) expect(line).not.toContain('linkwatch_worker_id');
    }
    expect(missing()).toEqual([]);
    // One scope for every series: its labels would only add bytes (4 MB at 10,000 workers).
    expect(both).not.toContain('otel_scope_');
    // The hub's heartbeat RTT, kept by linkwatch itself (OwnHistogram): one family, every bucket.
    const hubText = await scrape(`http://127.0.0.1:${hubMetrics}/metrics`);
    const rtt = jsExporterName(METRICS.heartbeatRtt);
    expect(hubText.split(`# TYPE ${rtt} histogram\n`)).toHaveLength(2);
    const hubRtt = (suffix: string) =>
      hubText
        .split('\n')
        .filter((l) => l.startsWith(`${rtt}_${suffix}{`) && l.includes('linkwatch_link_side="hub"'));
    const count = Number(hubRtt('count')[0]?.split(' ')[1]);
    expect(count).toBeGreaterThan(0);
    const buckets = hubRtt('bucket').map((l) => [/le="([^"]+)"/.exec(l)![1], Number(l.split(' ')[1])]);
    expect(buckets.map(([le]) => le)).toEqual([...(METRICS.heartbeatRtt.buckets ?? []).map(String), '+Inf']);
    expect(buckets.at(-1)![1]).toBe(count);
    worker.child.kill('SIGTERM');
    await worker.exited;
    expect(summary(worker).sent).toBeGreaterThan(0);
  }, 60_000);
});
