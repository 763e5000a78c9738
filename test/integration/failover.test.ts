import { afterEach, describe, expect, it } from 'vitest';
import type { CheckpointStore, Hub, ShutdownReport } from '../../src/hub/hub.js';
import type { LinkEvent, LinkEventOf, LinkEventType } from '../../src/link/events.js';
import type { Worker } from '../../src/worker/worker.js';
import { freePort } from '../helpers/cli.js';
import { type FaultProxy, startFaultProxy } from '../helpers/fault-proxy.js';
import { nextEvent, startHub, startWorker, TOKEN, waitFor } from '../helpers/fleet.js';

let hubs: Hub[] = [];
let workers: Worker[] = [];
let proxies: FaultProxy[] = [];
afterEach(async () => {
  await Promise.all(workers.map((w) => w.stop({ timeoutMs: 300 })));
  await Promise.all(hubs.map((h) => h.close({ timeoutMs: 300 })));
  await Promise.all(proxies.map((p) => p.close()));
  workers = [];
  hubs = [];
  proxies = [];
});

/** Something that could be a credential in a hub URL; it must never reach an event. */
const SECRET = 'secret-in-query-0xC0FFEE';

/** random() = 1 puts every delay at the top of its window: initial × multiplier^(attempt-1), capped. */
const FIXED = { initialDelayMs: 20, maxDelayMs: 200, minUptimeMs: 300, random: () => 1 };

async function hub(options: Partial<Parameters<typeof startHub>[0]> = {}): Promise<Hub> {
  const h = await startHub({ handler: () => {}, ...options });
  hubs.push(h);
  return h;
}

async function proxy(targetPort: number): Promise<FaultProxy> {
  const p = await startFaultProxy({ targetPort });
  proxies.push(p);
  return p;
}

/** A worker that records every event from before its first dial. */
function worker(urls: string[], options: Parameters<typeof startWorker>[1] = {}) {
  const w = startWorker(urls, options, false);
  workers.push(w);
  const events: LinkEvent[] = [];
  w.on((e) => events.push(e));
  const of = <T extends LinkEventType>(type: T) => events.filter((e): e is LinkEventOf<T> => e.type === type);
  w.start();
  return { w, events, of };
}

/** A CheckpointStore in memory, shared by two hubs as a database would be. */
function memoryCheckpoint(): CheckpointStore & { commits: number } {
  const map = new Map<string, number>();
  return {
    commits: 0,
    load: (workerId, stream) => map.get(`${workerId}/${stream}`),
    commit(workerId, stream, processed) {
      this.commits++;
      map.set(`${workerId}/${stream}`, processed);
    },
  };
}

/** Sends `{ i }` for i in [from, to), yielding to I/O every 50 sends like a real producer. */
async function produce(w: Worker, from: number, to: number): Promise<void> {
  for (let i = from; i < to; i++) {
    await w.send({ i });
    if (i % 50 === 0) await new Promise((r) => setImmediate(r));
  }
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe('failover across hub URLs', () => {
  it('refuses hub URLs that carry credentials, without echoing them', () => {
    expect(() => startWorker([`ws://user:${SECRET}@127.0.0.1:1`], {}, false)).toThrow(
      /Expected `hubs\[0\]` to be a URL without credentials/,
    );
    try {
      startWorker(['ws://127.0.0.1:1', `ws://user:${SECRET}@127.0.0.1:1`], {}, false);
    } catch (err) {
      expect((err as Error).message).toContain('hubs[1]');
      expect((err as Error).message).not.toContain(SECRET);
    }
  });

  it('skips a first hub that is down and delivers to the second; events carry URLs without the query', async () => {
    const dead = await freePort(); // nothing listens here
    const received: number[] = [];
    const b = await hub({ handler: (m) => void received.push(m.seq) });
    const deadUrl = `ws://127.0.0.1:${dead}/?access_token=${SECRET}`;
    const liveUrl = `${b.url}/?access_token=${SECRET}`;
    const started = performance.now();
    const { w, events, of } = worker([deadUrl, liveUrl], { backoff: FIXED });
    await produce(w, 0, 100);
    const connected = await nextEvent(w, 'connected', 5000);
    const failoverMs = performance.now() - started;
    await waitFor(() => w.session.outbox.size === 0, 5000, 'all acked by the second hub');

    expect(received).toEqual(range(1, 100));
    expect(of('dialing').map((e) => e.url)).toEqual([`ws://127.0.0.1:${dead}/`, `${b.url}/`]);
    expect(of('handshake-failed')).toEqual([
      expect.objectContaining({ url: `ws://127.0.0.1:${dead}/`, errorType: 'LW_ERR_CONNECT' }),
    ]);
    expect(of('failover')).toEqual([
      expect.objectContaining({ fromUrl: `ws://127.0.0.1:${dead}/`, toUrl: `${b.url}/` }),
    ]);
    expect(of('reconnect-scheduled')).toEqual([
      expect.objectContaining({ attempt: 1, delayMs: 20, url: `${b.url}/`, errorType: 'LW_ERR_CONNECT' }),
    ]);
    expect(connected).toMatchObject({ url: `${b.url}/`, hubId: b.hubId, replayed: 0 });
    expect(of('outage-ended')).toEqual([expect.objectContaining({ attempts: 1 })]);
    expect(w.status()).toMatchObject({ state: 'connected', url: `${b.url}/`, hubId: b.hubId });
    expect(w.status().counters).toMatchObject({ sent: 100, acked: 100, replayed: 0, reconnects: 0 });
    // One refused dial, a 20 ms backoff, one handshake: well under a second on loopback.
    expect(failoverMs).toBeLessThan(1000);
    const text = JSON.stringify(events);
    expect(text).not.toContain(SECRET);
    expect(text).not.toContain(TOKEN);
  });

  /**
   * Hub A shuts down with work queued: seq GATE is in its handler (which
   * finishes when the queue aborts it) and the seqs after it wait in A's
   * queue. A acked up to GATE - 1 only, so the worker holds GATE.. as
   * unacked and must replay them to B.
   */
  const GATE = 200;
  const TOTAL = 3000;

  async function shutDownMidStream(
    checkpoint: CheckpointStore | undefined,
    gate: 'resolve' | 'reject' = 'resolve',
  ) {
    const seenA: number[] = [];
    const seenB: number[] = [];
    const a = await hub({
      hubId: 'hub-a',
      ...(checkpoint ? { checkpoint } : {}),
      handler: (m, { signal }) => {
        seenA.push(m.seq);
        if (m.seq !== GATE) return;
        // 'reject': the handler honours the abort and gives up, so GATE was never processed.
        return new Promise<void>((resolve, reject) =>
          signal.addEventListener('abort', () => (gate === 'resolve' ? resolve() : reject(signal.reason))),
        );
      },
    });
    const b = await hub({
      hubId: 'hub-b',
      ...(checkpoint ? { checkpoint } : {}),
      handler: (m) => void seenB.push(m.seq),
    });
    // Read now: a closed hub no longer has an address.
    const urlA = a.url;
    const run = worker([urlA, b.url], { backoff: FIXED });
    const { w } = run;
    const producing = produce(w, 0, TOTAL);
    // Mid-stream: A is wedged on GATE with a backlog queued behind it.
    await waitFor(() => (a.sessions().get('w1')?.queue.depth ?? 0) >= 500, 5000, 'a backlog on hub A');
    const disconnected = nextEvent(w, 'disconnected', 5000);
    const onB = nextEvent(w, 'connected', 5000, (e) => e.hubId === 'hub-b');
    const report: ShutdownReport = await a.close({ timeoutMs: 200 });
    const down = await disconnected;
    const connectedB = await onB;
    await producing;
    await waitFor(() => w.session.outbox.size === 0, 10_000, 'everything acked');
    return { urlA, b, w, run, seenA, seenB, report, down, connectedB };
  }

  it('fails over when its hub shuts down mid-stream and replays what it left; a shared checkpoint means zero duplicates', async () => {
    const store = memoryCheckpoint();
    const { urlA, b, w, run, seenA, seenB, report, down, connectedB } = await shutDownMidStream(store);

    // A handled 1..GATE and abandoned its backlog; B got exactly the rest, in order.
    expect(seenA).toEqual(range(1, GATE));
    expect(report.abandoned).toBeGreaterThan(300);
    expect(report.timedOut).toBe(true);
    expect(seenB).toEqual(range(GATE + 1, TOTAL));
    expect(new Set([...seenA, ...seenB]).size).toBe(seenA.length + seenB.length);
    // B learned A's progress from the shared store, so GATE (processed on A, ack lost) was not resent.
    expect(connectedB.peerProcessed).toBe(GATE);
    expect(connectedB.replayed).toBeGreaterThan(300);
    expect(b.sessions().get('w1')!.counters.duplicates).toBe(0);
    expect(store.commits).toBeGreaterThan(0);
    const c = w.status().counters;
    expect(c).toMatchObject({ sent: TOTAL, acked: TOTAL, reconnects: 1, dropped: 0 });
    expect(c.replayed).toBe(connectedB.replayed);

    // The path: A said "going away", one retry at A (refused), then failover to B.
    expect(down).toMatchObject({ errorType: 'LW_ERR_CONNECTION_LOST', closeCode: 1001 });
    const after = run.events.slice(run.events.indexOf(down));
    const path = after
      .filter((e) => ['dialing', 'handshake-failed', 'failover', 'connected'].includes(e.type))
      .map((e) => `${e.type} ${'url' in e ? e.url : 'fromUrl' in e ? `${e.fromUrl}>${e.toUrl}` : ''}`);
    const [ua, ub] = [`${urlA}/`, `${b.url}/`];
    expect(path).toEqual([
      `dialing ${ua}`,
      `handshake-failed ${ua}`,
      `failover ${ua}>${ub}`,
      `dialing ${ub}`,
      `connected ${ub}`,
    ]);
    const failoverMs = connectedB.at - down.at;
    expect(failoverMs).toBeLessThan(1000);
  });

  it('without a shared checkpoint it is at-least-once: the one message processed on A whose ack was lost reaches B too', async () => {
    const { b, seenA, seenB, connectedB, w } = await shutDownMidStream(undefined);
    expect(seenA).toEqual(range(1, GATE));
    // Nothing lost; GATE delivered twice, because dedupe lives in each hub process.
    expect(seenB).toEqual(range(GATE, TOTAL));
    expect(connectedB.peerProcessed).toBe(0);
    expect(b.sessions().get('w1')!.counters.duplicates).toBe(0);
    expect(w.status().counters).toMatchObject({ sent: TOTAL, acked: TOTAL });
  });

  // Regression: a handler that gave up on the shutdown abort was settled as processed, acked and
  // checkpointed, so its message reached no hub at all.
  it('a handler that gives up when the hub shuts down has not processed its message: B gets it, nothing lost', async () => {
    const store = memoryCheckpoint();
    const { seenA, seenB, connectedB, w } = await shutDownMidStream(store, 'reject');
    expect(seenA).toEqual(range(1, GATE));
    expect(connectedB.peerProcessed).toBe(GATE - 1);
    expect(seenB).toEqual(range(GATE, TOTAL));
    expect(w.status().counters).toMatchObject({ sent: TOTAL, acked: TOTAL });
  });

  it('rotates through every URL on failed dials and wraps around, without resetting the backoff', async () => {
    const target = await hub();
    const [p1, p2, p3] = [await proxy(target.port), await proxy(target.port), await proxy(target.port)];
    for (const p of [p1, p2, p3]) p.refuse(true);
    const urls = [p1.url, p2.url, p3.url];
    const backoff = { initialDelayMs: 10, maxDelayMs: 80, minUptimeMs: 300, random: () => 1 };
    const { w, of } = worker(urls, { backoff });
    await waitFor(() => of('dialing').length >= 8, 5000, 'eight dials');
    p2.refuse(false);
    const connected = await nextEvent(w, 'connected', 5000);

    const dials = of('dialing').map((e) => urls.indexOf(e.url.replace(/\/$/, '')));
    // p1 p2 p3 p1 p2 p3 p1 p2 ... until p2 accepts.
    expect(dials.slice(0, 8)).toEqual([0, 1, 2, 0, 1, 2, 0, 1]);
    expect(dials.at(-1)).toBe(1);
    const hops = of('failover')
      .slice(0, 6)
      .map(
        (e) => `${urls.indexOf(e.fromUrl.replace(/\/$/, ''))}>${urls.indexOf(e.toUrl.replace(/\/$/, ''))}`,
      );
    expect(hops).toEqual(['0>1', '1>2', '2>0', '0>1', '1>2', '2>0']);
    const scheduled = of('reconnect-scheduled');
    expect(scheduled.slice(0, 7).map((e) => e.attempt)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(scheduled.slice(0, 7).map((e) => e.delayMs)).toEqual([10, 20, 40, 80, 80, 80, 80]);
    expect(of('handshake-failed').every((e) => e.errorType === 'LW_ERR_CONNECT')).toBe(true);
    expect(connected.url).toBe(`${p2.url}/`);
    const ended = of('outage-ended');
    expect(ended).toHaveLength(1);
    expect(ended[0]!.attempts).toBe(of('handshake-failed').length);
  });

  /** A hub that accepts, then drops the link at once while `flapping` is on. */
  async function flappingHub() {
    const h = await hub();
    const state = { flapping: true };
    h.on((e) => {
      if (e.type === 'connected' && state.flapping) setImmediate(() => h.evict(e.workerId, 'flap drill'));
    });
    return Object.assign(h, { state });
  }

  it('backs off against a flapping hub: delays grow and the attempt count only resets after minUptimeMs', async () => {
    const h = await flappingHub();
    const { w, of } = worker([h.url], { backoff: FIXED });
    await waitFor(() => of('reconnect-scheduled').length >= 6, 5000, 'six reconnects');
    h.state.flapping = false;
    const scheduled = of('reconnect-scheduled').slice(0, 6);
    expect(scheduled.map((e) => e.attempt)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(scheduled.map((e) => e.delayMs)).toEqual([20, 40, 80, 160, 200, 200]);
    const downs = of('disconnected').slice(0, 6);
    for (const d of downs) expect(d.uptimeMs).toBeLessThan(FIXED.minUptimeMs);
    // Each link came up (a welcome) and each redial waited at least its delay after the drop.
    expect(of('connected').length).toBeGreaterThanOrEqual(6);
    const dials = of('dialing');
    for (let i = 0; i < 5; i++) {
      expect(dials[i + 1]!.at - downs[i]!.at).toBeGreaterThanOrEqual(scheduled[i]!.delayMs - 2);
    }

    // Once a link stays up for minUptimeMs, the next drop starts over at attempt 1.
    await w.waitConnected(5000);
    const up = of('connected').at(-1)!;
    await waitFor(() => performance.now() - up.at >= FIXED.minUptimeMs + 20, 2000, 'a stable link');
    const before = of('reconnect-scheduled').length;
    expect(h.evict('w1', 'one more drop')).toBe(true);
    const next = await nextEvent(w, 'reconnect-scheduled', 2000);
    expect(of('reconnect-scheduled')).toHaveLength(before + 1);
    expect(next).toMatchObject({ attempt: 1, delayMs: 20 });
    expect(of('disconnected').at(-1)!.uptimeMs).toBeGreaterThanOrEqual(FIXED.minUptimeMs);
  });

  // Regression: "one retry at the same hub" was unlimited while each retry connected, so a worker
  // stayed on a hub that accepts and drops it at once (backing off up to the cap) with a healthy hub listed.
  it('gives a flapping hub one retry, then fails over to the next hub and stays there', async () => {
    const h = await flappingHub();
    const received: number[] = [];
    const b = await hub({ handler: (m) => void received.push(m.seq) });
    const { w, of } = worker([h.url, b.url], { backoff: FIXED });
    const onB = nextEvent(w, 'connected', 5000, (e) => e.hubId === b.hubId);
    await produce(w, 0, 50);
    await onB;
    await waitFor(() => w.session.outbox.size === 0, 5000, 'all acked by the second hub');
    expect(of('dialing').map((e) => e.url)).toEqual([`${h.url}/`, `${h.url}/`, `${b.url}/`]);
    expect(of('failover')).toEqual([expect.objectContaining({ fromUrl: `${h.url}/`, toUrl: `${b.url}/` })]);
    expect(of('disconnected')).toHaveLength(2);
    expect(of('reconnect-scheduled').map((e) => e.attempt)).toEqual([1, 2]);
    expect(new Set(received).size).toBe(50);
    expect(Math.max(...received)).toBe(50);
  });
});
