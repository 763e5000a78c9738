/**
 * Where the time goes on the throughput path: runs the cross-process
 * throughput measurement of one variant with the receiving (`--side=server`,
 * our hub) or sending (`--side=client`, our worker) process under
 * `--cpu-prof`, and prints self time by module and by function.
 *
 *   npm run build && node bench/profile.js [--bytes=64] [--seconds=3] [--variant=ours] [--side=server|client]
 *
 * The profile file stays in the printed temp directory for Chrome DevTools.
 */
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { measurePair } from './pair.js';
import { VARIANTS } from './variants.js';

const root = fileURLToPath(new URL('..', import.meta.url));

function options(argv) {
  const o = { bytes: 64, seconds: 3, variant: 'ours', side: 'server' };
  for (const a of argv) {
    const [k, v] = a.replace(/^--/, '').split('=');
    if (k === 'bytes' || k === 'seconds') o[k] = Number(v);
    else if (k === 'variant' && v in VARIANTS && !VARIANTS[v].broker) o.variant = v;
    else if (k === 'side' && (v === 'server' || v === 'client')) o.side = v;
    else throw new Error(`unknown option ${a}`);
  }
  return o;
}

/** Self time per node id, from the sample stream. */
function selfTimes(profile) {
  const self = new Map();
  let total = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const dt = profile.timeDeltas[i] ?? 0;
    self.set(profile.samples[i], (self.get(profile.samples[i]) ?? 0) + dt);
    total += dt;
  }
  return { self, total };
}

function moduleOf(frame) {
  const url = frame.url;
  if (!url) return frame.functionName || '(native)';
  if (url.startsWith('node:')) return 'node internals';
  const path = url.startsWith('file://') ? relative(root, fileURLToPath(url)) : url;
  const dep = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path);
  return dep ? dep[1] : path;
}

function print(title, map, total, limit) {
  console.log(title);
  for (const [k, t] of [...map].sort((a, b) => b[1] - a[1]).slice(0, limit)) {
    console.log(`  ${((100 * t) / total).toFixed(1).padStart(5)}%  ${k}`);
  }
}

function analyse(file) {
  const profile = JSON.parse(readFileSync(file, 'utf8'));
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const { self, total } = selfTimes(profile);
  const byFunction = new Map();
  const byModule = new Map();
  for (const [id, t] of self) {
    const f = nodes.get(id).callFrame;
    const fn = `${f.functionName || '(anonymous)'} ${moduleOf(f)}:${f.lineNumber + 1}`;
    byFunction.set(fn, (byFunction.get(fn) ?? 0) + t);
    byModule.set(moduleOf(f), (byModule.get(moduleOf(f)) ?? 0) + t);
  }
  print('self time by module', byModule, total, 15);
  print('self time by function', byFunction, total, 30);
}

const o = options(process.argv.slice(2));
const dir = mkdtempSync(join(tmpdir(), 'linkwatch-prof-'));
console.log(`profiling the ${o.side} of ${o.variant}, ${o.bytes} B for ${o.seconds} s (profile in ${dir})`);
const prof = ['--cpu-prof', `--cpu-prof-dir=${dir}`];
const m = await measurePair(
  { ...VARIANTS[o.variant], [o.side === 'server' ? 'serverExecArgv' : 'clientExecArgv']: prof },
  {
    warmup: { type: 'flood', bytes: o.bytes, durationMs: 300 },
    run: { type: 'flood', bytes: o.bytes, durationMs: o.seconds * 1000 },
  },
);
console.log(
  `  ${Math.round(m.msgsPerSec)} msg/s; CPU µs/msg: sender ${m.clientCpuUsPerMsg.toFixed(1)}, receiver ${m.serverCpuUsPerMsg.toFixed(1)}`,
);
const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
if (!file) throw new Error(`no profile written in ${dir}`);
analyse(join(dir, file));
