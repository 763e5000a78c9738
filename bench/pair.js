/**
 * The parent side of a cross-process measurement: starts the receiving and
 * the sending half of a transport, each in a fresh Node process
 * (bench/peer.js), runs a warm-up and one measured run, and stops both.
 * Connection setup and warm-up are not timed.
 *
 * Time: from the client's first send to the later of the client's drain
 * (every message acked, where the transport acks) and the server's last
 * delivery, on CLOCK_MONOTONIC (one clock for both processes).
 * CPU: process.cpuUsage() of the client over its run plus that of the
 * server from just before the run until it saw the last message, and, for
 * NATS, the broker's CPU from /proc.
 */
import { fork } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

/** A peer process; `request(command)` sends one command and resolves with its answer. */
export function startPeer({ env, execArgv = [] } = {}) {
  const child = fork(join(here, 'peer.js'), [], {
    execArgv,
    env: env ?? process.env,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const pending = [];
  let dead;
  child.on('message', (m) => {
    const p = pending.shift();
    if (!p) return;
    if (m.type === 'error') p.reject(new Error(m.message));
    else p.resolve(m);
  });
  const exited = new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      dead = new Error(`bench peer exited with ${signal ?? code}`);
      for (const p of pending.splice(0)) p.reject(dead);
      resolve();
    });
  });
  return {
    pid: child.pid,
    /** No command takes a minute; a peer that does is stuck, and the measurement fails instead of hanging. */
    request(command, timeoutMs = 60_000) {
      if (dead) return Promise.reject(dead);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          child.kill('SIGKILL');
          reject(new Error(`bench peer: no answer to ${command.type} within ${timeoutMs} ms`));
        }, timeoutMs);
        const settle = (fn) => (v) => {
          clearTimeout(timer);
          fn(v);
        };
        pending.push({ resolve: settle(resolve), reject: settle(reject) });
        child.send(command);
      });
    },
    /** Resolves once the process is gone: it exits by itself after `stop`, or is killed after `graceMs`. */
    async close(graceMs = 3000) {
      if (dead) return;
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/**
 * Starts both halves of `variant` ({ transport, server, client } options),
 * runs `warmup` then `run` (client commands, `flood` or `pace`), and returns
 * the measured run. `broker` (optional) has `{ url, cpuUs() }`.
 */
export async function measurePair(variant, { warmup, run, broker, latency = false, stallMs }) {
  const pair = await openPair(variant, { broker, latency });
  try {
    if (warmup) await pair.measure(warmup, { stallMs });
    const result = await pair.measure(run, { stallMs });
    const { clientTelemetry, serverTelemetry } = await pair.stop();
    return {
      ...result,
      ...(serverTelemetry ? { serverTelemetry } : {}),
      ...(clientTelemetry ? { clientTelemetry } : {}),
    };
  } finally {
    await pair.close();
  }
}

/**
 * Both halves of `variant`, set up and connected, kept for several
 * measurements: `measure(run)` runs one client command and returns what
 * measurePair returns for it, `stop()` ends both peers gracefully (with
 * their telemetry reports), `close()` kills whatever is left. Latency
 * (bench/latency.js) alternates two such pairs in short slices, so both
 * variants run under the same machine conditions.
 */
export async function openPair(variant, { broker, latency = false } = {}) {
  const env = variant.env ?? process.env;
  const server = startPeer({ env, execArgv: variant.serverExecArgv });
  let client;
  let stopped = false;
  const close = async () => {
    // After an error the peers got no `stop`: kill them at once.
    const graceMs = stopped ? 3000 : 0;
    await Promise.all([server.close(graceMs), client?.close(graceMs)]);
  };
  try {
    const brokerUrl = broker ? { url: broker.url } : {};
    const { url } = await server.request({
      type: 'setup',
      role: 'server',
      transport: variant.transport,
      options: { ...variant.options, ...variant.server, ...brokerUrl },
      telemetry: variant.telemetry?.server,
      latency,
    });
    client = startPeer({ env, execArgv: variant.clientExecArgv });
    await client.request({
      type: 'setup',
      role: 'client',
      transport: variant.transport,
      options: { ...variant.options, ...variant.client, url },
      telemetry: variant.telemetry?.client,
    });
  } catch (err) {
    await close();
    throw err;
  }
  return {
    async measure(run, { stallMs } = {}) {
      await server.request({ type: 'arm' });
      const broker0 = broker?.cpuUs();
      const sent = await client.request(run);
      const skip = latency ? Math.round((run.rate * (run.warmupMs ?? 0)) / 1000) : 0;
      const got = await server.request({ type: 'await', count: sent.sent, stallMs, skip });
      const brokerCpuUs = broker ? broker.cpuUs() - broker0 : undefined;
      const elapsedUs = Math.max(sent.endUs, got.lastAtUs) - sent.startUs;
      const delivered = got.count;
      return {
        sent: sent.sent,
        delivered,
        lost: sent.sent - delivered,
        elapsedMs: elapsedUs / 1000,
        msgsPerSec: (delivered / elapsedUs) * 1e6,
        cpuUsPerMsg: (sent.cpuUs + got.cpuUs) / delivered,
        serverCpuUsPerMsg: got.cpuUs / delivered,
        clientCpuUsPerMsg: sent.cpuUs / delivered,
        // Share of one core each side was busy over the run: near 1 means that side was the limit.
        serverBusy: got.cpuUs / elapsedUs,
        clientBusy: sent.cpuUs / elapsedUs,
        ...(broker ? { brokerCpuUsPerMsg: brokerCpuUs / delivered } : {}),
        ...(got.latency ? { latency: got.latency } : {}),
      };
    },
    async stop() {
      const [clientStop, serverStop] = await Promise.all([
        client.request({ type: 'stop' }),
        server.request({ type: 'stop' }),
      ]);
      stopped = true;
      return { clientTelemetry: clientStop.telemetry, serverTelemetry: serverStop.telemetry };
    },
    close,
  };
}
