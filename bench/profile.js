/**
 * Where the time goes on the throughput path: runs one throughput variant
 * under `--cpu-prof` and prints self time by function and by module.
 *
 *   npm run build && node bench/profile.js [--bytes=64] [--messages=40000] [--variant=ours|raw|raw+acks]
 *
 * The profile file stays in the printed temp directory for Chrome DevTools.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

function options(argv) {
  const o = { bytes: 64, messages: 40_000, variant: 'ours', child: false };
  for (const a of argv) {
    const [k, v] = a.replace(/^--/, '').split('=');
    if (k === 'child') o.child = true;
    else if (k === 'bytes' || k === 'messages') o[k] = Number(v);
    else if (k === 'variant' && ['ours', 'raw', 'raw+acks'].includes(v)) o.variant = v;
    else throw new Error(`unknown option ${a}`);
  }
  return o;
}

async function child(o) {
  const { measureOurs, measureRaw } = await import('./throughput.js');
  const measure = (messages) =>
    o.variant === 'ours'
      ? measureOurs({ bytes: o.bytes, messages })
      : measureRaw({ bytes: o.bytes, messages, acks: o.variant === 'raw+acks' });
  await measure(Math.round(o.messages / 4));
  for (let i = 0; i < 3; i++) {
    const m = await measure(o.messages);
    console.log(`  ${Math.round(m.msgsPerSec)} msg/s, ${m.cpuUsPerMsg.toFixed(1)} µs CPU/msg`);
  }
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
if (o.child) {
  await child(o);
} else {
  const dir = mkdtempSync(join(tmpdir(), 'linkwatch-prof-'));
  console.log(`profiling ${o.variant}, ${o.bytes} B × ${o.messages} (profile in ${dir})`);
  const args = [
    '--expose-gc',
    '--cpu-prof',
    `--cpu-prof-dir=${dir}`,
    fileURLToPath(import.meta.url),
    '--child',
  ];
  args.push(`--bytes=${o.bytes}`, `--messages=${o.messages}`, `--variant=${o.variant}`);
  const r = spawnSync(process.execPath, args, { stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
  const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
  analyse(join(dir, file));
}
