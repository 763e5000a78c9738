import { afterEach, describe, expect, it } from 'vitest';
import type { Hub } from '../../src/hub/hub.js';
import type { LinkEvent } from '../../src/link/events.js';
import { attachWatchdog } from '../../src/watchdog/attach.js';
import type { Worker } from '../../src/worker/worker.js';
import { type FaultProxy, startFaultProxy } from '../helpers/fault-proxy.js';
import { nextEvent, recorder, startHub, startWorker, waitFor } from '../helpers/fleet.js';

const INTERVAL = 200;
const MISSES = 3;
/** The bound: each side detects within interval × misses plus 20%. */
const BOUND = INTERVAL * MISSES * 1.2;

let hub: Hub | undefined;
let worker: Worker | undefined;
let proxy: FaultProxy | undefined;
afterEach(async () => {
  await worker?.stop({ timeoutMs: 300 });
  await hub?.close({ timeoutMs: 300 });
  await proxy?.close();
  worker = undefined;
  hub = undefined;
  proxy = undefined;
});

async function setup(workerOptions: Parameters<typeof startWorker>[1] = {}) {
  const rec = recorder();
  hub = await startHub({ handler: rec.handler, heartbeatIntervalMs: INTERVAL, heartbeatMisses: MISSES });
  proxy = await startFaultProxy({ targetPort: hub.port });
  worker = startWorker(proxy.url, { handshakeTimeoutMs: 500, ...workerOptions });
  await worker.waitConnected();
  return { rec, hub, proxy, worker };
}

/** Sends n messages numbered from `from`, not waiting for acks. */
async function send(w: Worker, from: number, n: number) {
  for (let i = from; i < from + n; i++) await w.send({ i });
}

/** Everything sent arrived exactly once and in order. */
async function deliveredInOrder(rec: ReturnType<typeof recorder>, w: Worker, total: number) {
  await waitFor(
    () => w.session.outbox.size === 0 && (rec.byWorker.get('w1')?.length ?? 0) >= total,
    10_000,
    `${total} delivered`,
  );
  expect(rec.messages.map((m) => (m.payload as { i: number }).i)).toEqual(
    Array.from({ length: total }, (_, i) => i),
  );
  expect(rec.byWorker.get('w1')).toEqual(Array.from({ length: total }, (_, i) => i + 1));
}

function timeTo(source: Hub | Worker, type: LinkEvent['type'], timeoutMs = 5000) {
  const start = performance.now();
  return nextEvent(source, type as 'disconnected', timeoutMs).then((e) => ({
    event: e,
    ms: performance.now() - start,
  }));
}

describe('half-open links through a fault proxy', () => {
  for (const direction of ['up', 'down', 'both'] as const) {
    it(`blackhole ${direction}: both sides detect within interval × misses + 20%, reconnect, and lose nothing`, async () => {
      const { rec, hub, proxy, worker } = await setup();
      await send(worker, 0, 100);
      await waitFor(() => worker.session.outbox.size === 0, 5000, 'first batch acked');
      const hubDown = timeTo(hub, 'disconnected');
      const workerDown = timeTo(worker, 'disconnected');
      proxy.blackhole(direction);
      await send(worker, 100, 100); // written into the hole; must be replayed
      const [h, w] = await Promise.all([hubDown, workerDown]);
      process.stderr.write(
        `blackhole ${direction}: hub down after ${Math.round(h.ms)} ms, worker after ${Math.round(w.ms)} ms (bound ${BOUND})\n`,
      );
      expect(h.ms).toBeLessThanOrEqual(BOUND);
      expect(w.ms).toBeLessThanOrEqual(BOUND);
      // At least one side proves it by heartbeat; the other may learn it from the torn-down socket.
      expect([h.event.errorType, w.event.errorType]).toContain('LW_ERR_HEARTBEAT_TIMEOUT');
      proxy.heal();
      await worker.waitConnected(5000);
      await send(worker, 200, 100);
      await deliveredInOrder(rec, worker, 300);
      if (direction === 'down') {
        // Data reached the hub; only its acks fell into the hole. The welcome's `processed`
        // releases them, so nothing is written twice.
        expect(worker.status().counters.replayed).toBe(0);
        expect(worker.status().counters.acked).toBe(300);
      } else {
        expect(worker.status().counters.replayed).toBeGreaterThan(0);
      }
    });
  }

  // Data only counts as liveness because it is flow-controlled by the other side's acks.
  // A one-way black hole under steady traffic must still be caught on both sides.
  for (const direction of ['up', 'down'] as const) {
    it(`blackhole ${direction} under steady traffic: both sides still go down within the bound`, async () => {
      const { rec, hub, proxy, worker } = await setup();
      const w = worker;
      let producing = true;
      let next = 0;
      const producer = (async () => {
        while (producing) {
          await w.send({ i: next++ });
          await new Promise((r) => setImmediate(r));
        }
      })();
      await waitFor(() => (rec.byWorker.get('w1')?.length ?? 0) >= 200, 5000, 'traffic flowing');
      const hubDown = timeTo(hub, 'disconnected');
      const workerDown = timeTo(worker, 'disconnected');
      proxy.blackhole(direction);
      const [h, wk] = await Promise.all([hubDown, workerDown]);
      process.stderr.write(
        `blackhole ${direction} under traffic: hub down after ${Math.round(h.ms)} ms, worker after ${Math.round(wk.ms)} ms\n`,
      );
      expect(h.ms).toBeLessThanOrEqual(BOUND);
      expect(wk.ms).toBeLessThanOrEqual(BOUND);
      expect([h.event.errorType, wk.event.errorType]).toContain('LW_ERR_HEARTBEAT_TIMEOUT');
      producing = false;
      proxy.heal();
      await worker.waitConnected(5000);
      await producer; // a send() blocked on the full outbox returns once the link is back
      await deliveredInOrder(rec, worker, next);
    });
  }

  it('RST on both sides: detected at once, reconnected, nothing lost', async () => {
    const { rec, proxy, worker } = await setup();
    await send(worker, 0, 50);
    const down = timeTo(worker, 'disconnected');
    proxy.reset();
    const { ms } = await down;
    expect(ms).toBeLessThan(INTERVAL);
    await worker.waitConnected(5000);
    await send(worker, 50, 50);
    await deliveredInOrder(rec, worker, 100);
  });

  it('close in the middle of a frame: the partial frame is never delivered; the stream resumes intact', async () => {
    const { rec, hub, proxy, worker } = await setup();
    await send(worker, 0, 20);
    await waitFor(() => worker.session.outbox.size === 0, 5000, 'acked');
    const rejected: string[] = [];
    hub.on((e) => {
      if (e.type === 'frame-rejected') rejected.push(e.errorType);
    });
    const down = timeTo(worker, 'disconnected');
    proxy.cutMidFrame();
    await hub.send('w1', { cmd: 'x'.repeat(2000) });
    await down;
    await worker.waitConnected(5000);
    await send(worker, 20, 20);
    await deliveredInOrder(rec, worker, 40);
    expect(rejected).toEqual([]);
  });

  it('added latency: no false detection, RTT shows the delay, everything delivered', async () => {
    const { rec, proxy, worker } = await setup();
    proxy.latency(60);
    let disconnects = 0;
    worker.on((e) => {
      if (e.type === 'disconnected') disconnects++;
    });
    await send(worker, 0, 200);
    await nextEvent(worker, 'heartbeat-rtt', 2000, (e) => e.rttMs >= 100);
    await deliveredInOrder(rec, worker, 200);
    // Several heartbeat deadlines pass under latency without a teardown.
    await nextEvent(worker, 'heartbeat-sent', 2000, (e) => e.id >= 8);
    expect(disconnects).toBe(0);
  });

  it('throttled bandwidth: the send pump stops at the high watermark, and nothing is lost', async () => {
    const rec = recorder();
    hub = await startHub({ handler: rec.handler, heartbeatIntervalMs: INTERVAL, heartbeatMisses: MISSES });
    proxy = await startFaultProxy({ targetPort: hub.port });
    const watermark = 8 * 1024;
    worker = startWorker(proxy.url, { handshakeTimeoutMs: 500, highWatermarkBytes: watermark });
    await worker.waitConnected();
    const w = worker;
    let maxBuffered = 0;
    w.on((e) => {
      if (e.type === 'data-sent') maxBuffered = Math.max(maxBuffered, w.link?.bufferedAmount ?? 0);
    });
    proxy.throttle(256 * 1024);
    const big = 'y'.repeat(4000);
    for (let i = 0; i < 100; i++) await w.send({ i, big });
    await deliveredInOrder(rec, w, 100);
    // The pump writes a frame only while the buffer is under the watermark.
    expect(maxBuffered).toBeLessThan(watermark + 4200);
    expect(w.status().counters.reconnects).toBe(0);
  });

  // Regression: heartbeats queue behind data in the same TCP stream. On a link slower than the
  // data offered to it, their acks came back later than interval × misses, so a moving link was
  // torn down, replayed into the same queue and torn down again (10 reconnects for 400 messages).
  it('a link slower than its traffic is not torn down: data and acks prove what queued heartbeats cannot', async () => {
    const { rec, hub, proxy, worker } = await setup();
    const w = worker;
    const seen = { timeouts: 0, misses: 0, maxRttMs: 0 };
    // Nor does either watchdog see a stall (it samples the socket buffer every 100 ms here).
    const alerts: string[] = [];
    const dogs = [
      attachWatchdog(hub, { sentinel: false, checkIntervalMs: 100, onAlert: (a) => alerts.push(a.name) }),
      attachWatchdog(w, { sentinel: false, checkIntervalMs: 100, onAlert: (a) => alerts.push(a.name) }),
    ];
    for (const side of [hub, w]) {
      side.on((e) => {
        if (e.type === 'heartbeat-timeout') seen.timeouts++;
        if (e.type === 'heartbeat-missed') seen.misses++;
        if (e.type === 'heartbeat-rtt') seen.maxRttMs = Math.max(seen.maxRttMs, e.rttMs);
      });
    }
    proxy.throttle(512 * 1024);
    const big = 'q'.repeat(4000);
    for (let i = 0; i < 300; i++) await w.send({ i, big });
    await deliveredInOrder(rec, w, 300);
    process.stderr.write(
      `slow link: max heartbeat RTT ${Math.round(seen.maxRttMs)} ms with a deadline of ${INTERVAL * MISSES} ms\n`,
    );
    // The heartbeats really did wait behind data for longer than the deadline...
    expect(seen.maxRttMs).toBeGreaterThan(INTERVAL * MISSES);
    // ...and the link stayed up all the same.
    expect(seen).toMatchObject({ timeouts: 0, misses: 0 });
    expect(w.status().counters).toMatchObject({ reconnects: 0, replayed: 0 });
    await Promise.all(dogs.map((d) => d.stop()));
    expect(alerts).toEqual([]);
  });

  it('a socket that stops draining is a transport stall: torn down at the deadline, then replayed', async () => {
    // Heartbeats far apart, so only the send deadline can catch this.
    const rec = recorder();
    hub = await startHub({ handler: rec.handler, heartbeatIntervalMs: 2000, heartbeatMisses: 10 });
    proxy = await startFaultProxy({ targetPort: hub.port });
    worker = startWorker(proxy.url, {
      handshakeTimeoutMs: 500,
      highWatermarkBytes: 64 * 1024,
      sendStallTimeoutMs: 500,
      backoff: { initialDelayMs: 20, maxDelayMs: 100 },
    });
    const w = worker;
    await w.waitConnected();
    // A trickle: the proxy stops reading, the kernel buffers fill, ws starts buffering.
    proxy.throttle(1);
    const stalled = nextEvent(w, 'transport-stalled', 15_000);
    const down = nextEvent(w, 'disconnected', 15_000);
    const big = 'z'.repeat(60_000);
    let sent = 0;
    const producing = (async () => {
      for (; sent < 300; sent++) await w.send({ i: sent, big });
    })();
    const s = await stalled;
    expect(s.bufferedBytes).toBeGreaterThanOrEqual(64 * 1024);
    expect(s.stalledMs).toBeGreaterThanOrEqual(500);
    expect((await down).errorType).toBe('LW_ERR_TRANSPORT_STALLED');
    proxy.heal();
    await producing;
    await waitFor(() => w.session.outbox.size === 0, 20_000, 'everything acked after the stall');
    expect(rec.byWorker.get('w1')).toEqual(Array.from({ length: 300 }, (_, i) => i + 1));
    expect(w.status().counters.replayed).toBeGreaterThan(0);
  }, 30_000);
});
