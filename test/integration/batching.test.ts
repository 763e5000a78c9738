import { afterEach, describe, expect, it } from 'vitest';
import type { Hub } from '../../src/hub/hub.js';
import type { LinkEvent } from '../../src/link/events.js';
import type { Worker } from '../../src/worker/worker.js';
import { type FaultProxy, startFaultProxy } from '../helpers/fault-proxy.js';
import { nextEvent, startHub, startWorker, waitFor } from '../helpers/fleet.js';

/*
 * Issue 11's guarantees with batch frames on real sockets: a reconnect that
 * cuts a batch loses and duplicates nothing the handler sees; the window
 * holds; per-message events and trace context survive batching.
 */

let hub: Hub | undefined;
let worker: Worker | undefined;
let proxy: FaultProxy | undefined;
afterEach(async () => {
  await worker?.stop({ timeoutMs: 500 });
  await hub?.close({ timeoutMs: 500 });
  await proxy?.close();
  worker = undefined;
  hub = undefined;
  proxy = undefined;
});

/** Counts per seq, so a duplicate or a gap shows. */
function tally() {
  const counts = new Map<number, number>();
  const order: number[] = [];
  return {
    counts,
    order,
    handler: (m: { seq: number }) => {
      counts.set(m.seq, (counts.get(m.seq) ?? 0) + 1);
      order.push(m.seq);
    },
  };
}

describe('batching', () => {
  it('a reconnect that cuts batch frames in the middle delivers every message exactly once, in order', async () => {
    const t = tally();
    const cutAt = new Set([1000, 2500, 4000]);
    let cuts = 0;
    hub = await startHub({
      handler: (m) => {
        t.handler(m);
        // Cut while the rest of the window is on the wire: every message was queued up front.
        if (cutAt.has(m.seq) && hub?.linkOf('w1')) {
          cuts++;
          proxy?.cutMidFrame();
        }
      },
    });
    proxy = await startFaultProxy({ targetPort: hub.port });
    worker = startWorker(proxy.url, { backoff: { initialDelayMs: 5, maxDelayMs: 20, minUptimeMs: 0 } });
    await worker.waitConnected(5000);
    const N = 6000;
    await Promise.all(Array.from({ length: N }, (_, i) => worker!.send({ i, pad: 'x'.repeat(200) })));
    await waitFor(
      () => t.order.length >= N && worker!.session.outbox.size === 0,
      15_000,
      () => `all ${N} delivered and acked (${t.order.length} delivered)`,
    );
    expect(t.order).toEqual(Array.from({ length: N }, (_, i) => i + 1));
    expect([...t.counts.values()].every((c) => c === 1)).toBe(true);
    expect(cuts).toBeGreaterThan(0);
    expect(worker.status().counters.reconnects).toBeGreaterThanOrEqual(cuts);
    // Batches were cut on the wire and sent again; the hub dropped what it had already taken.
    const replayed = worker.status().counters.replayed;
    expect(replayed).toBeGreaterThan(0);
  });

  // Their frames live in reused slabs and their batches in reused buffers (FrameSlab, batch-buffers.ts).
  it('large messages through cut batches and replays arrive once each, every byte as sent', async () => {
    const payload = (i: number) => ({ i, pad: String.fromCharCode(97 + (i % 26)).repeat(16_000 + (i % 7)) });
    const seen = new Map<number, number>();
    const wrong: number[] = [];
    const cutAt = new Set([300, 800, 1200]);
    hub = await startHub({
      handler: (m) => {
        const p = m.payload as { i: number; pad: string };
        seen.set(p.i, (seen.get(p.i) ?? 0) + 1);
        if (JSON.stringify(p) !== JSON.stringify(payload(p.i)) || m.seq !== p.i + 1) wrong.push(m.seq);
        if (cutAt.has(m.seq) && hub?.linkOf('w1')) proxy?.cutMidFrame();
      },
    });
    proxy = await startFaultProxy({ targetPort: hub.port });
    worker = startWorker(proxy.url, { backoff: { initialDelayMs: 5, maxDelayMs: 20, minUptimeMs: 0 } });
    await worker.waitConnected(5000);
    const N = 1500;
    for (let i = 0; i < N; i++) await worker.send(payload(i));
    await waitFor(
      () => seen.size >= N && worker!.session.outbox.size === 0,
      20_000,
      () => `all ${N} delivered and acked (${seen.size} delivered)`,
    );
    expect(wrong).toEqual([]);
    expect([...seen.values()].every((c) => c === 1)).toBe(true);
    expect(worker.status().counters.replayed).toBeGreaterThan(0);
  });

  it('sends far fewer frames than messages at full speed, and never more than the window in flight', async () => {
    const t = tally();
    hub = await startHub({ handler: t.handler, queueCapacity: 50 });
    worker = startWorker(hub.url);
    await worker.waitConnected(5000);
    let maxInFlight = 0;
    const off = worker.on((e) => {
      if (e.type === 'data-sent') maxInFlight = Math.max(maxInFlight, worker!.session.outbox.inFlight);
    }, 'per-message');
    const N = 3000;
    await Promise.all(Array.from({ length: N }, (_, i) => worker!.send(i)));
    await waitFor(() => t.order.length === N && worker!.session.outbox.size === 0, 10_000, 'all delivered');
    off();
    expect(maxInFlight).toBeLessThanOrEqual(50);
    const frames = hub.linkOf('w1')!.dataFrames.received;
    expect(frames).toBeLessThan(N / 5);
  });

  it('keeps per-message events and each message’s own traceparent through batches', async () => {
    const tps = new Map<number, string | undefined>();
    hub = await startHub({ handler: () => {} });
    hub.hooks.add({
      around: async (m, tp, fn) => {
        tps.set(m.seq, tp);
        await fn();
      },
    });
    const hubEvents: LinkEvent[] = [];
    hub.on((e) => hubEvents.push(e), 'per-message');
    worker = startWorker(hub.url);
    const workerEvents: LinkEvent[] = [];
    worker.on((e) => workerEvents.push(e), 'per-message');
    await worker.waitConnected(5000);
    const N = 500;
    const tpOf = (i: number) =>
      i % 3 === 0 ? undefined : `00-${i.toString(16).padStart(32, '0')}-${'b'.repeat(16)}-01`;
    await Promise.all(Array.from({ length: N }, (_, i) => worker!.send({ i }, tpOf(i + 1))));
    await waitFor(() => tps.size === N && worker!.session.outbox.size === 0, 10_000, 'all delivered');
    expect(hub.linkOf('w1')!.dataFrames.received).toBeLessThan(N);
    for (let seq = 1; seq <= N; seq++) expect(tps.get(seq)).toBe(tpOf(seq));
    const count = (events: LinkEvent[], type: string) => events.filter((e) => e.type === type).length;
    expect(count(workerEvents, 'data-sent')).toBe(N);
    for (const type of ['data-received', 'queue-enqueued', 'queue-started', 'queue-completed'])
      expect(count(hubEvents, type), type).toBe(N);
    const enqueued = hubEvents.filter((e) => e.type === 'queue-enqueued');
    for (const e of enqueued) if (e.type === 'queue-enqueued') expect(e.traceparent).toBe(tpOf(e.seq));
    const released = workerEvents.reduce((n, e) => n + (e.type === 'data-acked' ? e.released : 0), 0);
    expect(released).toBe(N);
  });

  // The half-open bound under full load: the producer never yields except when the outbox is full,
  // so batch frames are on the wire back to back when the black hole opens.
  const INTERVAL = 200;
  const MISSES = 3;
  const BOUND = INTERVAL * MISSES * 1.2;
  for (const direction of ['up', 'down', 'both'] as const) {
    it(`blackhole ${direction} at full load: both sides go down within interval × misses + 20%, nothing lost`, async () => {
      const t = tally();
      hub = await startHub({ handler: t.handler, heartbeatIntervalMs: INTERVAL, heartbeatMisses: MISSES });
      proxy = await startFaultProxy({ targetPort: hub.port });
      worker = startWorker(proxy.url, { handshakeTimeoutMs: 500, outboxMaxMessages: 5000 });
      await worker.waitConnected(5000);
      const w = worker;
      let producing = true;
      let next = 0;
      const producer = (async () => {
        while (producing) await w.send({ i: next++, pad: 'p'.repeat(100) });
      })();
      await waitFor(() => t.order.length >= 20_000, 10_000, 'full-speed traffic');
      const since = performance.now();
      const hubDown = nextEvent(hub, 'disconnected', 5000).then(() => performance.now() - since);
      const workerDown = nextEvent(w, 'disconnected', 5000).then(() => performance.now() - since);
      proxy.blackhole(direction);
      const [h, wk] = await Promise.all([hubDown, workerDown]);
      expect(h).toBeLessThanOrEqual(BOUND);
      expect(wk).toBeLessThanOrEqual(BOUND);
      producing = false;
      proxy.heal();
      await w.waitConnected(5000);
      await producer;
      await waitFor(() => t.order.length >= next && w.session.outbox.size === 0, 15_000, 'all delivered');
      expect(t.order).toEqual(Array.from({ length: next }, (_, i) => i + 1));
    });
  }
});
