/**
 * Shared setup for the benchmarks: a hub and a worker of ours on 127.0.0.1
 * port 0, payloads of a given size, and small waiting helpers. Everything a
 * benchmark starts, it stops before the next measurement.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Hub, Worker } from '../dist/index.js';

export const TOKEN = 'bench-token-0123456789';
export const WORKER_ID = 'w1';
export { payloadOf } from './payload.js';
export { sleep };

export async function startHub(handler, options = {}) {
  const hub = new Hub({
    host: '127.0.0.1',
    port: 0,
    tokens: [{ token: TOKEN, workerIds: [WORKER_ID] }],
    handler,
    ...options,
  });
  return hub.listen();
}

export async function startWorker(url, options = {}) {
  const worker = new Worker({ hubs: [url], workerId: WORKER_ID, token: TOKEN, ...options }).start();
  await worker.waitConnected();
  return worker;
}

/** A connected hub and worker; `stop()` tears both down. */
export async function startPair(handler, { hub: hubOptions, worker: workerOptions } = {}) {
  const hub = await startHub(handler, hubOptions);
  const worker = await startWorker(hub.url, workerOptions);
  return {
    hub,
    worker,
    async stop() {
      await worker.stop({ timeoutMs: 2000 });
      await hub.close({ timeoutMs: 2000 });
    },
  };
}

/**
 * Resolves once `predicate()` holds, checking every `everyMs`; rejects after
 * `timeoutMs`. Polling (rather than subscribing to link events) keeps the
 * event fan-out inactive, so measuring does not change what is measured.
 */
export async function until(predicate, { timeoutMs = 30_000, everyMs = 1, what = 'condition' } = {}) {
  const deadline = performance.now() + timeoutMs;
  while (!predicate()) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** Full GC when the process runs with --expose-gc (the runner always passes it). */
export function collectGarbage() {
  globalThis.gc?.();
}

/** CPU time (user + system) used since `start`, µs. */
export function cpuSince(start) {
  const d = process.cpuUsage(start);
  return d.user + d.system;
}
