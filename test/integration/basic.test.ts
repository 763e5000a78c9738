import { afterEach, describe, expect, it } from 'vitest';
import type { Hub } from '../../src/hub/hub.js';
import type { Worker } from '../../src/worker/worker.js';
import { recorder, startHub, startWorker, waitFor } from '../helpers/fleet.js';

let hub: Hub | undefined;
let workers: Worker[] = [];
afterEach(async () => {
  await Promise.all(workers.map((w) => w.stop({ timeoutMs: 500 })));
  workers = [];
  await hub?.close({ timeoutMs: 500 });
  hub = undefined;
});

describe('hub and worker', () => {
  it('delivers every message once and in order, and acks them', async () => {
    const rec = recorder();
    hub = await startHub({ handler: rec.handler });
    const w = startWorker(hub.url);
    workers.push(w);
    for (let i = 0; i < 1000; i++) await w.send({ i });
    await waitFor(() => w.session.outbox.size === 0, 5000, 'all acked');
    expect(rec.byWorker.get('w1')).toEqual(Array.from({ length: 1000 }, (_, i) => i + 1));
    expect(rec.messages.map((m) => (m.payload as { i: number }).i)).toEqual(
      Array.from({ length: 1000 }, (_, i) => i),
    );
    expect(w.status().counters).toMatchObject({ sent: 1000, acked: 1000, replayed: 0 });
  });

  it('carries commands from hub to worker', async () => {
    const rec = recorder();
    hub = await startHub({ handler: () => {} });
    const w = startWorker(hub.url, { handler: rec.handler });
    workers.push(w);
    await w.waitConnected();
    await hub.send('w1', { cmd: 'flush' });
    await waitFor(() => rec.messages.length === 1, 5000, 'command');
    expect(rec.messages[0]).toMatchObject({ workerId: 'w1', seq: 1, payload: { cmd: 'flush' } });
  });

  // A payload the peer must reject would close the link, be replayed and close every link after.
  it('refuses a payload the peer could not accept, before it enters the outbox', async () => {
    const rec = recorder();
    hub = await startHub({ handler: rec.handler });
    const w = startWorker(hub.url);
    workers.push(w);
    await w.waitConnected();
    let deep: unknown = 1;
    for (let i = 0; i < 100; i++) deep = [deep];
    await expect(w.send(deep as never)).rejects.toThrow(/at most 64 levels of nesting/);
    await expect(w.send({ n: Number.POSITIVE_INFINITY })).rejects.toThrow(/not finite/);
    await expect(w.send({ ok: true })).resolves.toMatchObject({ seq: 1 });
    await waitFor(() => rec.messages.length === 1, 5000, 'the good message');
    expect(w.status().counters.reconnects).toBe(0);
  });
});
