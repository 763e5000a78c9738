import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { LinkEvent, LinkEventListener } from '../../../src/link/events.js';
import type { Alert } from '../../../src/watchdog/alerts.js';
import type { WatchedLink, WatchedSession } from '../../../src/watchdog/link-tracker.js';
import { SWEEP_SLICE, Watchdog, type WatchdogTarget } from '../../../src/watchdog/watchdog.js';

interface FakeSession extends WatchedSession {
  counters: { acked: number; processed: number };
  outbox: { size: number };
  queue: { depth: number; hung: number };
}

const SETTINGS = {
  heartbeatIntervalMs: 100,
  heartbeatMisses: 3,
  highWatermarkBytes: 1024,
  sendStallTimeoutMs: 1000,
};

/** A hub-like target with N links and counters of what the watchdog reads. */
function fleet(n: number) {
  const sessions = new Map<string, FakeSession>();
  const links = new Map<string, WatchedLink>();
  const listeners = new Set<LinkEventListener>();
  const reads = { sessions: 0, iterated: 0, linkOf: 0 };
  const add = (id: string) => {
    sessions.set(id, {
      hubId: 'h1',
      counters: { acked: 0, processed: 0 },
      outbox: { size: 0 },
      queue: { depth: 0, hung: 0 },
    });
    links.set(id, { bufferedAmount: 0, consecutiveMisses: 0, settings: SETTINGS });
  };
  for (let i = 0; i < n; i++) add(`w${i}`);
  // Counts entries handed out by iteration, so a test can tell a lookup from a fleet-wide walk.
  const view: ReadonlyMap<string, WatchedSession> = {
    get: (id: string) => sessions.get(id),
    has: (id: string) => sessions.has(id),
    get size() {
      return sessions.size;
    },
    *entries() {
      for (const e of sessions.entries()) {
        reads.iterated++;
        yield e;
      }
    },
    keys: () => sessions.keys(),
    values: () => sessions.values(),
    forEach: () => {
      throw new Error('forEach would walk the fleet');
    },
    [Symbol.iterator]: () => {
      throw new Error('iterate entries() on the sweep only');
    },
  } as unknown as ReadonlyMap<string, WatchedSession>;
  const target: WatchdogTarget = {
    on(l) {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    sessions() {
      reads.sessions++;
      return view;
    },
    linkOf(id) {
      reads.linkOf++;
      return links.get(id);
    },
  };
  const emit = (e: Partial<LinkEvent> & Pick<LinkEvent, 'type' | 'workerId'>) => {
    for (const l of listeners) l({ side: 'hub', hubId: 'h1', at: performance.now(), ...e } as LinkEvent);
  };
  return { target, sessions, links, reads, emit, add };
}

function hubDog(target: WatchdogTarget, alerts: Alert[] = []) {
  return new Watchdog(target, {
    side: 'hub',
    hubId: 'h1',
    checkIntervalMs: 100,
    heartbeat: { intervalMs: 100, misses: 3 },
    sentinel: false,
    action: 'none',
    onAlert: (a) => alerts.push(a),
  });
}

beforeEach(() => {
  vi.useFakeTimers({
    toFake: ['setInterval', 'clearInterval', 'setImmediate', 'clearImmediate', 'performance'],
  });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('watchdog cost per event and per sweep', () => {
  it('a connect checks only its own link: no sweep, one link lookup, whatever the fleet size', async () => {
    for (const n of [10, 5000]) {
      const f = fleet(n);
      const dog = hubDog(f.target).start();
      f.reads.iterated = 0;
      f.reads.linkOf = 0;
      f.emit({ type: 'connected', workerId: 'w3', epoch: 1 } as LinkEvent);
      await Promise.resolve();
      expect(f.reads.iterated, `fleet of ${n}`).toBe(0);
      expect(f.reads.linkOf, `fleet of ${n}`).toBe(1);
      // /links never shows a live link as connecting.
      expect(dog.stateOf('w3')).toBe('healthy');
      expect(dog.stateOf('w4')).toBeUndefined();
      await dog.stop();
    }
  });

  it('heartbeat events touch no other link and no session map', () => {
    const f = fleet(3000);
    const dog = hubDog(f.target).start();
    f.reads.sessions = 0;
    for (let i = 0; i < 100; i++) {
      f.emit({ type: 'heartbeat-rtt', workerId: `w${i}`, rttMs: 1 } as LinkEvent);
      f.emit({ type: 'heartbeat-missed', workerId: `w${i}`, consecutive: 1, limit: 3 } as LinkEvent);
    }
    expect(f.reads.sessions).toBe(0);
    expect(f.reads.iterated).toBe(0);
    void dog.stop();
  });

  it('the timer sweeps every link in slices, so no macrotask checks more than SWEEP_SLICE links', async () => {
    const n = SWEEP_SLICE * 2 + 500;
    const f = fleet(n);
    const dog = hubDog(f.target).start();
    vi.advanceTimersByTime(100);
    // The interval tick checked one slice; the rest follow in later macrotasks.
    expect(f.reads.iterated).toBe(SWEEP_SLICE);
    expect(f.reads.linkOf).toBe(SWEEP_SLICE);
    vi.advanceTimersToNextTimer(); // the next slice, before the next interval
    expect(f.reads.linkOf).toBe(SWEEP_SLICE * 2);
    vi.advanceTimersToNextTimer();
    expect(f.reads.linkOf).toBe(n);
    expect(f.reads.iterated).toBe(n);
    // Every link got a state, each checked once in the round.
    expect(dog.stateOf('w0')).toBe('healthy');
    expect(dog.stateOf(`w${n - 1}`)).toBe('healthy');
    await dog.stop();
  });

  it('a stalled link alerts and resolves through the sweep; links the target forgot are resolved and dropped', async () => {
    const f = fleet(50);
    const alerts: Alert[] = [];
    const dog = hubDog(f.target, alerts).start();
    for (const id of f.sessions.keys()) f.emit({ type: 'connected', workerId: id, epoch: 1 } as LinkEvent);
    await Promise.resolve();
    const stuck = f.sessions.get('w7')!;
    stuck.outbox.size = 1; // pending work, and no ack ever moves
    // progressStallMs is max(3 × 300 ms, 5 s) = 5 s.
    vi.advanceTimersByTime(5_200);
    expect(dog.stateOf('w7')).toBe('stalled');
    expect(dog.alertsOf('w7')).toEqual(['LinkwatchProgressStalled']);
    expect(dog.alertsOf('w8')).toEqual([]);
    expect(alerts.filter((a) => a.status === 'firing').map((a) => a.labels.linkwatch_worker_id)).toEqual([
      'w7',
    ]);
    // The hub forgets the session (TTL): the next sweep resolves its alert and drops its state.
    f.sessions.delete('w7');
    vi.advanceTimersByTime(100);
    expect(alerts.at(-1)).toMatchObject({ name: 'LinkwatchProgressStalled', status: 'resolved' });
    expect(dog.stateOf('w7')).toBeUndefined();
    expect(dog.activeAlerts()).toEqual([]);
    await dog.stop();
  });

  it('stop() cancels a sweep in the middle of its slices', async () => {
    const f = fleet(SWEEP_SLICE * 3);
    const dog = hubDog(f.target).start();
    vi.advanceTimersByTime(100);
    expect(f.reads.linkOf).toBe(SWEEP_SLICE);
    await dog.stop();
    vi.runAllTimers();
    expect(f.reads.linkOf).toBe(SWEEP_SLICE);
  });
});
