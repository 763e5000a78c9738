/**
 * Where the hub's memory per link goes (issue 10). Each variant runs in a
 * fresh process (--expose-gc) that serves N idle links from workers in other
 * processes; after a full GC it reads process.memoryUsage() before and after,
 * so every number is per link above the same process without links:
 *
 *   raw-ws     a bare ws WebSocketServer and raw ws clients (the floor)
 *   hub        the Hub alone (no telemetry, no watchdog)
 *   +watchdog  the Hub with attachWatchdog
 *   +telemetry the CLI composition: the SDK with the Prometheus exporter, instrument(), the watchdog
 *
 * With --snapshot, the last variant also writes heap snapshots before and
 * after and prints the growth per link by constructor.
 *
 *   npm run build && npx node bench/fleet-memory.js [--links=2000] [--snapshot] [--semi=MB] [--only=hub,...]
 *
 * --semi=MB caps V8's young generation (--max-semi-space-size) in the serving process.
 *
 * Writes bench/results/fleet-memory-latest.json.
 */
import { fork } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import v8 from 'node:v8';
import { aggregateSnapshot, perLinkGrowth } from './fleet/heap.js';
import { runCli, sleep, waitUntil } from './fleet/procs.js';

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, '../dist');
const TOKEN = 'fleet-memory-token-0123456789';
const VARIANTS = ['raw-ws', 'hub', '+watchdog', '+telemetry'];

function gcTwice() {
  globalThis.gc();
  globalThis.gc();
}

function usage() {
  gcTwice();
  const m = process.memoryUsage();
  const spaces = {};
  for (const s of v8.getHeapSpaceStatistics()) spaces[s.space_name] = s.physical_space_size;
  return {
    rss: m.rss,
    heapTotal: m.heapTotal,
    heapUsed: m.heapUsed,
    external: m.external,
    arrayBuffers: m.arrayBuffers,
    // RSS the V8 heap does not explain: native memory (sockets, libuv, zlib, malloc fragmentation).
    nonHeap: m.rss - m.heapTotal - m.external,
    spaces,
  };
}

/** The child: serves one variant and reports its memory with 0 and N links. */
async function serve(variant, links, snapshotDir) {
  const { WebSocketServer } = await import('ws');
  let connected = 0;
  let url;
  let close;
  if (variant === 'raw-ws') {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
    await new Promise((r) => wss.once('listening', r));
    wss.on('connection', (ws) => {
      connected++;
      ws.on('message', () => {});
      ws.on('close', () => connected--);
    });
    url = `ws://127.0.0.1:${wss.address().port}`;
    close = () => new Promise((r) => wss.close(r));
  } else {
    const { Hub } = await import(join(dist, 'hub/hub.js'));
    const { attachWatchdog } = await import(join(dist, 'watchdog/attach.js'));
    let telemetry;
    if (variant === '+telemetry') {
      const { startTelemetry } = await import(join(dist, 'cli/telemetry.js'));
      const { jsonLogger } = await import(join(dist, 'log/logger.js'));
      telemetry = await startTelemetry(
        { role: 'hub', instanceId: 'mem', metricsListen: { host: '127.0.0.1', port: 0 } },
        jsonLogger({ level: 'warn' }),
      );
    }
    const hub = new Hub({
      host: '127.0.0.1',
      port: 0,
      tokens: [{ token: TOKEN }],
      heartbeatIntervalMs: 1000,
      handler: () => {},
    });
    telemetry?.attachHub(hub);
    const dog = variant === 'hub' ? undefined : attachWatchdog(hub, { sentinel: false });
    hub.on((e) => {
      if (e.type === 'connected') connected++;
      if (e.type === 'disconnected') connected--;
    }, 'lifecycle');
    await hub.listen();
    url = hub.url;
    close = async () => {
      await dog?.stop();
      await hub.close({ timeoutMs: 1000 });
      await telemetry?.shutdown();
    };
  }
  await sleep(1000);
  const before = usage();
  const beforeSnap = snapshotDir ? v8.writeHeapSnapshot(join(snapshotDir, 'before.heapsnapshot')) : undefined;
  process.send({ type: 'url', url });
  await waitUntil(() => connected >= links, 120_000, `${links} links`);
  // Let handshakes, first heartbeats and the first collections settle.
  await sleep(4000);
  const after = usage();
  const afterSnap = snapshotDir ? v8.writeHeapSnapshot(join(snapshotDir, 'after.heapsnapshot')) : undefined;
  process.send({ type: 'done', before, after, connected, beforeSnap, afterSnap });
  await new Promise((r) => process.once('message', r));
  await close();
  process.exit(0);
}

/** Raw ws clients for the raw-ws variant (the load tool speaks the linkwatch protocol). */
async function rawClients(url, links) {
  const { WebSocket } = await import('ws');
  const sockets = [];
  for (let i = 0; i < links; i++) {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    ws.on('error', () => {});
    sockets.push(ws);
    if (i % 200 === 199) await sleep(20);
  }
  await new Promise((r) => process.once('message', r));
  process.exit(0);
}

async function runVariant(variant, links, snapshotDir, semi) {
  const child = fork(fileURLToPath(import.meta.url), ['--serve', variant, String(links), snapshotDir ?? ''], {
    execArgv: [
      '--expose-gc',
      '--max-old-space-size=8192',
      ...(semi ? [`--max-semi-space-size=${semi}`] : []),
    ],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const url = await new Promise((r) => child.on('message', (m) => m.type === 'url' && r(m.url)));
  let clients;
  let load;
  if (variant === 'raw-ws') {
    clients = fork(fileURLToPath(import.meta.url), ['--raw-clients', url, String(links)], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
  } else {
    const dir = mkdtempSync(join(os.tmpdir(), 'linkwatch-mem-'));
    writeFileSync(join(dir, 'token'), `${TOKEN}\n`);
    load = runCli([
      'load',
      '--hub',
      url,
      '--workers',
      String(links),
      '--rate',
      '0',
      '--duration',
      '0',
      '--procs',
      '2',
      '--token-file',
      join(dir, 'token'),
    ]);
  }
  const done = await new Promise((r) => child.on('message', (m) => m.type === 'done' && r(m)));
  child.send('stop');
  clients?.send('stop');
  load?.child.kill('SIGTERM');
  await Promise.all([
    new Promise((r) => child.once('exit', r)),
    clients && new Promise((r) => clients.once('exit', r)),
    load?.exited,
  ]);
  const per = (k) => Math.round((done.after[k] - done.before[k]) / links);
  const result = {
    variant,
    links: done.connected,
    perLinkBytes: {
      rss: per('rss'),
      heapTotal: per('heapTotal'),
      heapUsed: per('heapUsed'),
      nonHeap: per('nonHeap'),
      external: per('external'),
      arrayBuffers: per('arrayBuffers'),
    },
    before: done.before,
    after: done.after,
  };
  if (done.beforeSnap && done.afterSnap) {
    const growth = perLinkGrowth(
      aggregateSnapshot(done.beforeSnap),
      aggregateSnapshot(done.afterSnap),
      links,
    );
    result.heapByConstructor = growth;
  }
  return result;
}

async function main() {
  const argv = process.argv.slice(2);
  if (argv[0] === '--serve') return serve(argv[1], Number(argv[2]), argv[3] || undefined);
  if (argv[0] === '--raw-clients') return rawClients(argv[1], Number(argv[2]));
  const links = Number(argv.find((a) => a.startsWith('--links='))?.slice(8) ?? 2000);
  const snapshot = argv.includes('--snapshot');
  const semi = argv.find((a) => a.startsWith('--semi='))?.slice(7);
  const only =
    argv
      .find((a) => a.startsWith('--only='))
      ?.slice(7)
      .split(',') ?? VARIANTS;
  const results = [];
  const snapDir = snapshot ? mkdtempSync(join(os.tmpdir(), 'linkwatch-heap-')) : undefined;
  try {
    for (const v of only) {
      const r = await runVariant(v, links, v === '+telemetry' ? snapDir : undefined, semi);
      results.push(r);
      const p = r.perLinkBytes;
      console.log(
        `${v.padEnd(11)} ${r.links} links: RSS ${(p.rss / 1024).toFixed(1)} KB/link, heap used ${(p.heapUsed / 1024).toFixed(1)} KB of ${(p.heapTotal / 1024).toFixed(1)} KB committed, outside the heap ${(p.nonHeap / 1024).toFixed(1)} KB, external ${(p.external / 1024).toFixed(1)} KB (array buffers ${(p.arrayBuffers / 1024).toFixed(1)} KB)`,
      );
      if (r.heapByConstructor) {
        console.log(
          `  heap growth per link by constructor (total ${(r.heapByConstructor.total / 1024).toFixed(1)} KB):`,
        );
        for (const row of r.heapByConstructor.rows) {
          console.log(
            `    ${row.bytesPerLink.toFixed(0).padStart(7)} B  ${row.countPerLink.toFixed(1).padStart(6)} ×  ${row.key}`,
          );
        }
      }
    }
  } finally {
    if (snapDir) rmSync(snapDir, { recursive: true, force: true });
  }
  mkdirSync(join(here, 'results'), { recursive: true });
  writeFileSync(
    join(here, 'results', 'fleet-memory-latest.json'),
    `${JSON.stringify({ date: new Date().toISOString(), node: process.version, links, semi, results }, null, 2)}\n`,
  );
}

await main();
