import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { LinkEvent } from '../link/events.js';
import { Worker } from '../worker/worker.js';
import type { ChildCounts, ChildMessage, ParentMessage } from './protocol.js';
import { LatencyHistogram } from './rtt-histogram.js';

/**
 * One load process: many library Workers in one event loop, as a fleet of
 * worker processes would dial one hub. Forked by `linkwatch load`; talks to
 * its parent over IPC only. One listener and one traffic timer serve every
 * worker here, so the load tool itself stays cheap per worker.
 */

/**
 * Traffic ticks per second; each worker gets its turn once a second, spread
 * over the ticks. A worker's heartbeat rides with its data (link/heartbeat.ts),
 * so each tick's workers also beat together: at 20 ticks a second, 5,000
 * workers per process came in bursts of 250 sends and 250 heartbeats, and the
 * heartbeats measured the queueing of their own burst. 100 ticks spread a
 * fleet the way independent workers are.
 */
const TICKS = 100;
const REPORT_MS = 1000;

let workers: Worker[] = [];
const indexById = new Map<string, number>();
let firstConnectMs: Float64Array = new Float64Array(0);
let connectedNow: Uint8Array = new Uint8Array(0);
// The acked counter when the link last came up; a larger one means the worker streams again.
let ackedAtConnect: Float64Array = new Float64Array(0);
let credit: Float64Array = new Float64Array(0);
const rtt = new LatencyHistogram();
const loopDelay = monitorEventLoopDelay({ resolution: 10 });
const failures: Record<string, number> = {};
let goAt = 0;
let everConnected = 0;
let connected = 0;
let lastFirstConnectMs = 0;
let throttled = 0;
let connectTimesSent = false;
let trafficTimer: ReturnType<typeof setInterval> | undefined;
let reportTimer: ReturnType<typeof setInterval> | undefined;
let tick = 0;
let filler = '';
let rate = 0;
let seq = 0;

function send(message: ChildMessage): void {
  process.send?.(message);
}

function onEvent(e: LinkEvent): void {
  const i = indexById.get(e.workerId);
  if (i === undefined) return;
  switch (e.type) {
    case 'connected':
      if (!connectedNow[i]) connected++;
      connectedNow[i] = 1;
      ackedAtConnect[i] = workers[i]!.session.counters.acked;
      if (firstConnectMs[i]! < 0) {
        firstConnectMs[i] = Date.now() - goAt;
        everConnected++;
        lastFirstConnectMs = Math.max(lastFirstConnectMs, firstConnectMs[i]!);
      }
      return;
    case 'disconnected':
      if (connectedNow[i]) connected--;
      connectedNow[i] = 0;
      return;
    case 'handshake-failed':
      failures[e.errorType] = (failures[e.errorType] ?? 0) + 1;
      return;
    case 'heartbeat-rtt':
      rtt.record(e.rttMs);
      return;
    default:
      return;
  }
}

function counts(): ChildCounts {
  let sent = 0;
  let acked = 0;
  let replayed = 0;
  let dropped = 0;
  let reconnects = 0;
  let streaming = 0;
  for (let i = 0; i < workers.length; i++) {
    const c = workers[i]!.session.counters;
    sent += c.sent;
    acked += c.acked;
    replayed += c.replayed;
    dropped += c.dropped;
    reconnects += c.reconnects;
    if (connectedNow[i] && c.acked > ackedAtConnect[i]!) streaming++;
  }
  const loopDelayP99Ms = Math.round((loopDelay.percentile(99) / 1e6) * 10) / 10;
  loopDelay.reset();
  return {
    loopDelayP99Ms: Number.isFinite(loopDelayP99Ms) ? loopDelayP99Ms : 0,
    connected,
    streaming,
    everConnected,
    lastFirstConnectMs,
    sent,
    acked,
    replayed,
    dropped,
    reconnects,
    throttled,
    handshakeFailures: { ...failures },
  };
}

// Connect times go once, when all of this child's workers connected (or at stop).
function connectTimes(force: boolean): number[] | undefined {
  if (connectTimesSent || (!force && everConnected < workers.length)) return undefined;
  connectTimesSent = true;
  return [...firstConnectMs].filter((ms) => ms >= 0);
}

function report(): void {
  send({ type: 'report', ...counts(), rtt: rtt.drain(), connectMs: connectTimes(false) });
}

function traffic(): void {
  const turn = tick++ % TICKS;
  for (let i = turn; i < workers.length; i += TICKS) {
    const w = workers[i]!;
    credit[i]! += rate;
    while (credit[i]! >= 1) {
      credit[i]!--;
      // A producer already waits for room (hub away, outbox full): do not pile up more waiters.
      if (w.session.outbox.waiting > 0) {
        throttled++;
        continue;
      }
      w.send({ n: seq++, ts: Date.now(), data: filler }).catch(() => {});
    }
  }
}

function start(m: Extract<ParentMessage, { type: 'start' }>): void {
  rate = m.rate;
  filler = 'x'.repeat(m.size);
  const n = m.ids.length;
  firstConnectMs = new Float64Array(n).fill(-1);
  connectedNow = new Uint8Array(n);
  ackedAtConnect = new Float64Array(n);
  // Each worker starts at a different point of its second, so sends spread evenly.
  credit = new Float64Array(n).map((_, i) => (i * 0.618) % 1);
  workers = m.ids.map((id, i) => {
    indexById.set(id, i);
    const w = new Worker({
      hubs: m.hubs,
      workerId: id,
      token: typeof m.token === 'string' ? m.token : m.token[i]!,
      ...(m.backoffMaxMs !== undefined ? { backoff: { maxDelayMs: m.backoffMaxMs } } : {}),
      ...(m.handshakeTimeoutMs !== undefined ? { handshakeTimeoutMs: m.handshakeTimeoutMs } : {}),
    });
    w.on(onEvent, 'lifecycle');
    return w;
  });
  send({ type: 'ready', pid: process.pid });
}

function go(at: number): void {
  goAt = at;
  loopDelay.enable();
  for (const w of workers) w.start();
  trafficTimer = setInterval(traffic, 1000 / TICKS);
  reportTimer = setInterval(report, REPORT_MS);
}

async function stop(timeoutMs: number): Promise<void> {
  if (trafficTimer) clearInterval(trafficTimer);
  if (reportTimer) clearInterval(reportTimer);
  const reports = await Promise.all(workers.map((w) => w.stop({ timeoutMs })));
  const unacked = reports.reduce((sum, r) => sum + r.unacked, 0);
  const last: ChildMessage = {
    type: 'stopped',
    ...counts(),
    rtt: rtt.drain(),
    connectMs: connectTimes(true),
    unacked,
  };
  // Disconnect only once the last report is written: the parent exits us by closing the channel.
  process.send?.(last, undefined, {}, () => process.disconnect?.());
}

process.on('message', (m: ParentMessage) => {
  try {
    if (m.type === 'start') start(m);
    else if (m.type === 'go') go(m.at);
    else if (m.type === 'stop') void stop(m.timeoutMs);
  } catch (err) {
    send({ type: 'error', message: (err as Error).message });
  }
});
// The parent decides when to stop (Ctrl-C reaches the whole process group); if it dies, so do we.
process.on('SIGINT', () => {});
process.on('disconnect', () => process.exit(0));
