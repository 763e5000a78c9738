/**
 * Reconnect cost. While the worker sends at a steady rate, the hub's TCP
 * socket is destroyed (what `terminate()` does, and what a dead network
 * looks like to the peer). Measured from the kill:
 *
 * - `reconnected`: the worker has a new link (welcome received).
 * - `resumed`: the hub's handler got the first message produced after the kill.
 * - `caught up`: everything the worker had sent before the kill is acked.
 *
 * Backoff is set to zero delay (`random: () => 0`) so the numbers are the
 * machinery's own cost; by default a dropped link first waits a random
 * 0–250 ms (full jitter) before redialing, by design. Replays and the
 * duplicates the hub drops are counted per kill. The baseline is a fresh raw
 * `ws` connection (new WebSocket → open) on the same machine.
 */
import { WebSocket, WebSocketServer } from 'ws';
import { payloadOf, sleep, startHub, startWorker, until } from './fixture.js';
import { quantile, summarize } from './stats.js';

export const title = 'Reconnect cost';

const RATE = 5000;

async function rawConnectMs(count) {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
  await new Promise((resolve) => wss.once('listening', resolve));
  const url = `ws://127.0.0.1:${wss.address().port}`;
  const times = [];
  for (let i = 0; i < count; i++) {
    const t0 = performance.now();
    const ws = new WebSocket(url, { perMessageDeflate: false });
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    times.push(performance.now() - t0);
    ws.terminate();
  }
  await new Promise((resolve) => wss.close(resolve));
  return times;
}

export async function run({ quick, log }) {
  const kills = quick ? 8 : 25;
  let firstAfter = Number.POSITIVE_INFINITY;
  let resumedAt = 0;
  const hub = await startHub(
    (m) => {
      if (m.seq > firstAfter && resumedAt === 0) resumedAt = performance.now();
    },
    { heartbeatIntervalMs: 1000 },
  );
  // The hub's side of each connection, so the bench can kill it.
  const sockets = new Set();
  hub.server.on('connection', (s) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  const worker = await startWorker(hub.url, { backoff: { random: () => 0 } });
  // Link events give exact times; this benchmark does not measure throughput, so their cost is fine.
  let connectedAt = 0;
  let caughtUpAt = 0;
  let downAt = 0;
  let dialingAt = 0;
  let target = Number.POSITIVE_INFINITY;
  const timeline = [];
  worker.on((e) => {
    if (e.type === 'disconnected' && downAt === 0) downAt = e.at;
    else if (e.type === 'dialing' && dialingAt === 0) dialingAt = e.at;
    else if (e.type === 'connected' && connectedAt === 0) connectedAt = e.at;
    else if (e.type === 'data-acked' && e.seq >= target && connectedAt > 0 && caughtUpAt === 0)
      caughtUpAt = e.at;
  });

  let stop = false;
  const payload = payloadOf(256);
  const producer = (async () => {
    const start = performance.now();
    let sent = 0;
    while (!stop) {
      const due = Math.floor(((performance.now() - start) * RATE) / 1000);
      while (sent < due && !stop) {
        await worker.send(payload);
        sent++;
      }
      await sleep(1);
    }
  })();

  const measurements = [];
  await sleep(200);
  for (let k = 0; k < kills; k++) {
    const counters0 = { ...worker.status().counters };
    const dup0 = hub.totals().duplicates;
    const sentBefore = worker.session.outbox.lastSeq;
    const outstanding = sentBefore - worker.session.outbox.acked;
    firstAfter = sentBefore;
    resumedAt = 0;
    connectedAt = 0;
    caughtUpAt = 0;
    downAt = 0;
    dialingAt = 0;
    target = sentBefore;
    const t0 = performance.now();
    for (const s of sockets) s.destroy();
    await until(() => resumedAt > 0 && connectedAt > 0 && (caughtUpAt > 0 || outstanding === 0), {
      timeoutMs: 10_000,
      what: 'delivery to resume',
    });
    const reconnectedMs = connectedAt - t0;
    const caughtUpMs = (caughtUpAt || connectedAt) - t0;
    timeline.push({ down: downAt - t0, dialing: dialingAt - t0, connected: connectedAt - t0 });
    const c = worker.status().counters;
    measurements.push({
      reconnectedMs,
      resumedMs: resumedAt - t0,
      caughtUpMs,
      outstandingAtKill: outstanding,
      replayed: c.replayed - counters0.replayed,
      duplicates: hub.totals().duplicates - dup0,
    });
    await sleep(100);
  }
  stop = true;
  await producer.catch(() => {});
  await worker.stop({ timeoutMs: 2000 });
  await hub.close({ timeoutMs: 2000 });

  const raw = await rawConnectMs(kills);
  const col = (k) => measurements.map((m) => m[k]);
  const dist = (values) => ({
    ...summarize(values),
    p90: Math.round(quantile(values, 0.9) * 1000) / 1000,
  });
  const results = {
    kills: measurements.length,
    reconnectedMs: dist(col('reconnectedMs')),
    resumedMs: dist(col('resumedMs')),
    caughtUpMs: dist(col('caughtUpMs')),
    rawConnectMs: dist(raw),
    outstandingAtKill: dist(col('outstandingAtKill')),
    replayedPerKill: dist(col('replayed')),
    duplicatesPerKill: dist(col('duplicates')),
    // Where the reconnect time goes: link torn down, redial started, welcome received.
    phasesMs: {
      linkDown: summarize(timeline.map((p) => p.down)),
      dialStarted: summarize(timeline.map((p) => p.dialing)),
      welcomed: summarize(timeline.map((p) => p.connected)),
    },
    totalReplayed: col('replayed').reduce((a, b) => a + b, 0),
    totalDuplicates: col('duplicates').reduce((a, b) => a + b, 0),
  };
  results.reconnectOverRawConnect = results.reconnectedMs.median / results.rawConnectMs.median;
  const summary =
    `kill → reconnected ${results.reconnectedMs.median.toFixed(2)} ms, → resumed ${results.resumedMs.median.toFixed(2)} ms, ` +
    `→ caught up ${results.caughtUpMs.median.toFixed(2)} ms (median of ${results.kills}); raw ws connect ` +
    `${results.rawConnectMs.median.toFixed(2)} ms (×${results.reconnectOverRawConnect.toFixed(1)}); ` +
    `replayed ${results.replayedPerKill.median}/kill, duplicates dropped ${results.duplicatesPerKill.median}/kill`;
  log(`reconnect ${summary}`);
  return { params: { kills, rate: RATE, payloadBytes: 256, backoff: 'zero delay' }, results, summary };
}

export function markdown({ results: r, params }) {
  const row = (name, s, digits = 2) =>
    `| ${name} | ${s.median.toFixed(digits)} | ${s.p90.toFixed(digits)} | ${s.min.toFixed(digits)}–${s.max.toFixed(digits)} |`;
  return [
    `${r.kills} kills of the hub's TCP socket while sending ${params.rate} msg/s of ${params.payloadBytes} B; backoff delay 0.`,
    '',
    '| from the kill to | median ms | p90 ms | range ms |',
    '|---|---|---|---|',
    row('worker reconnected (welcome received)', r.reconnectedMs),
    row('first new message at the handler', r.resumedMs),
    row('everything sent before the kill acked', r.caughtUpMs),
    row('*baseline: raw ws connect (new → open)*', r.rawConnectMs),
    '',
    `Where the time goes (medians from the kill): link down ${r.phasesMs.linkDown.median.toFixed(2)} ms, ` +
      `redial started ${r.phasesMs.dialStarted.median.toFixed(2)} ms, welcome received ${r.phasesMs.welcomed.median.toFixed(2)} ms.`,
    '',
    `Reconnect / raw connect: **×${r.reconnectOverRawConnect.toFixed(1)}**. Per kill: ${r.outstandingAtKill.median} messages unacked at the kill, ` +
      `${r.replayedPerKill.median} replayed (max ${r.replayedPerKill.max}), ${r.duplicatesPerKill.median} duplicates dropped by the hub ` +
      `(max ${r.duplicatesPerKill.max}); ${r.totalReplayed} replayed and ${r.totalDuplicates} dropped in total.`,
  ].join('\n');
}
