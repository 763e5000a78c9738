/**
 * One hub, many workers (issue 10). The CLI hub (Prometheus exporter on, the
 * watchdog on, heartbeat 1 s, --journal) runs in its own process, and
 * `linkwatch load` runs the workers in separate processes, each sending
 * 1 msg/s of 256 B. For each fleet size it measures:
 *
 * - the time until every worker connected, from cold (all dial at once);
 * - hub CPU (% of one core) and RSS at steady state, with Prometheus
 *   scraping /metrics every 15 s; RSS per link above the empty hub;
 * - heartbeat RTT p99 seen by the workers; links not healthy on /links.
 *
 * Then, at the largest size, a reconnect storm: SIGKILL the hub, restart it
 * after 2 s on the same journal, and measure the time until every worker
 * streams again, handshake failures by code, and from the journal what the
 * handler saw twice or never.
 *
 *   npm run build && ulimit -n 20000 && npx node bench/fleet.js [--sizes=1000,5000,10000] [--steady=20]
 *     [--procs=2] [--storm=10000|none] [--log-level=warn] [--scrape=15|0] [--cpu-prof=DIR]
 *
 * --scrape=0 leaves the exporter on but never scrapes it (to tell the scrape's cost from the rest);
 * --cpu-prof=DIR writes the hub's CPU profile there (node --cpu-prof) when it exits;
 * --name=NAME writes fleet-NAME.{json,md} instead of fleet-latest;
 * --hub-node-options=FLAGS starts the hub with NODE_OPTIONS=FLAGS (e.g. --max-semi-space-size=2);
 * --hub-cpus=LIST and --load-cpus=LIST pin the hub and the load processes with taskset (e.g. 0 and 1).
 *
 * Writes bench/results/fleet-latest.json and fleet-latest.md (see --name).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { analyseJournal } from './fleet/journal.js';
import {
  cpuPercent,
  freePort,
  hubUp,
  killLeftovers,
  procSample,
  runCli,
  sleep,
  waitUntil,
} from './fleet/procs.js';
import { writeFleetReport } from './fleet/report.js';

const GOALS = {
  connectS: 20,
  cpuPercent: 50,
  rssPerLinkKb: 30,
  rttP99Ms: 50,
  degraded: 0,
  stormS: 30,
};
const TOKEN = 'fleet-bench-token-0123456789';

function parseArgs(argv) {
  const a = {
    sizes: [1000, 5000, 10000],
    steadyS: 20,
    procs: 2,
    storm: undefined,
    logLevel: 'warn',
    scrapeS: 15,
    cpuProf: undefined,
    hubNodeOptions: '',
    hubCpus: undefined,
    loadCpus: undefined,
    name: 'latest',
  };
  for (const arg of argv) {
    const [k, v] = arg.replace(/^--/, '').split('=');
    if (k === 'sizes') a.sizes = v.split(',').map(Number);
    else if (k === 'steady') a.steadyS = Number(v);
    else if (k === 'procs') a.procs = Number(v);
    else if (k === 'storm') a.storm = v === 'none' ? null : Number(v);
    else if (k === 'log-level') a.logLevel = v;
    else if (k === 'scrape') a.scrapeS = Number(v);
    else if (k === 'cpu-prof') a.cpuProf = v;
    else if (k === 'name') a.name = v;
    else if (k === 'hub-node-options') a.hubNodeOptions = arg.slice(arg.indexOf('=') + 1);
    else if (k === 'hub-cpus') a.hubCpus = v;
    else if (k === 'load-cpus') a.loadCpus = v;
    else throw new Error(`unknown argument ${arg}; see the header of bench/fleet.js`);
  }
  a.storm = a.storm === undefined ? Math.max(...a.sizes) : a.storm;
  return a;
}

function hubArgs(port, metricsPort, tokens, journal) {
  return [
    'hub',
    '--listen',
    `127.0.0.1:${port}`,
    '--tokens',
    tokens,
    '--metrics-listen',
    `127.0.0.1:${metricsPort}`,
    '--heartbeat-interval',
    '1s',
    '--journal',
    journal,
  ];
}

/** Link states on /links, and how long the hub took to answer. */
async function linkStates(httpUrl) {
  const start = performance.now();
  const body = await (await fetch(`${httpUrl}/links`, { signal: AbortSignal.timeout(30_000) })).json();
  const states = {};
  for (const l of body.links) states[l.state] = (states[l.state] ?? 0) + 1;
  return { states, ms: Math.round(performance.now() - start) };
}

/** One Prometheus scrape: its size, time, the hub CPU it took, and degraded links by the link-state gauge. */
async function scrape(metricsUrl, pid) {
  const cpu0 = procSample(pid);
  const start = performance.now();
  const text = await (await fetch(metricsUrl, { signal: AbortSignal.timeout(60_000) })).text();
  const ms = Math.round(performance.now() - start);
  // All the hub's CPU while the scrape ran: the scrape itself plus the links' ordinary work meanwhile.
  const hubCpuS = Math.round((procSample(pid).cpuS - cpu0.cpuS) * 100) / 100;
  let degraded = 0;
  let series = 0;
  // Series the SDK folded into one overflow series: its cardinality limit (2,000 by default) was hit.
  let overflow = 0;
  let hubLoopDelayMs;
  // The hub's own heartbeat RTT histogram (hub-wide): cumulative counts by upper bound, seconds.
  const hubRttBuckets = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    series++;
    if (line.startsWith('linkwatch_heartbeat_rtt_seconds_bucket{') && line.includes('side="hub"')) {
      const le = /le="([^"]+)"/.exec(line)?.[1];
      hubRttBuckets.push({
        le: le === '+Inf' ? Number.POSITIVE_INFINITY : Number(le),
        count: Number(line.split(' ').at(-1)),
      });
    }
    if (line.includes('otel_metric_overflow')) overflow++;
    // The watchdog's event-loop delay p99 (since its last check): the hub's own lag.
    if (line.startsWith('linkwatch_eventloop_delay_seconds'))
      hubLoopDelayMs = Number(line.split(' ').at(-1)) * 1000;
    if (
      line.startsWith('linkwatch_link_state{') &&
      /state="(degraded|stalled)"/.test(line) &&
      / 1$/.test(line)
    )
      degraded++;
  }
  return { ms, hubCpuS, bytes: text.length, series, degraded, overflow, hubLoopDelayMs, hubRttBuckets };
}

/**
 * Percentiles of the hub's own heartbeat RTT between two scrapes, from the
 * histogram's bucket counts: each is the upper bound of the bucket it falls in.
 */
function hubRttBetween(first, last) {
  if (!first?.hubRttBuckets?.length || !last?.hubRttBuckets?.length) return undefined;
  const counts = last.hubRttBuckets.map((b, i) => ({
    le: b.le,
    count: b.count - (first.hubRttBuckets[i]?.count ?? 0),
  }));
  const total = counts.at(-1).count;
  if (total <= 0) return undefined;
  const at = (q) => counts.find((b) => b.count >= q * total)?.le * 1000;
  return { samples: total, p50AtMostMs: at(0.5), p90AtMostMs: at(0.9), p99AtMostMs: at(0.99) };
}

/** Median and worst of the hub's event-loop delay p99 (the watchdog's gauge) over the window's scrapes. */
function hubLoopDelay(scrapes) {
  const v = scrapes
    .map((x) => x.hubLoopDelayMs)
    .filter((x) => Number.isFinite(x))
    .sort((a, b) => a - b);
  if (v.length === 0) return undefined;
  return { p99Median: round(v[Math.floor(v.length / 2)]), p99Max: round(v.at(-1)) };
}

async function runSize(n, args, dir, storm) {
  const port = await freePort();
  const metricsPort = await freePort();
  const tokens = join(dir, 'tokens');
  writeFileSync(tokens, `${TOKEN}\n`);
  const journal = join(dir, `journal-${n}`);
  const httpUrl = `http://127.0.0.1:${port}`;
  const metricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;
  const env = { LINKWATCH_LOG_LEVEL: args.logLevel };
  const hubOptions = [
    args.hubNodeOptions,
    args.cpuProf ? `--cpu-prof --cpu-prof-dir=${args.cpuProf}` : '',
  ].filter(Boolean);
  const hubEnv = hubOptions.length > 0 ? { ...env, NODE_OPTIONS: hubOptions.join(' ') } : env;
  let hub = runCli(hubArgs(port, metricsPort, tokens, journal), { env: hubEnv, cpus: args.hubCpus });
  await hubUp(httpUrl);
  await sleep(2000);
  const empty = procSample(hub.child.pid);
  console.log(`[${n}] empty hub RSS ${(empty.rss / 2 ** 20).toFixed(1)} MB`);

  let latest;
  const progress = [];
  const load = runCli(
    [
      'load',
      '--hub',
      `ws://127.0.0.1:${port}`,
      '--workers',
      String(n),
      '--procs',
      String(args.procs),
      '--rate',
      '1',
      '--size',
      '256',
      '--duration',
      '0',
      '--connect-timeout',
      '90s',
      '--drain-timeout',
      '10s',
      '--token-file',
      tokens,
      '--progress',
    ],
    {
      env,
      cpus: args.loadCpus,
      onLine: (l) => {
        if (l.type === 'progress') {
          latest = l;
          progress.push(l);
        }
      },
    },
  );
  // Connect phase: the hub's CPU while every worker dials at once.
  const beforeConnect = procSample(hub.child.pid);
  await waitUntil(() => latest && latest.everConnected >= n, 95_000, `${n} workers connected`).catch((err) =>
    console.log(`[${n}] ${err.message}; connected ${latest?.everConnected ?? 0}`),
  );
  const afterConnect = procSample(hub.child.pid);
  const connectWallS = (afterConnect.at - beforeConnect.at) / 1000;
  console.log(`[${n}] connected ${latest?.everConnected} in about ${connectWallS.toFixed(1)} s`);

  // Steady state: warm up, then a window with a Prometheus scrape every 15 s.
  await sleep(5000);
  const s0 = procSample(hub.child.pid);
  const scrapes = [];
  const steadyEnd = performance.now() + args.steadyS * 1000;
  while (performance.now() < steadyEnd) {
    if (args.scrapeS > 0)
      scrapes.push(await scrape(metricsUrl, hub.child.pid).catch((err) => ({ error: err.message })));
    await sleep(
      Math.min(
        args.scrapeS > 0 ? args.scrapeS * 1000 : Number.POSITIVE_INFINITY,
        Math.max(0, steadyEnd - performance.now()),
      ),
    );
  }
  const s1 = procSample(hub.child.pid);
  const links = await linkStates(httpUrl).catch((err) => ({
    states: { unanswered: n },
    ms: null,
    error: err.message,
  }));
  const lastScrape = await scrape(metricsUrl, hub.child.pid).catch((err) => ({ error: err.message }));
  const notHealthy = links.error ? null : n - (links.states.healthy ?? 0);
  console.log(
    `[${n}] steady: hub CPU ${cpuPercent(s0, s1)} %, RSS ${(s1.rss / 2 ** 20).toFixed(1)} MB, states ${JSON.stringify(links.states)}`,
  );

  let stormResult;
  if (storm) {
    stormResult = await reconnectStorm(n, {
      hub,
      latest: () => latest,
      progress,
      restart: () => {
        hub = runCli(hubArgs(port, metricsPort, tokens, journal), {
          env: args.hubNodeOptions ? { ...env, NODE_OPTIONS: args.hubNodeOptions } : env,
          cpus: args.hubCpus,
        });
        return hub;
      },
      httpUrl,
    });
  }

  load.child.kill('SIGTERM');
  await load.exited;
  const summary = load.lines.find((l) => l.type === 'summary');
  hub.child.kill('SIGTERM');
  await hub.exited;
  const journalStats = analyseJournal(journal);
  if (stormResult) stormResult.journal = journalStats;
  const result = {
    workers: n,
    loadProcs: args.procs,
    connected: summary?.connected ?? latest?.everConnected ?? 0,
    allConnectedS: summary?.allConnectedMs == null ? null : summary.allConnectedMs / 1000,
    connectMs: summary?.connectMs,
    hubCpuConnectPercent: cpuPercent(beforeConnect, afterConnect),
    // CPU per unit of work: comparable across runs even when other processes take the cores.
    hubCpuMsPerConnect: round(
      ((afterConnect.cpuS - beforeConnect.cpuS) * 1000) / Math.max(1, latest?.everConnected ?? 0),
    ),
    hubCpuUsPerLinkSecond: round(((s1.cpuS - s0.cpuS) * 1e6) / n / ((s1.at - s0.at) / 1000)),
    machineLoadAverage: os.loadavg()[0],
    hubCpuSteadyPercent: cpuPercent(s0, s1),
    hubRssEmptyMB: round(empty.rss / 2 ** 20),
    hubRssSteadyMB: round(s1.rss / 2 ** 20),
    rssPerLinkKB: round((s1.rss - empty.rss) / n / 1024),
    rttMs: summary?.rttMs,
    rttUnsteadyMs: summary?.rttUnsteadyMs,
    hubRttMs: hubRttBetween(
      scrapes.find((x) => !x.error),
      lastScrape,
    ),
    hubLoopDelayMs: hubLoopDelay([...scrapes, lastScrape].filter((x) => !x.error)),
    loadLoopDelayMs: summary?.loadLoopDelayMs,
    linkStates: links.states,
    linksError: links.error,
    notHealthy,
    degradedByMetric: lastScrape.degraded,
    linksMs: links.ms,
    scrape: lastScrape,
    scrapes,
    sent: summary?.sent,
    acked: summary?.acked,
    lost: summary?.lost,
    handshakeFailures: summary?.handshakeFailures,
    journal: journalStats,
    storm: stormResult,
  };
  return result;
}

/** SIGKILL the hub, restart it after 2 s on the same journal, wait until every worker streams again. */
async function reconnectStorm(n, { hub, latest, progress, restart, httpUrl }) {
  const failuresBefore = { ...(latest()?.handshakeFailures ?? {}) };
  const killedAt = performance.now();
  hub.child.kill('SIGKILL');
  await hub.exited;
  console.log(`[${n}] storm: hub killed`);
  await sleep(2000);
  const restarted = restart();
  const restartedAt = performance.now();
  await hubUp(httpUrl, 30_000).catch(() => {});
  const upAt = performance.now();
  // Streaming again: connected, and acks moved since the link came back. A progress line taken
  // before the kill shows everyone streaming, so only lines after the restart count.
  const mark = progress.length;
  let streamingAt;
  await waitUntil(
    () => {
      const fresh = progress.slice(mark);
      const done = fresh.find((p) => p.streaming >= n);
      if (done) streamingAt = performance.now();
      return done !== undefined;
    },
    120_000,
    'every worker streaming again',
  ).catch((err) => console.log(`[${n}] storm: ${err.message}; streaming ${latest()?.streaming}`));
  const sampleCpu = procSample(restarted.child.pid);
  const after = latest();
  const failures = {};
  for (const [code, count] of Object.entries(after?.handshakeFailures ?? {})) {
    const d = count - (failuresBefore[code] ?? 0);
    if (d > 0) failures[code] = d;
  }
  const r = {
    workers: n,
    hubUpAfterRestartS: round((upAt - restartedAt) / 1000),
    allStreamingAfterRestartS: streamingAt === undefined ? null : round((streamingAt - restartedAt) / 1000),
    allStreamingAfterKillS: streamingAt === undefined ? null : round((streamingAt - killedAt) / 1000),
    streaming: after?.streaming,
    handshakeFailures: failures,
    handshakeTimeouts: failures.LW_ERR_HANDSHAKE_TIMEOUT ?? 0,
    hubRssAfterStormMB: round(sampleCpu.rss / 2 ** 20),
    // Progress lines come once a second: the times above are within about 1 s.
    resolutionS: 1,
  };
  console.log(`[${n}] storm: ${JSON.stringify(r)}`);
  return r;
}

function round(x) {
  return Math.round(x * 10) / 10;
}

async function main() {
  // The hub and the load tool run on this node: the repository's pinned one (npx node), not an old system node.
  if (Number(process.versions.node.split('.')[0]) < 22) {
    throw new Error(`node ${process.version}: run with the repository's node, npx node bench/fleet.js`);
  }
  const args = parseArgs(process.argv.slice(2));
  const dir = mkdtempSync(join(os.tmpdir(), 'linkwatch-fleet-'));
  const results = [];
  try {
    for (const n of args.sizes) {
      results.push(await runSize(n, args, dir, n === args.storm));
    }
  } finally {
    killLeftovers();
    rmSync(dir, { recursive: true, force: true });
  }
  const here = dirname(fileURLToPath(import.meta.url));
  writeFleetReport(join(here, 'results'), { args, goals: GOALS, results });
}

await main();
