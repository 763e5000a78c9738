/**
 * linkwatch as a bench transport: a Hub (server half) and a Worker (client
 * half), defaults everywhere. The producer does what a real one does (and
 * what the CLI's synthetic producer does): `await worker.send(payload)` per
 * message, so the outbox and the flow-control window pace it.
 */
import { Hub, Worker } from '../../dist/index.js';

const TOKEN = 'bench-token-0123456789';
const WORKER_ID = 'w1';

/**
 * `onMessage(payload)` runs at the start of the hub's handler; `onCreate(hub)`
 * before it listens (where the CLI attaches telemetry).
 */
export async function server(onMessage, { hubOptions = {}, onCreate } = {}) {
  const hub = new Hub({
    host: '127.0.0.1',
    port: 0,
    tokens: [{ token: TOKEN, workerIds: [WORKER_ID] }],
    handler: (m) => {
      onMessage(m.payload);
    },
    ...hubOptions,
  });
  onCreate?.(hub);
  await hub.listen();
  return {
    url: hub.url,
    target: hub,
    stop: () => hub.close({ timeoutMs: 2000 }),
  };
}

/** `onCreate(worker)` runs before it starts (where the CLI attaches telemetry). */
export async function client(url, { workerOptions = {}, onCreate } = {}) {
  const worker = new Worker({ hubs: [url], workerId: WORKER_ID, token: TOKEN, ...workerOptions });
  onCreate?.(worker);
  worker.start();
  await worker.waitConnected();
  return {
    target: worker,
    send: (payload) => worker.send(payload),
    /** Every message acked: the outbox is empty. */
    async drain() {
      while (worker.status().outbox.messages > 0) await new Promise((r) => setTimeout(r, 1));
    },
    stop: () => worker.stop({ timeoutMs: 2000 }),
  };
}
