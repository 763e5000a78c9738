#!/usr/bin/env node
/**
 * The long soak (`npm run soak`, minutes, outside CI): a CLI hub and workers
 * as real processes, one worker link through a fault proxy, and, where they
 * are installed, real Prometheus and Alertmanager with the shipped rules
 * exactly as shipped. It samples every process's memory and the alerts all
 * along, and at the end checks the hub's journal: every message of every
 * worker stream processed exactly once, no gaps, no duplicates.
 *
 *   npm run soak -- --minutes 10 --workers 4 --rate 200 [--faults] [--max-old-space-mib 96]
 *
 * Results go to test/soak/results/latest.json and a line per sample on stdout.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startFaultProxy } from '../../dist/chaos/fault-proxy.js';
import { decodeRecord } from '../../dist/cli/journal.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '../..');
const CLI = join(root, 'dist/cli/main.js');
const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '10' },
    workers: { type: 'string', default: '4' },
    rate: { type: 'string', default: '200' },
    faults: { type: 'boolean', default: false },
    'sample-every': { type: 'string', default: '10' },
    'max-old-space-mib': { type: 'string', default: '96' },
  },
});
const minutes = Number(values.minutes);
const nWorkers = Number(values.workers);
const rate = Number(values.rate);
const sampleS = Number(values['sample-every']);
const dir = mkdtempSync(join(tmpdir(), 'linkwatch-soak-'));
const token = `soak-${Math.random().toString(36).slice(2)}-token`;
writeFileSync(join(dir, 'tokens'), `${token}\n`);
writeFileSync(join(dir, 'token'), `${token}\n`);

function freePort() {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function which(name) {
  const r = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

const procs = [];
function run(name, cmd, args) {
  const child = spawn(cmd, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, LINKWATCH_LOG_LEVEL: 'warn' },
  });
  const p = { name, child, out: '', err: '' };
  child.stdout.on('data', (d) => {
    p.out += d;
  });
  child.stderr.on('data', (d) => {
    p.err = (p.err + d).slice(-20_000);
  });
  // 'close' waits for stdout to be read to the end: the summary line comes last.
  p.exited = new Promise((resolve) => child.once('close', (code, signal) => resolve({ code, signal })));
  procs.push(p);
  return p;
}

function rssMiB(pid) {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Math.round(Number(m[1]) / 102.4) / 10 : undefined;
  } catch {
    return undefined;
  }
}

async function waitOk(url, ms = 20_000) {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    try {
      if ((await fetch(url, { signal: AbortSignal.timeout(1000) })).ok) return;
    } catch {}
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`not ready: ${url}`);
}

const hubPort = await freePort();
const hubMetrics = await freePort();
const journal = join(dir, 'journal');
const amBin = which('prometheus-alertmanager');
const promBin = which('prometheus');
let amPort;
if (amBin && promBin) {
  amPort = await freePort();
  writeFileSync(
    join(dir, 'am.yml'),
    `route: { receiver: none, group_by: ['...'] }\nreceivers: [{ name: none }]\n`,
  );
  run('alertmanager', amBin, [
    `--config.file=${join(dir, 'am.yml')}`,
    `--storage.path=${join(dir, 'am')}`,
    `--web.listen-address=127.0.0.1:${amPort}`,
    '--cluster.listen-address=',
  ]);
}
// A capped old space turns a slow leak into a crash within the soak instead of a number to squint at.
const heapCap = `--max-old-space-size=${values['max-old-space-mib']}`;
const hub = run('hub', process.execPath, [
  heapCap,
  CLI,
  'hub',
  '--listen',
  `127.0.0.1:${hubPort}`,
  '--tokens',
  join(dir, 'tokens'),
  '--hub-id',
  'soak-hub',
  '--metrics-listen',
  `127.0.0.1:${hubMetrics}`,
  '--journal',
  journal,
  ...(amPort ? ['--alertmanager', `http://127.0.0.1:${amPort}`] : []),
]);
await waitOk(`http://127.0.0.1:${hubPort}/readyz`);
const proxy = await startFaultProxy({ targetPort: hubPort });
const workers = [];
for (let i = 1; i <= nWorkers; i++) {
  const port = await freePort();
  const url = i === 1 ? proxy.url : `ws://127.0.0.1:${hubPort}`;
  workers.push({
    id: `soak-${i}`,
    metrics: port,
    proc: run(`soak-${i}`, process.execPath, [
      heapCap,
      CLI,
      'worker',
      '--hub',
      url,
      '--id',
      `soak-${i}`,
      '--token-file',
      join(dir, 'token'),
      '--rate',
      String(rate),
      '--metrics-listen',
      `127.0.0.1:${port}`,
      '--backoff-max',
      '2s',
      ...(amPort ? ['--alertmanager', `http://127.0.0.1:${amPort}`] : []),
    ]),
  });
}
let promPort;
if (amPort) {
  promPort = await freePort();
  const targets = [hubMetrics, ...workers.map((w) => w.metrics)].map((p) => `'127.0.0.1:${p}'`).join(', ');
  writeFileSync(
    join(dir, 'prometheus.yml'),
    `global: { scrape_interval: 5s, evaluation_interval: 5s }
rule_files: ['${join(root, 'prometheus/alerts.yml')}', '${join(root, 'prometheus/rules.yml')}']
alerting: { alertmanagers: [{ static_configs: [{ targets: ['127.0.0.1:${amPort}'] }] }] }
scrape_configs: [{ job_name: linkwatch, static_configs: [{ targets: [${targets}] }] }]
`,
  );
  run('prometheus', promBin, [
    `--config.file=${join(dir, 'prometheus.yml')}`,
    `--storage.tsdb.path=${join(dir, 'prom')}`,
    `--web.listen-address=127.0.0.1:${promPort}`,
  ]);
  await waitOk(`http://127.0.0.1:${promPort}/-/ready`);
} else {
  console.log('soak: prometheus/alertmanager not installed; running without them');
}

async function alertsFiring() {
  if (!promPort) return [];
  try {
    const res = await fetch(`http://127.0.0.1:${promPort}/api/v1/alerts`, {
      signal: AbortSignal.timeout(3000),
    });
    const body = await res.json();
    return body.data.alerts
      .filter((a) => a.state === 'firing' && a.labels.alertname !== 'LinkwatchWatchdog')
      .map(
        (a) =>
          `${a.labels.alertname}${a.labels.linkwatch_worker_id ? `{${a.labels.linkwatch_worker_id}}` : ''}`,
      );
  } catch {
    return ['<prometheus unreachable>'];
  }
}

const started = Date.now();
const endAt = started + minutes * 60_000;
const samples = [];
const crashed = [];
const alertsSeen = new Map();
let faultsInjected = 0;
let nextFault = started + 60_000;
while (Date.now() < endAt) {
  await new Promise((r) => setTimeout(r, sampleS * 1000));
  // No fault in the last 40 s: the run ends with every link healthy, so every message can be acked.
  if (values.faults && Date.now() >= nextFault && Date.now() + 40_000 < endAt) {
    faultsInjected++;
    proxy.blackhole('both');
    setTimeout(() => proxy.heal(), 10_000);
    nextFault += 60_000;
  }
  const links = await fetch(`http://127.0.0.1:${hubPort}/links`)
    .then((r) => r.json())
    .catch(() => ({ links: [] }));
  const firing = await alertsFiring();
  for (const a of firing) alertsSeen.set(a, (alertsSeen.get(a) ?? 0) + 1);
  const sample = {
    t: Math.round((Date.now() - started) / 1000),
    rssMiB: Object.fromEntries(
      procs
        .filter((p) => p.name !== 'prometheus' && p.name !== 'alertmanager')
        .map((p) => [p.name, rssMiB(p.child.pid)]),
    ),
    processed: links.links.reduce((n, l) => n + (l.seqs?.processed ?? 0), 0),
    connected: links.links.filter((l) => l.connected).length,
    firing,
  };
  samples.push(sample);
  console.log(JSON.stringify(sample));
  const dead = procs.filter((p) => p.child.exitCode !== null || p.child.signalCode !== null);
  if (dead.length > 0) {
    for (const p of dead)
      crashed.push({
        name: p.name,
        code: p.child.exitCode,
        signal: p.child.signalCode,
        stderr: p.err.slice(-2000),
      });
    console.log(`soak: ${dead.map((p) => p.name).join(', ')} exited early`);
    break;
  }
}

proxy.heal();
for (const w of workers) w.proc.child.kill('SIGTERM');
const workerSummaries = [];
for (const w of workers) {
  await w.proc.exited;
  workerSummaries.push(JSON.parse(w.proc.out.trim().split('\n').at(-1) ?? '{}'));
}
hub.child.kill('SIGTERM');
await hub.exited;
const hubSummary = JSON.parse(hub.out.trim().split('\n').at(-1) ?? '{}');
await proxy.close();
for (const p of procs) if (p.child.exitCode === null) p.child.kill('SIGTERM');

// Exactly once, per worker stream: seqs 1..n, no gap, no repeat.
const streams = new Map();
for (const line of readFileSync(journal, 'utf8').split('\n')) {
  const record = line ? decodeRecord(line) : undefined;
  if (typeof record !== 'object' || record.kind !== 'effect') continue;
  const key = JSON.stringify([record.workerId, record.stream]);
  if (!streams.has(key)) streams.set(key, []);
  streams.get(key).push(record.seq);
}
let duplicates = 0;
let gaps = 0;
for (const seqs of streams.values()) {
  const seen = new Set();
  for (const s of seqs) {
    if (seen.has(s)) duplicates++;
    seen.add(s);
  }
  // A loop, not Math.max(...seqs): a long soak has more seqs than the call stack has room for.
  let max = 0;
  for (const s of seqs) if (s > max) max = s;
  gaps += max - seen.size;
}
const firstHalf = samples.slice(0, Math.ceil(samples.length / 2));
const secondHalf = samples.slice(Math.ceil(samples.length / 2));
const maxRss = (list, name) => Math.max(...list.map((s) => s.rssMiB[name] ?? 0));
const memory = Object.fromEntries(
  Object.keys(samples[0]?.rssMiB ?? {}).map((name) => [
    name,
    { firstHalfMaxMiB: maxRss(firstHalf, name), secondHalfMaxMiB: maxRss(secondHalf, name) },
  ]),
);
const result = {
  date: new Date().toISOString(),
  node: process.version,
  minutes,
  workers: nWorkers,
  ratePerWorker: rate,
  faults: values.faults,
  faultsInjected,
  prometheus: Boolean(promPort),
  sent: workerSummaries.reduce((n, s) => n + (s.sent ?? 0), 0),
  acked: workerSummaries.reduce((n, s) => n + (s.acked ?? 0), 0),
  unacked: workerSummaries.reduce((n, s) => n + (s.unacked ?? 0), 0),
  hub: hubSummary,
  journal: { streams: streams.size, duplicates, gaps },
  memory,
  alertsFiring: Object.fromEntries(alertsSeen),
  crashed,
  samples,
};
mkdirSync(join(here, 'results'), { recursive: true });
writeFileSync(join(here, 'results/latest.json'), `${JSON.stringify(result, null, 2)}\n`);
const ok =
  crashed.length === 0 &&
  duplicates === 0 &&
  gaps === 0 &&
  result.unacked === 0 &&
  (values.faults || alertsSeen.size === 0);
console.log(
  `soak ${ok ? 'PASSED' : 'FAILED'}: ${minutes} min, ${result.sent} sent, ${result.acked} acked, ` +
    `${duplicates} duplicates, ${gaps} gaps, alerts other than LinkwatchWatchdog: ${JSON.stringify(result.alertsFiring)}, ` +
    `memory ${JSON.stringify(memory)}`,
);
process.exit(ok ? 0 : 1);
