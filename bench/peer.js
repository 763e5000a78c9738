/**
 * One side of a cross-process measurement: the receiving half (`server`:
 * our hub, a raw `ws` server, a Socket.IO server, a NATS subscriber) or the
 * sending half (`client`) of one transport, driven by the parent over IPC
 * (bench/pair.js). Hub and worker run in separate processes, as in
 * production; the parent only sends commands between measurements.
 *
 * Clock: `process.hrtime` is CLOCK_MONOTONIC, one clock for every process on
 * the machine, so a timestamp taken in the client and read in the server is
 * comparable without any offset estimate.
 *
 * Commands (each answered once, in order):
 *   setup {role, transport, options, telemetry?, latency?} → ready {url?}
 *   arm                              (server) count from zero → armed
 *   await {count, stallMs, skip}     (server) → delivered {count, lastAtUs, cpuUs, latency?}
 *                                    (latency: n, p50Us, p99Us, maxUs and samplesUs, every sample)
 *   flood {bytes, durationMs}        (client) send as fast as allowed, then drain → sent
 *   pace {bytes, rate, durationMs}   (client) send at a fixed rate, then drain → sent
 *   stop                             → stopped {telemetry?}, then exit
 */
import { execFileSync } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { payloadOf } from './payload.js';
import { quantile } from './stats.js';

export const nowUs = () => Number(process.hrtime.bigint()) / 1000;

const cpuUs = (since) => {
  const d = process.cpuUsage(since);
  return d.user + d.system;
};

let transport;
let telemetry;
let role;
// Server state.
let count = 0;
let lastAtUs = 0;
let samples;
let cpu0;
let waiting;

function onMessage(payload) {
  count++;
  lastAtUs = nowUs();
  if (samples) samples.push(lastAtUs - payload.t);
  if (waiting && count >= waiting.count) {
    const w = waiting;
    waiting = undefined;
    w.resolve();
  }
}

const quietLogger = { debug() {}, info() {}, warn() {}, error() {}, sinks: [] };

async function setup({ role: r, transport: name, options = {}, telemetry: tel, latency }) {
  role = r;
  pin();
  const mod = await import(`./transports/${name}.js`);
  let onCreate;
  if (tel) {
    const { startTelemetry } = await import('../dist/cli/telemetry.js');
    telemetry = await startTelemetry(
      {
        role: role === 'server' ? 'hub' : 'worker',
        instanceId: role === 'server' ? 'bench-hub' : 'w1',
        metricsListen: { host: '127.0.0.1', port: tel.metricsPort },
      },
      quietLogger,
    );
    // As the CLI does: instrumentation is attached before the hub listens or the worker starts.
    onCreate = (target) => {
      if (role === 'server') telemetry.attachHub(target);
      else telemetry.attachWorker(target);
    };
  }
  if (role === 'server') {
    if (latency) samples = [];
    transport = await mod.server(onMessage, { ...options, onCreate });
    return { url: transport.url };
  }
  transport = await mod.client(options.url, { ...options, onCreate });
  return {};
}

/**
 * BENCH_PIN=same puts both halves on CPU 0, BENCH_PIN=split the server on
 * CPU 0 and the client on CPU 1 (all threads, with taskset), to measure how
 * the scheduler's placement of the two processes moves the latency
 * (bench/results/latency-slices.md). Unset: the scheduler places them.
 */
function pin() {
  const mode = process.env.BENCH_PIN;
  if (!mode) return;
  if (mode !== 'same' && mode !== 'split')
    throw new TypeError(`Expected BENCH_PIN to be "same" or "split", got ${JSON.stringify(mode)}`);
  const cpu = role === 'client' && mode === 'split' ? '1' : '0';
  execFileSync('taskset', ['-a', '-p', '-c', cpu, String(process.pid)], { stdio: 'ignore' });
}

function arm() {
  count = 0;
  lastAtUs = 0;
  if (samples) samples = [];
  cpu0 = process.cpuUsage();
  return {};
}

async function awaitCount({ count: target, stallMs = 5000, skip = 0 }) {
  let incomplete = false;
  if (count < target) {
    const reached = new Promise((resolve) => {
      waiting = { count: target, resolve };
    });
    let seen = count;
    let lastProgress = performance.now();
    const watch = (async () => {
      while (waiting) {
        await sleep(50);
        if (count !== seen) {
          seen = count;
          lastProgress = performance.now();
        } else if (performance.now() - lastProgress > stallMs) {
          incomplete = true;
          const w = waiting;
          waiting = undefined;
          w?.resolve();
        }
      }
    })();
    await reached;
    await watch;
  }
  const reply = { count, lastAtUs, cpuUs: cpuUs(cpu0), incomplete };
  if (samples) {
    const kept = samples.slice(skip);
    reply.latency = {
      n: kept.length,
      p50Us: quantile(kept, 0.5),
      p99Us: quantile(kept, 0.99),
      maxUs: Math.max(...kept),
      // Every sample, so a caller can pool several runs (bench/latency.js).
      samplesUs: kept,
    };
  }
  return reply;
}

async function flood({ bytes, durationMs }) {
  const payload = payloadOf(bytes);
  const cpuStart = process.cpuUsage();
  const startUs = nowUs();
  const endBy = startUs + durationMs * 1000;
  let sent = 0;
  // The clock is read every 64 sends; reading it per send would cost more than a raw frame.
  while ((sent & 63) !== 0 || nowUs() < endBy) {
    sent++;
    const wait = transport.send(payload);
    if (wait) await wait;
  }
  await transport.drain();
  return { sent, startUs, endUs: nowUs(), cpuUs: cpuUs(cpuStart) };
}

/**
 * Sends `rate` messages per second in small bursts on a 1 ms timer (the burst
 * is whatever came due since the last tick), each carrying its send time.
 */
async function pace({ bytes, rate, durationMs }) {
  const { pad } = payloadOf(bytes);
  const total = Math.round((rate * durationMs) / 1000);
  const cpuStart = process.cpuUsage();
  const startUs = nowUs();
  let sent = 0;
  while (sent < total) {
    const due = Math.min(total, Math.floor(((nowUs() - startUs) * rate) / 1e6) + 1);
    while (sent < due) {
      sent++;
      const wait = transport.send({ t: nowUs(), pad });
      if (wait) await wait;
    }
    await sleep(1);
  }
  await transport.drain();
  return { sent, startUs, endUs: nowUs(), cpuUs: cpuUs(cpuStart) };
}

async function stop() {
  await transport?.stop();
  let report;
  if (telemetry) {
    // What a Prometheus scrape would get, so the run shows the SDK was live.
    if (telemetry.metricsUrl) {
      const text = await fetch(telemetry.metricsUrl).then((r) => r.text());
      report = {
        metricsBytes: text.length,
        linkwatchSeries: text.split('\n').filter((l) => l.startsWith('linkwatch_')).length,
      };
    }
    await telemetry.shutdown();
  }
  return { telemetry: report };
}

const COMMANDS = { setup, arm, await: awaitCount, flood, pace, stop };

process.on('message', async (msg) => {
  try {
    const reply = await COMMANDS[msg.type](msg);
    process.send({ type: 'ok', ...reply }, () => {
      if (msg.type === 'stop') process.exit(0);
    });
  } catch (err) {
    process.send({ type: 'error', message: `${role ?? 'peer'} ${msg.type}: ${err?.stack ?? err}` }, () =>
      process.exit(1),
    );
  }
});
process.on('disconnect', () => process.exit(0));
