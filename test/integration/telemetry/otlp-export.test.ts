import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { METRICS, type MetricSpec } from '../../../src/telemetry/catalog.js';
import { freePort, type Proc, runCli, tempDir, writeFile } from '../../helpers/cli.js';
import { eventually } from '../../helpers/fleet.js';
import { type OtlpReceiver, startOtlpReceiver } from '../../helpers/otlp-receiver.js';

const procs: Proc[] = [];
let receiver: OtlpReceiver | undefined;
afterEach(async () => {
  for (const p of procs.splice(0)) p.child.kill('SIGKILL');
  await receiver?.close();
  receiver = undefined;
});

const TOKEN = 'SECRET-token-do-not-leak-8c1f';

describe('OTLP export from the CLI (the contract a Collector sees)', () => {
  it('exports metrics, spans and logs over http/protobuf, with the worker as service.instance.id and no token anywhere', async () => {
    receiver = await startOtlpReceiver();
    const dir = tempDir();
    const tokens = writeFile(dir, 'tokens', `${TOKEN} w-otlp\n`);
    const tokenFile = writeFile(dir, 'token', `${TOKEN}\n`);
    const port = await freePort();
    const metricsPort = await freePort();
    const env = {
      OTEL_METRICS_EXPORTER: 'otlp',
      OTEL_TRACES_EXPORTER: 'otlp',
      OTEL_LOGS_EXPORTER: 'otlp',
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_METRIC_EXPORT_INTERVAL: '500',
      OTEL_BSP_SCHEDULE_DELAY: '200',
      OTEL_BLRP_SCHEDULE_DELAY: '200',
      OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment.name=test',
      // Every message traced (the default is 1%), so the first ones show producer and consumer spans.
      OTEL_TRACES_SAMPLER: 'parentbased_always_on',
    };
    const worker = runCli(
      [
        'worker',
        '--hub',
        `ws://127.0.0.1:${port}`,
        '--id',
        'w-otlp',
        '--token-file',
        tokenFile,
        '--rate',
        '100',
        '--metrics-listen',
        `127.0.0.1:${metricsPort}`,
      ],
      env,
    );
    procs.push(worker);
    // The worker starts before its hub, so its first attempt is refused and it backs off:
    // that records linkwatch.backoff.delay.seconds deterministically, not only when the
    // shutdown order happens to drop the link first.
    await worker.waitFor('reconnect scheduled');
    const hub = runCli(
      [
        'hub',
        '--listen',
        `127.0.0.1:${port}`,
        '--tokens',
        tokens,
        '--metrics-listen',
        'off',
        '--heartbeat-interval',
        '200ms',
      ],
      { ...env, OTEL_SERVICE_NAME: 'edge-hub' },
    );
    procs.push(hub);
    await hub.waitFor('hub listening');
    await worker.waitFor('link connected');
    const r = receiver;
    // Alert gauges exist only while an alert fires; everything else is always exported.
    const expected = (Object.values(METRICS) as MetricSpec[])
      .map((spec) => spec.name)
      .filter((name) => name !== METRICS.alertActive.name);
    // Wait until every metric has arrived in a periodic export. The last export at shutdown is not
    // waited for: its deadline is the 500 ms interval, which a loaded machine can miss, and the sampled
    // histograms (queue wait and handler time) may have been recorded only after the export before it.
    await eventually(
      async () => {
        const spans = r.decoded('traces').flatMap((e) => e.names);
        const metricNames = new Set(r.decoded('metrics').flatMap((e) => e.names));
        return (
          spans.includes('process linkwatch') &&
          spans.includes('send linkwatch') &&
          expected.every((name) => metricNames.has(name)) &&
          r.decoded('logs').some((e) => e.names.includes('link connected'))
        );
      },
      15_000,
      () => {
        const metricNames = new Set(r.decoded('metrics').flatMap((e) => e.names));
        const missing = expected.filter((name) => !metricNames.has(name));
        return `metrics, spans and logs at the receiver (metrics missing: ${missing.join(', ') || 'none'})`;
      },
    );
    const scrape = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    worker.child.kill('SIGTERM');
    hub.child.kill('SIGTERM');
    await Promise.all([worker.exited, hub.exited]);

    const metrics = r.decoded('metrics');
    const workerMetrics = metrics.filter((e) => e.resource['service.instance.id'] === 'w-otlp');
    expect(workerMetrics.length).toBeGreaterThan(0);
    expect(workerMetrics[0]!.resource).toMatchObject({
      'service.name': 'linkwatch-worker',
      'service.instance.id': 'w-otlp',
      'deployment.environment.name': 'test',
    });
    expect(workerMetrics[0]!.scope).toBe('linkwatch');
    const hubMetrics = metrics.filter((e) => e.resource['service.name'] === 'edge-hub');
    expect(hubMetrics.length).toBeGreaterThan(0);
    const names = new Set(metrics.flatMap((e) => e.names));
    for (const name of expected) expect(names, name).toContain(name);
    // The refused first attempt was recorded as a backoff by the worker itself.
    expect(workerMetrics.flatMap((e) => e.names)).toContain(METRICS.backoffDelay.name);
    const points = workerMetrics.flatMap((e) => e.attrs);
    expect(points.some((a) => a['linkwatch.worker.id'] === 'w-otlp')).toBe(true);

    const spanNames = new Set(r.decoded('traces').flatMap((e) => e.names));
    for (const name of [
      'send linkwatch',
      'process linkwatch',
      'linkwatch.heartbeat',
      'linkwatch.handshake',
    ]) {
      expect(spanNames).toContain(name);
    }

    // Secrets: the token appears in no exported byte, no scrape, no log line, no summary.
    const everything = [
      ...r.raw.metrics,
      ...r.raw.traces,
      ...r.raw.logs,
      Buffer.from(scrape),
      Buffer.from(worker.stderr() + worker.stdout() + hub.stderr() + hub.stdout()),
    ];
    for (const buf of everything) expect(buf.includes(TOKEN)).toBe(false);
    expect(readFileSync(tokenFile, 'utf8')).toContain(TOKEN);
  }, 60_000);
});
