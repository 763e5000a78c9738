/**
 * Does a Prometheus scrape of a big hub move heartbeat RTT? (issue 9: RTT p99
 * at most 50 ms at 10,000 workers while Prometheus scrapes every 15 s.)
 *
 *   npm run build && ulimit -n 20000 && npx node bench/telemetry-rtt.js [--workers=10000] [--probes=200]
 *     [--steady=120] [--scrape=15] [--heartbeat=1s] [--rate=1] [--write] [--name=telemetry-rtt]
 *
 * The CLI hub (Prometheus exporter, watchdog, heartbeat 1 s) runs in its own
 * process and `linkwatch load` runs `workers - probes` workers in 2 more, at
 * `rate` msg/s of 256 B each (1, as bench/fleet.js does, by default). This process runs `probes`
 * library Workers without traffic and records every heartbeat round trip
 * they measure with the time it ended, and GETs /metrics every `scrape`
 * seconds, as Prometheus would, recording when each scrape began and ended.
 *
 * Then the round trips are split in two: those that overlapped a scrape (the
 * heartbeat left before the scrape's last byte and its answer came after
 * the scrape's request) and all the others. The same fleet and the same
 * seconds, so the difference between the two is what the scrape does to
 * RTT. The probe process's own event-loop delay is reported beside them: an
 * RTT near it is this process's lag, not the hub's. --scrape=0 never
 * scrapes (a baseline for the whole window).
 *
 * `--write` stores the result in bench/results/telemetry-rtt.json.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { Worker } from '../dist/worker/worker.js';
import { freePort, hubUp, killLeftovers, runCli, sleep, waitUntil } from './fleet/procs.js';

const here = dirname(fileURLToPath(import.meta.url));
const TOKEN = 'telemetry-rtt-token-0123456789';
// The CLI processes, for their stderr when something fails.
const started = {};

function arg(name, fallback) {
  const a = process.argv.find((x) => x.startsWith(`--${name}=`));
  return a ? a.slice(name.length + 3) : fallback;
}

function parseDuration(text) {
  const m = /^(\d+(?:\.\d+)?)(ms|s)$/.exec(text);
  if (!m) throw new TypeError(`Expected --heartbeat like 1s or 500ms, got ${text}`);
  return Number(m[1]) * (m[2] === 's' ? 1000 : 1);
}

function percentiles(xs) {
  if (xs.length === 0) return { p50: null, p90: null, p99: null, max: null, samples: 0 };
  const s = Float64Array.from(xs).sort();
  const at = (q) => Math.round(s[Math.min(s.length - 1, Math.floor(q * s.length))] * 10) / 10;
  return { p50: at(0.5), p90: at(0.9), p99: at(0.99), max: at(1), samples: s.length };
}

/** One GET of /metrics, read to the end: when it began and ended, and its size. */
async function scrape(url) {
  const start = performance.now();
  const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  const body = await res.arrayBuffer();
  return { start, end: performance.now(), bytes: body.byteLength, status: res.status };
}

async function main() {
  const workers = Number(arg('workers', '10000'));
  const probes = Number(arg('probes', '200'));
  const steadyS = Number(arg('steady', '120'));
  const scrapeS = Number(arg('scrape', '15'));
  const heartbeat = arg('heartbeat', '1s');
  const rate = arg('rate', '1');
  const dir = mkdtempSync(join(os.tmpdir(), 'linkwatch-rtt-'));
  writeFileSync(join(dir, 'tokens'), `${TOKEN}\n`);
  const [port, metricsPort] = [await freePort(), await freePort()];
  const hub = runCli([
    'hub',
    '--listen',
    `127.0.0.1:${port}`,
    '--tokens',
    join(dir, 'tokens'),
    '--heartbeat-interval',
    heartbeat,
    '--metrics-listen',
    `127.0.0.1:${metricsPort}`,
  ]);
  started.hub = hub;
  await hubUp(`http://127.0.0.1:${port}`);
  const metricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;

  let loadConnected = 0;
  const load = runCli(
    [
      'load',
      '--hub',
      `ws://127.0.0.1:${port}`,
      '--workers',
      String(workers - probes),
      '--procs',
      '2',
      '--rate',
      rate,
      '--duration',
      '0',
      '--connect-timeout',
      '120s',
      '--token-file',
      join(dir, 'tokens'),
      '--progress',
    ],
    {
      onLine: (line) => {
        if (line.type === 'progress') loadConnected = line.connected ?? loadConnected;
      },
    },
  );

  started.load = load;
  const connectStart = performance.now();
  await waitUntil(
    () => loadConnected >= workers - probes,
    180_000,
    `${workers - probes} load workers connected`,
  );
  // The probes: library Workers in this process, no traffic, every round trip recorded. Started
  // one by one over a heartbeat interval once the fleet is up, so their round trips spread over
  // it: started with the fleet, they would connect in the same burst and beat in step, and a
  // scrape every 15 s (a multiple of the interval) would meet all of them every time, or none.
  const samples = []; // [endedAt (performance.now()), rttMs]
  const probeWorkers = [];
  const spreadMs = parseDuration(heartbeat) / probes;
  for (let i = 0; i < probes; i++) {
    const w = new Worker({ hubs: [`ws://127.0.0.1:${port}`], workerId: `probe-${i}`, token: TOKEN });
    w.on((e) => {
      if (e.type === 'heartbeat-rtt') samples.push([e.at, e.rttMs]);
    }, 'lifecycle');
    probeWorkers.push(w.start());
    await sleep(spreadMs);
  }
  await waitUntil(
    () => probeWorkers.every((w) => w.state === 'connected'),
    60_000,
    `${probes} probes connected`,
  );
  const connectedS = (performance.now() - connectStart) / 1000;
  console.log(`${workers} connected in ${connectedS.toFixed(1)} s; steady phase ${steadyS} s`);
  // Settle: the connect storm's round trips are not steady state.
  await sleep(5_000);
  samples.length = 0;
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  const scrapes = [];
  const steadyStart = performance.now();
  let next = steadyStart + (scrapeS > 0 ? Math.min(5_000, scrapeS * 1000) : Number.POSITIVE_INFINITY);
  while (performance.now() - steadyStart < steadyS * 1000) {
    if (performance.now() >= next) {
      scrapes.push(await scrape(metricsUrl));
      next += scrapeS * 1000;
    }
    await sleep(50);
  }
  loop.disable();
  // Round trips that overlapped a scrape, and the rest.
  const during = [];
  const outside = [];
  for (const [endedAt, rtt] of samples) {
    const sentAt = endedAt - rtt;
    const overlaps = scrapes.some((s) => sentAt < s.end && endedAt > s.start);
    (overlaps ? during : outside).push(rtt);
  }
  const result = {
    at: new Date().toISOString(),
    node: process.version,
    loadAverage: os.loadavg().map((x) => Math.round(x * 10) / 10),
    workers,
    probes,
    heartbeat,
    rate: Number(rate),
    steadyS,
    scrapeEveryS: scrapeS,
    connectedS: Math.round(connectedS * 10) / 10,
    scrapes: scrapes.map((s) => ({ ms: Math.round(s.end - s.start), mb: Math.round(s.bytes / 1e4) / 100 })),
    rttMs: {
      all: percentiles(samples.map((s) => s[1])),
      duringScrape: percentiles(during),
      outsideScrape: percentiles(outside),
    },
    probeLoopDelayP99Ms: Math.round(loop.percentile(99) / 1e5) / 10,
  };
  console.log(JSON.stringify(result, null, 2));
  for (const w of probeWorkers) await w.stop({ timeoutMs: 100 });
  load.child.kill('SIGTERM');
  hub.child.kill('SIGTERM');
  await Promise.race([Promise.all([load.exited, hub.exited]), sleep(15_000)]);
  killLeftovers();
  if (process.argv.includes('--write')) {
    const name = arg('name', 'telemetry-rtt');
    const out = join(here, 'results', `${name}.json`);
    writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
    console.log(`wrote ${out}`);
  }
}

main().catch((err) => {
  killLeftovers();
  console.error(err);
  for (const [name, p] of Object.entries(started))
    console.error(`${name} stderr:\n${p.stderr().slice(-2000)}`);
  process.exit(1);
});
