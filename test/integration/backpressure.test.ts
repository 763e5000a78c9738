import { afterEach, describe, expect, it } from 'vitest';
import type { Hub } from '../../src/hub/hub.js';
import type { Message } from '../../src/queue/work-queue.js';
import type { Worker } from '../../src/worker/worker.js';
import { nextEvent, startHub, startWorker, waitFor } from '../helpers/fleet.js';

let hub: Hub | undefined;
let worker: Worker | undefined;
afterEach(async () => {
  await worker?.stop({ timeoutMs: 300 });
  await hub?.close({ timeoutMs: 300 });
  worker = undefined;
  hub = undefined;
});

describe('backpressure', () => {
  // Regression: a restarted worker (new stream) found its predecessor's backlog filling the hub's
  // queue, so its first frames broke the window and the link was closed with 1008 on every connect.
  it("a restarted worker is not refused while its predecessor's backlog drains", async () => {
    let open!: () => void;
    const gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    const seen: string[] = [];
    hub = await startHub({
      queueCapacity: 20,
      handler: async (m: Message) => {
        await gate;
        seen.push(`${m.stream.slice(0, 8)}:${m.seq}`);
      },
    });
    const rejected: string[] = [];
    hub.on((e) => {
      if (e.type === 'frame-rejected') rejected.push(e.errorType);
    });
    const first = startWorker(hub.url);
    for (let i = 0; i < 20; i++) await first.send({ i });
    await waitFor(() => hub!.sessions().get('w1')?.queue.depth === 20, 5000, 'a full queue on the hub');
    const oldStream = first.session.stream.slice(0, 8);
    await first.stop({ timeoutMs: 50 }); // gone with 20 unacked: they live on in the hub's queue
    worker = startWorker(hub.url);
    await worker.waitConnected();
    for (let i = 0; i < 20; i++) await worker.send({ i });
    const newStream = worker.session.stream.slice(0, 8);
    await waitFor(
      () => hub!.sessions().get('w1')?.queue.depth === 40,
      5000,
      "the new stream's 20 queued too",
    );
    open();
    await waitFor(() => worker!.session.outbox.size === 0, 5000, 'the new stream acked');
    expect(rejected).toEqual([]);
    expect(worker.status().counters.reconnects).toBe(0);
    expect(seen.filter((s) => s.startsWith(oldStream))).toHaveLength(20);
    expect(seen.filter((s) => s.startsWith(newStream))).toEqual(
      Array.from({ length: 20 }, (_, i) => `${newStream}:${i + 1}`),
    );
  });

  it('a slow handler makes send() wait, with every buffer bounded, and nothing is lost', async () => {
    let open!: () => void;
    const gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    const seen: number[] = [];
    hub = await startHub({
      queueCapacity: 10,
      handler: async (m: Message) => {
        await gate;
        seen.push(m.seq);
      },
    });
    worker = startWorker(hub.url, { outboxMaxMessages: 100, overflow: 'block' });
    await worker.waitConnected();
    let resolved = 0;
    let maxOutbox = 0;
    let maxQueue = 0;
    const w = worker;
    const h = hub;
    const sample = () => {
      maxOutbox = Math.max(maxOutbox, w.session.outbox.size);
      maxQueue = Math.max(maxQueue, h.sessions().get('w1')?.queue.depth ?? 0);
    };
    const off = hub.on(sample);
    const offW = worker.on(sample);
    const producer = (async () => {
      for (let i = 0; i < 1000; i++) {
        await w.send({ i, pad: 'x'.repeat(100) });
        resolved++;
      }
    })();
    // The producer fills the outbox and then waits: no more than its bound is ever accepted.
    await waitFor(() => w.session.outbox.waiting === 1, 5000, 'a blocked send()');
    await waitFor(() => (h.sessions().get('w1')?.queue.depth ?? 0) === 10, 5000, 'the hub queue to fill');
    expect(resolved).toBe(100);
    expect(w.session.outbox.size).toBe(100);
    expect(w.session.outbox.inFlight).toBeLessThanOrEqual(10);

    open();
    await producer;
    await waitFor(() => seen.length === 1000, 10_000, 'all messages processed');
    off();
    offW();
    expect(seen).toEqual(Array.from({ length: 1000 }, (_, i) => i + 1));
    expect(maxOutbox).toBeLessThanOrEqual(100);
    expect(maxQueue).toBeLessThanOrEqual(10);
    expect(worker.status().counters.dropped).toBe(0);
  });

  for (const policy of ['drop-oldest', 'drop-newest'] as const) {
    it(`${policy} counts every drop and keeps the outbox at its bound`, async () => {
      hub = await startHub({
        handler: () => new Promise(() => {}),
        queueCapacity: 1,
        handlerTimeoutMs: 60_000,
      });
      worker = startWorker(hub.url, { outboxMaxMessages: 5, overflow: policy });
      await worker.waitConnected();
      const drops: number[] = [];
      worker.on((e) => {
        if (e.type === 'outbox-dropped' && e.reason === policy) drops.push(e.seq);
      });
      const receipts = [];
      for (let i = 0; i < 20; i++) receipts.push(await worker.send({ i }));
      expect(worker.status().counters.dropped).toBe(15);
      expect(drops).toHaveLength(15);
      expect(worker.session.outbox.size).toBe(5);
      if (policy === 'drop-newest') {
        expect(receipts.filter((r) => r.status === 'dropped').map((r) => r.seq)).toEqual(drops);
        expect(drops).toEqual(Array.from({ length: 15 }, (_, i) => i + 6));
      } else {
        expect(drops).toEqual(Array.from({ length: 15 }, (_, i) => i + 1));
      }
    });
  }

  it('reject fails the send with LW_ERR_OUTBOX_FULL and keeps what was queued', async () => {
    hub = await startHub({
      handler: () => new Promise(() => {}),
      queueCapacity: 1,
      handlerTimeoutMs: 60_000,
    });
    worker = startWorker(hub.url, { outboxMaxMessages: 5, overflow: 'reject' });
    await worker.waitConnected();
    for (let i = 0; i < 5; i++) await worker.send({ i });
    await expect(worker.send({ i: 5 })).rejects.toMatchObject({ code: 'LW_ERR_OUTBOX_FULL' });
    expect(worker.session.outbox.size).toBe(5);
  });
});

describe('a hung handler', () => {
  it('is timed out, counted as LW_ERR_HANDLER_TIMEOUT, and does not wedge the queue', async () => {
    const done: number[] = [];
    hub = await startHub({
      handlerTimeoutMs: 100,
      handler: (m: Message, { signal }) => {
        if (m.seq === 5)
          return new Promise<void>((_, reject) =>
            signal.addEventListener('abort', () => reject(signal.reason)),
          );
        done.push(m.seq);
      },
    });
    worker = startWorker(hub.url);
    const failed = nextEvent(hub, 'queue-failed');
    for (let i = 0; i < 20; i++) await worker.send({ i });
    const event = await failed;
    expect(event).toMatchObject({ seq: 5, errorType: 'LW_ERR_HANDLER_TIMEOUT' });
    await waitFor(() => done.length === 19, 3000, 'the rest processed');
    expect(done).toEqual([1, 2, 3, 4, ...Array.from({ length: 15 }, (_, i) => i + 6)]);
    await waitFor(() => worker!.session.outbox.size === 0, 3000, 'all acked');
    const s = hub.sessions().get('w1')!;
    expect(s.counters).toMatchObject({ processed: 19, failed: 1, timedOut: 1 });
  });
});
