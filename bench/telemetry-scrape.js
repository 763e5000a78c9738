/**
 * What one Prometheus scrape of a hub costs at fleet size, in process:
 *
 *   npm run build && node --expose-gc bench/telemetry-scrape.js [--workers=1000,10000] [--rounds=3] [--write]
 *
 * The hub is a fake InstrumentTarget holding N synthetic sessions (counters,
 * queue, outbox, link), instrumented the way the CLI does it: the real
 * MeterProvider and PrometheusExporter with src/cli/telemetry-sdk.ts's views,
 * observed metrics through its producer and /metrics from
 * src/cli/metrics-endpoint.ts (a build from before them: the
 * exporter's own server, as the CLI then had it). Each worker gets the lifecycle
 * events of a connect and one heartbeat, and one message's events, so every
 * series a real worker would have exists. Then a separate scraper process
 * GETs /metrics over 127.0.0.1, as Prometheus would, and we record:
 *
 * - bytes of the exposition and series (lines that are not comments),
 * - wall time of the scrape, request to last byte,
 * - the longest event-loop stall during it (a 1 ms interval timer's worst
 *   lateness), which is what heartbeats and the sentinel feel.
 *
 * `--alerting` is a mass outage: every worker's link is down and the hub's
 * watchdog telemetry (src/watchdog/otel-sink.ts, as attachWatchdog sets it
 * up, with the CLI's producer when the build has one) has a
 * LinkwatchLinkDown firing for each, so the per-worker alert series are in
 * the scrape too.
 *
 * `--write` stores the numbers in bench/results/telemetry-scrape.json
 * (`telemetry-scrape-alerting.json` with `--alerting`).
 */
import { fork } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import * as sdk from '../dist/cli/telemetry-sdk.js';
import { LinkEvents } from '../dist/link/events.js';
import { instrument } from '../dist/telemetry/instrumentation.js';
import { makeAlert } from '../dist/watchdog/alerts.js';
import { WatchdogTelemetry } from '../dist/watchdog/otel-sink.js';

// Builds from before the rewrite have neither; then the exporter's own server is measured.
const endpoint = await import('../dist/cli/metrics-endpoint.js').catch(() => undefined);
// Builds from before the exporter dropped the scope labels have no flag.
const { WITHOUT_SCOPE_INFO = false } = await import('../dist/telemetry/prometheus-text.js').catch(() => ({}));

const here = dirname(fileURLToPath(import.meta.url));

function arg(name, fallback) {
  const a = process.argv.find((x) => x.startsWith(`--${name}=`));
  return a ? a.slice(name.length + 3) : fallback;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

function fakeSession(workerId, hubId, i) {
  const counters = {
    sent: 0,
    acked: 0,
    replayed: 0,
    dropped: 0,
    received: 1000 + i,
    processed: 1000 + i,
    duplicates: 0,
    failed: i % 7,
    timedOut: i % 3 === 0 ? 1 : 0,
    reconnects: 0,
    bytesSent: 0,
    bytesReceived: 64_000 + i,
    heartbeatsSent: 100,
    heartbeatsReceived: 100,
    heartbeatsMissed: 0,
  };
  return {
    workerId,
    hubId,
    counters,
    lastHeartbeatAt: performance.now(),
    queue: { depth: i % 5, capacity: 1000, hung: 0 },
    outbox: { size: 0, bytes: 0, waiting: 0, oldestAgeMs: () => 0 },
  };
}

/** A hub with `n` connected workers (all down with `alerting`), as far as telemetry can tell. */
function fakeHub(n, hubId, alerting) {
  const events = new LinkEvents();
  const sessions = new Map();
  const links = new Map();
  for (let i = 0; i < n; i++) {
    const id = `worker-${String(i).padStart(5, '0')}`;
    sessions.set(id, fakeSession(id, hubId, i));
    if (!alerting) links.set(id, { silentMs: () => 800, bufferedAmount: 0 });
  }
  const totals = () => {
    const sum = {};
    for (const s of sessions.values())
      for (const [k, v] of Object.entries(s.counters)) sum[k] = (sum[k] ?? 0) + v;
    return sum;
  };
  return {
    hubId,
    events,
    target: {
      hooks: {},
      on: (l, scope) => events.subscribe(l, scope),
      sessions: () => sessions,
      linkOf: (id) => links.get(id),
      totals,
      stats: { authFailures: 0, framesRejected: 0, handshakeTimeouts: 3 },
    },
    sessions,
  };
}

/** The events one connect, one heartbeat and one message produce on the hub. */
function feed(events, sessions, hubId) {
  for (const id of sessions.keys()) {
    const b = () => ({ side: 'hub', workerId: id, hubId, at: performance.now() });
    events.emit({
      ...b(),
      type: 'connected',
      url: '',
      epoch: 1,
      handshakeMs: 0,
      replayed: 0,
      peerProcessed: 0,
    });
    events.emit({ ...b(), type: 'heartbeat-sent', id: 1 });
    events.emit({ ...b(), type: 'heartbeat-rtt', rttMs: 0.4 });
    events.emit({
      ...b(),
      type: 'heartbeat-received',
      progress: { sent: 1, acked: 1, processed: 1, depth: 0 },
    });
    if (events.perMessage) {
      events.emit({ ...b(), type: 'data-received', seq: 1, bytes: 64 });
      events.emit({ ...b(), type: 'queue-enqueued', seq: 1, depth: 1, traceparent: undefined });
      events.emit({ ...b(), type: 'queue-started', seq: 1, waitMs: 0.05 });
      events.emit({ ...b(), type: 'queue-completed', seq: 1, durationMs: 0.02 });
    }
  }
}

/** In the scraper process: GET /metrics, count bytes and series, report back. */
function clientMain() {
  process.on('message', ({ port }) => {
    const t0 = performance.now();
    const req = request({ host: '127.0.0.1', port, path: '/metrics' }, (res) => {
      let bytes = 0;
      let series = 0;
      let overflow = 0;
      let atLineStart = true;
      res.on('data', (buf) => {
        bytes += buf.length;
        // Overflow series: the SDK's otel_metric_overflow="true" label, one per overflowing metric.
        for (
          let i = buf.indexOf('otel_metric_overflow');
          i >= 0;
          i = buf.indexOf('otel_metric_overflow', i + 1)
        )
          overflow++;
        for (let i = 0; i < buf.length; i++) {
          if (atLineStart && buf[i] !== 35 && buf[i] !== 10) series++;
          atLineStart = buf[i] === 10;
        }
      });
      res.on('end', () => process.send({ bytes, series, overflow, ms: performance.now() - t0 }));
    });
    req.on('error', (e) => process.send({ error: String(e) }));
    req.end();
  });
}

/** Has the scraper process GET /metrics while a 1 ms timer watches this process's loop. */
function scrape(client, port) {
  return new Promise((resolve, reject) => {
    let worstLateMs = 0;
    let last = performance.now();
    const tick = setInterval(() => {
      const now = performance.now();
      worstLateMs = Math.max(worstLateMs, now - last - 1);
      last = now;
    }, 1);
    client.once('message', (r) => {
      clearInterval(tick);
      if (r.error) reject(new Error(r.error));
      else resolve({ ...r, eventLoopBlockMs: worstLateMs });
    });
    client.send({ port });
  });
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** The hub's watchdog telemetry with a LinkwatchLinkDown firing for every worker. */
function massOutage(sessions, hubId, meterProvider, producers) {
  const watchdog = new WatchdogTelemetry({
    meterProvider,
    base: { 'linkwatch.link.side': 'hub', 'linkwatch.hub.id': hubId },
    ...(producers ? { observedMetrics: producers.link } : {}),
  });
  const since = new Date();
  for (const id of sessions.keys()) {
    watchdog.deliver(makeAlert('link-down', { workerId: id, hubId, side: 'hub' }, 'down', since));
  }
  return watchdog;
}

async function measure(n, rounds, alerting) {
  const hubId = 'hub-bench';
  const port = await freePort();
  const producers =
    typeof sdk.linkwatchMetricProducers === 'function' ? sdk.linkwatchMetricProducers() : undefined;
  const exporter = new PrometheusExporter({
    host: '127.0.0.1',
    port,
    preventServerStart: true,
    withoutScopeInfo: WITHOUT_SCOPE_INFO,
  });
  const views = typeof sdk.linkwatchViews === 'function' ? sdk.linkwatchViews() : [];
  const meterProvider = new MeterProvider({ readers: [exporter], views });
  const fake = fakeHub(n, hubId, alerting);
  const telemetry = instrument(fake.target, {
    side: 'hub',
    hubId,
    meterProvider,
    ...(producers ? { observedMetrics: producers.link } : {}),
  });
  feed(fake.events, fake.sessions, hubId);
  const watchdog = alerting ? massOutage(fake.sessions, hubId, meterProvider, producers) : undefined;
  const server =
    producers && endpoint
      ? await endpoint.startMetricsEndpoint(exporter, producers.link, '127.0.0.1', port)
      : undefined;
  if (!server) await exporter.startServer();
  const runs = [];
  const client = fork(fileURLToPath(import.meta.url), ['--client']);
  for (let r = 0; r < rounds + 1; r++) {
    globalThis.gc?.();
    const res = await scrape(client, port);
    if (r > 0) runs.push(res); // the first scrape warms the code paths
  }
  client.kill();
  if (server) server.close();
  else await exporter.stopServer();
  telemetry.dispose();
  await watchdog?.close();
  await meterProvider.shutdown();
  const pick = (k) => median(runs.map((x) => x[k]));
  return {
    workers: n,
    bytes: pick('bytes'),
    series: pick('series'),
    overflowSeries: pick('overflow'),
    scrapeMs: Math.round(pick('ms')),
    eventLoopBlockMs: Math.round(pick('eventLoopBlockMs')),
    rounds,
    alerting,
  };
}

if (process.argv.includes('--client')) {
  clientMain();
} else {
  await main();
}

async function main() {
  const workers = arg('workers', '1000,10000').split(',').map(Number);
  const rounds = Number(arg('rounds', '3'));
  const alerting = process.argv.includes('--alerting');
  const results = [];
  for (const n of workers) {
    const r = await measure(n, rounds, alerting);
    results.push(r);
    console.log(
      `${n} workers${alerting ? ', every one alerting' : ''}: ${(r.bytes / 1e6).toFixed(2)} MB, ${r.series} series (${r.overflowSeries} overflow), ` +
        `scrape ${r.scrapeMs} ms, event loop blocked ${r.eventLoopBlockMs} ms (median of ${rounds})`,
    );
  }
  if (process.argv.includes('--write')) {
    const out = join(here, 'results', `telemetry-scrape${alerting ? '-alerting' : ''}.json`);
    writeFileSync(
      out,
      `${JSON.stringify({ at: new Date().toISOString(), node: process.version, results }, null, 2)}\n`,
    );
    console.log(`wrote ${out}`);
  }
}
