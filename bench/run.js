/**
 * The benchmark runner behind `npm run bench` (which builds first).
 *
 *   node bench/run.js [--quick] [--rounds=N] [--only=throughput,latency,...] [--variants=ours,raw,...]
 *
 * Each benchmark runs in a child process of its own with --expose-gc
 * (bench/child.js). Throughput, latency and telemetry coordinate from there
 * a sender and a receiver in two more processes (bench/pair.js); memory and
 * reconnect run hub and worker inside that child. A full run writes
 * bench/results/latest.json, latest.md and a dated copy, and refreshes the
 * results block of bench/README.md; a quick or partial run writes
 * bench/results/partial.{json,md}.tmp instead, so it never replaces the
 * committed numbers.
 *
 * `--only=fleet` runs the fleet benchmark, bench/fleet.js (owned separately,
 * a script that writes its own bench/results/fleet-latest.*), when that file
 * exists: as `node bench/fleet.js ARGS` under `ulimit -n 20000`, where ARGS
 * are whatever follows `--` (`node bench/run.js --only=fleet -- --sizes=1000`).
 * It is not part of the default run.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { VARIANTS } from './variants.js';

const BENCHMARKS = ['throughput', 'latency', 'telemetry', 'memory', 'reconnect'];
/** Run only when named in --only. */
const OPTIONAL = ['fleet'];
const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const resultsDir = join(here, 'results');

function parseArgs(argv) {
  const args = { quick: false, rounds: undefined, only: BENCHMARKS, fleetArgs: [] };
  const dashes = argv.indexOf('--');
  if (dashes >= 0) {
    args.fleetArgs = argv.slice(dashes + 1);
    argv = argv.slice(0, dashes);
  }
  for (const a of argv) {
    if (a === '--quick') args.quick = true;
    else if (a.startsWith('--rounds=')) args.rounds = Number(a.slice('--rounds='.length));
    else if (a.startsWith('--only=')) args.only = a.slice('--only='.length).split(',');
    else if (a.startsWith('--variants=')) args.variants = a.slice('--variants='.length).split(',');
    else if (a.startsWith('--memory-seconds='))
      args.memorySeconds = Number(a.slice('--memory-seconds='.length));
    else if (a === '--help' || a === '-h') {
      console.log(
        `node bench/run.js [--quick] [--rounds=N] [--only=${[...BENCHMARKS, ...OPTIONAL].join(',')}] ` +
          `[--variants=${Object.keys(VARIANTS).join(',')}] [--memory-seconds=S]`,
      );
      process.exit(0);
    } else throw new Error(`unknown argument ${a}; try --help`);
  }
  for (const name of args.only) {
    if (!BENCHMARKS.includes(name) && !OPTIONAL.includes(name))
      throw new Error(`unknown benchmark ${name}; one of ${[...BENCHMARKS, ...OPTIONAL].join(', ')}`);
  }
  for (const v of args.variants ?? []) {
    if (!(v in VARIANTS)) throw new Error(`unknown variant ${v}; one of ${Object.keys(VARIANTS).join(', ')}`);
  }
  if (args.variants && !args.variants.includes('ours')) args.variants.unshift('ours');
  if (args.rounds !== undefined && !(Number.isInteger(args.rounds) && args.rounds >= 1)) {
    throw new Error(`--rounds must be a positive integer, got ${args.rounds}`);
  }
  // Seven rounds by default: on a shared machine the median of five still moves with one bad round.
  args.rounds ??= args.quick ? 3 : 7;
  return args;
}

/** The fleet benchmark, as its own script; it opens thousands of sockets, so the descriptor limit goes up first. */
function runFleet(fleetArgs) {
  return new Promise((resolve, reject) => {
    const child = spawn(
      'sh',
      [
        '-c',
        'ulimit -n 20000 2>/dev/null; exec "$0" "$@"',
        process.execPath,
        join(here, 'fleet.js'),
        ...fleetArgs,
      ],
      { cwd: root, stdio: 'inherit' },
    );
    child.on('exit', (code, signal) => {
      if (code === 0) resolve();
      else reject(new Error(`bench/fleet.js exited with ${signal ?? code}`));
    });
  });
}

function runChild(name, options) {
  return new Promise((resolve, reject) => {
    const childArgs = ['--expose-gc', join(here, 'child.js'), name, JSON.stringify(options)];
    const child = spawn(process.execPath, childArgs, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    let report;
    child.on('message', (m) => {
      report = m;
    });
    child.on('exit', (code, signal) => {
      if (report) resolve(report);
      else reject(new Error(`benchmark ${name} exited with ${signal ?? code} and no result`));
    });
  });
}

function git(...args) {
  try {
    return execFileSync('git', args, { cwd: root, encoding: 'utf8' }).trim();
  } catch {
    return undefined;
  }
}

function versionOf(pkg) {
  try {
    return JSON.parse(readFileSync(join(root, 'node_modules', pkg, 'package.json'), 'utf8')).version;
  } catch {
    return undefined;
  }
}

function environment() {
  const cpus = os.cpus();
  return {
    node: process.version,
    v8: process.versions.v8,
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    cpu: { model: cpus[0]?.model ?? 'unknown', cores: cpus.length },
    totalMemMB: Math.round(os.totalmem() / 1024 / 1024),
    loadAvgAtStart: os.loadavg().map((v) => Math.round(v * 100) / 100),
    packages: Object.fromEntries(
      [
        'ws',
        '@opentelemetry/api',
        '@opentelemetry/sdk-node',
        '@opentelemetry/sdk-trace',
        '@opentelemetry/sdk-metrics',
        'socket.io',
        'socket.io-client',
        '@nats-io/transport-node',
        '@nats-io/jetstream',
      ].map((p) => [p, versionOf(p)]),
    ),
    git: {
      commit: git('rev-parse', '--short', 'HEAD'),
      // dist/ is built from the working tree; say whether src/ differed from the commit.
      srcDirty: (git('status', '--porcelain', '--', 'src') ?? '') !== '',
    },
  };
}

function markdown(doc) {
  const e = doc.environment;
  const lines = [
    '# linkwatch benchmark results',
    '',
    `${doc.date} · \`${doc.command}\` · ${doc.quick ? 'quick run · ' : ''}${doc.rounds} rounds · took ${doc.durationS} s`,
    '',
    `Node ${e.node} · ${e.cpu.model} × ${e.cpu.cores} · ${e.platform} · load at start ${e.loadAvgAtStart.join(' ')}, ` +
      `at end ${e.loadAvgAtEnd.join(' ')} · ` +
      `commit ${e.git.commit}${e.git.srcDirty ? ' (src/ had uncommitted changes)' : ''} · ws ${e.packages.ws}`,
    '',
    'Medians over rounds; ranges are the lowest and highest round. Ratios are taken within a round ' +
      '(the variants ran back to back, in rotating order) and then summarised. Throughput and telemetry: ' +
      'sender and receiver in separate processes, fresh for every measurement. Latency: separate processes, kept ' +
      'for an epoch in which the variants take turns in short slices (see its section). Memory and reconnect: hub and worker in one process.',
  ];
  const load = Math.max(e.loadAvgAtStart[0], e.loadAvgAtEnd[0]);
  if (load > e.cpu.cores) {
    lines.push(
      '',
      `**The machine was overloaded** (load average up to ${load} on ${e.cpu.cores} cores): every process got a ` +
        'fraction of a core, and how a transport copes with that differs, so throughput ratios swing from round to ' +
        'round. CPU per message (and its ratios) is the steadier signal in such a run.',
    );
  }
  for (const b of doc.benchmarks) {
    lines.push('', `## ${b.title}`, '', b.markdown);
  }
  return `${lines.join('\n')}\n`;
}

/** Replaces the results block of bench/README.md (between the markers) with this run's tables. */
function updateReadme(md) {
  const file = join(here, 'README.md');
  if (!existsSync(file)) return;
  const text = readFileSync(file, 'utf8');
  const start = '<!-- latest:start -->';
  const end = '<!-- latest:end -->';
  const i = text.indexOf(start);
  const j = text.indexOf(end);
  if (i < 0 || j < i) return;
  // The README has its own title; demote the results' headings one level.
  const body = md
    .replace(/^# .*\n\n/, '')
    .replace(/^(#+) /gm, '$1# ')
    .trim();
  writeAtomic(file, `${text.slice(0, i + start.length)}\n${body}\n${text.slice(j)}`);
  // Biome formats Markdown too (it aligns tables); keep `npm run lint` green after a run.
  try {
    execFileSync(join(root, 'node_modules', '.bin', 'biome'), ['format', '--write', file], {
      stdio: 'ignore',
    });
  } catch {
    console.warn('could not run biome on bench/README.md; run `npx biome check --write bench`');
  }
}

function writeAtomic(file, text) {
  writeFileSync(`${file}.tmp`, text);
  renameSync(`${file}.tmp`, file);
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  if (!existsSync(join(root, 'dist', 'index.js'))) {
    throw new Error('dist/ is missing: run `npm run build` first (or use `npm run bench`)');
  }
  const started = performance.now();
  const date = new Date().toISOString();
  const env = environment();
  console.log(
    `linkwatch bench: node ${env.node}, ${env.cpu.model} × ${env.cpu.cores}, load ${env.loadAvgAtStart.join(' ')}`,
  );
  const benchmarks = [];
  for (const name of args.only) {
    if (name === 'fleet') {
      if (existsSync(join(here, 'fleet.js'))) {
        console.log(
          `fleet: node bench/fleet.js ${args.fleetArgs.join(' ')} (writes bench/results/fleet-latest.*)`,
        );
        await runFleet(args.fleetArgs);
      } else console.log('fleet: bench/fleet.js does not exist here; skipped');
      continue;
    }
    console.log(`${name}…`);
    const report = await runChild(name, {
      quick: args.quick,
      rounds: args.rounds,
      memorySeconds: args.memorySeconds,
      variants: args.variants,
    });
    console.log(`${name}: ${report.summary} (${report.durationS} s)`);
    benchmarks.push(report);
  }
  if (benchmarks.length === 0) return;
  const doc = {
    schema: 1,
    date,
    command: `node bench/run.js ${process.argv.slice(2).join(' ')}`.trim(),
    quick: args.quick,
    rounds: args.rounds,
    durationS: Math.round(performance.now() - started) / 1000,
    environment: { ...env, loadAvgAtEnd: os.loadavg().map((v) => Math.round(v * 100) / 100) },
    benchmarks: benchmarks.map(({ markdown: _md, ...rest }) => rest),
  };
  const md = markdown({ ...doc, benchmarks });
  mkdirSync(resultsDir, { recursive: true });
  const full =
    !args.quick &&
    BENCHMARKS.every((b) => args.only.includes(b)) &&
    args.memorySeconds === undefined &&
    args.variants === undefined;
  const json = `${JSON.stringify(doc, null, 2)}\n`;
  if (full) {
    const day = date.slice(0, 10);
    for (const [file, text] of [
      ['latest.json', json],
      ['latest.md', md],
      [`${day}.json`, json],
      [`${day}.md`, md],
    ]) {
      writeAtomic(join(resultsDir, file), text);
    }
    updateReadme(md);
    console.log(
      `wrote bench/results/latest.{json,md}, ${day}.{json,md} and the README tables in ${doc.durationS} s`,
    );
  } else {
    writeFileSync(join(resultsDir, 'partial.json.tmp'), json);
    writeFileSync(join(resultsDir, 'partial.md.tmp'), md);
    console.log(`wrote bench/results/partial.{json,md}.tmp (quick or partial run) in ${doc.durationS} s`);
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
