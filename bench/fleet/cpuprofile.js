/**
 * Summarises a V8 .cpuprofile: self time by function (and by file), so a
 * fleet run says where the hub's CPU went.
 *
 *   npx node bench/fleet/cpuprofile.js FILE.cpuprofile [top=30] [fromS] [toS]
 *
 * fromS/toS keep only the samples taken that many seconds after the profile
 * began (e.g. the steady window, without the connect phase).
 */
import { readFileSync } from 'node:fs';

export function summarise(file, top = 30, fromS = 0, toS = Number.POSITIVE_INFINITY) {
  const p = JSON.parse(readFileSync(file, 'utf8'));
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map();
  const dt = p.timeDeltas;
  let at = 0;
  for (let i = 0; i < p.samples.length; i++) {
    at += dt[i] ?? 0;
    if (at < fromS * 1e6 || at > toS * 1e6) continue;
    self.set(p.samples[i], (self.get(p.samples[i]) ?? 0) + (dt[i] ?? 0));
  }
  const fns = new Map();
  const files = new Map();
  let total = 0;
  for (const [id, us] of self) {
    const n = byId.get(id);
    const cf = n.callFrame;
    const url = cf.url
      .replace(/^file:\/\//, '')
      .replace(/.*node_modules\//, 'nm/')
      .replace(/.*\/dist\//, 'dist/');
    const fn = `${cf.functionName || '(anonymous)'} ${url}:${cf.lineNumber + 1}`;
    fns.set(fn, (fns.get(fn) ?? 0) + us);
    const pkg = url.startsWith('nm/')
      ? url
          .split('/')
          .slice(0, url.split('/')[1].startsWith('@') ? 3 : 2)
          .join('/')
      : url || cf.functionName;
    files.set(pkg, (files.get(pkg) ?? 0) + us);
    total += us;
  }
  const rank = (m) =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([k, us]) => ({
        what: k,
        ms: Math.round(us / 1000),
        percent: Math.round((us / total) * 1000) / 10,
      }));
  return { totalMs: Math.round(total / 1000), functions: rank(fns), files: rank(files) };
}

if (process.argv[1] === new URL(import.meta.url).pathname) {
  const [file, top = 30, fromS = 0, toS = Number.POSITIVE_INFINITY] = process.argv.slice(2);
  const s = summarise(file, Number(top), Number(fromS), Number(toS));
  console.log(`total ${s.totalMs} ms sampled`);
  console.log('by file or package:');
  for (const r of s.files) console.log(`  ${String(r.percent).padStart(5)} %  ${r.what}`);
  console.log('by function:');
  for (const r of s.functions) console.log(`  ${String(r.percent).padStart(5)} %  ${r.what}`);
}
