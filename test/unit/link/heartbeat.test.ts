import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  deadlineStep,
  FOLLOW_SLACK,
  HELD_FOLLOW_SLACK,
  Heartbeat,
  type HeartbeatHost,
} from '../../../src/link/heartbeat.js';

const INTERVAL = 1000;
const MISSES = 3;
const DEAD_AFTER = INTERVAL * MISSES;

type Call =
  | { type: 'send'; id: number; ts: number; at: number }
  | { type: 'missed'; consecutive: number; at: number }
  | { type: 'dead'; silentMs: number; at: number }
  | { type: 'rtt'; rttMs: number; at: number };

/** A host that records every call with the (fake) monotonic time it happened at. */
class FakeHost implements HeartbeatHost {
  readonly calls: Call[] = [];
  sendHeartbeat(id: number, ts: number): void {
    this.calls.push({ type: 'send', id, ts, at: performance.now() });
  }
  missed(consecutive: number): void {
    this.calls.push({ type: 'missed', consecutive, at: performance.now() });
  }
  dead(silentMs: number): void {
    this.calls.push({ type: 'dead', silentMs, at: performance.now() });
  }
  rtt(rttMs: number): void {
    this.calls.push({ type: 'rtt', rttMs, at: performance.now() });
  }
  of<T extends Call['type']>(type: T): Extract<Call, { type: T }>[] {
    return this.calls.filter((c): c is Extract<Call, { type: T }> => c.type === type);
  }
  lastSend(): Extract<Call, { type: 'send' }> {
    const sends = this.of('send');
    const last = sends.at(-1);
    if (!last) throw new Error('no heartbeat sent yet');
    return last;
  }
}

let host: FakeHost;
let hb: Heartbeat;
let t0: number;

beforeEach(() => {
  vi.useFakeTimers({
    toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date', 'performance'],
    now: new Date('2030-01-01T00:00:00Z'),
  });
  host = new FakeHost();
  hb = new Heartbeat(host, { intervalMs: INTERVAL, misses: MISSES });
  t0 = performance.now();
});

afterEach(() => {
  hb.cancel();
  vi.useRealTimers();
});

/** Ms of fake time since the test began. */
function elapsed(at: number): number {
  return at - t0;
}

describe('Heartbeat', () => {
  it('sends the first heartbeat as soon as it starts, stamped with the wall clock', () => {
    hb.start();
    expect(host.calls).toEqual([{ type: 'send', id: 1, ts: Date.now(), at: t0 }]);
    expect(hb.deadAfterMs).toBe(DEAD_AFTER);
    expect(hb.consecutiveMisses).toBe(0);
    expect(hb.lastRttMs).toBeUndefined();
  });

  it('sends one heartbeat per interval with increasing ids', () => {
    hb.start();
    vi.advanceTimersByTime(INTERVAL - 1);
    expect(host.of('send')).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(host.of('send').map((c) => [c.id, elapsed(c.at)])).toEqual([
      [1, 0],
      [2, INTERVAL],
    ]);
  });

  it('counts consecutive misses, one per interval without an ack', () => {
    hb.start();
    vi.advanceTimersByTime(INTERVAL);
    expect(host.of('missed')).toEqual([{ type: 'missed', consecutive: 1, at: t0 + INTERVAL }]);
    expect(hb.consecutiveMisses).toBe(1);
    vi.advanceTimersByTime(INTERVAL);
    expect(host.of('missed').map((c) => c.consecutive)).toEqual([1, 2]);
    expect(hb.consecutiveMisses).toBe(2);
    expect(host.of('dead')).toEqual([]);
  });

  it('an ack resets the misses and reports the round-trip time', () => {
    hb.start();
    vi.advanceTimersByTime(2 * INTERVAL); // two misses, heartbeat 3 outstanding
    expect(hb.consecutiveMisses).toBe(2);
    vi.advanceTimersByTime(120);
    const { id, ts } = host.lastSend();
    expect(id).toBe(3);
    hb.ack(id, ts);
    expect(hb.consecutiveMisses).toBe(0);
    expect(hb.lastRttMs).toBe(120);
    expect(host.of('rtt')).toEqual([{ type: 'rtt', rttMs: 120, at: t0 + 2 * INTERVAL + 120 }]);
    expect(hb.silentMs()).toBe(0);
    // The acked heartbeat is no longer outstanding, so the next tick is not a miss.
    vi.advanceTimersByTime(INTERVAL - 120);
    expect(host.of('missed').map((c) => c.consecutive)).toEqual([1, 2]);
    // ...but the one sent then is, if it gets no ack: the count starts again at 1.
    vi.advanceTimersByTime(INTERVAL);
    expect(host.of('missed').map((c) => c.consecutive)).toEqual([1, 2, 1]);
  });

  it('measures a stale ack (RTT above the interval) from the echoed wall-clock timestamp', () => {
    hb.start();
    const first = host.lastSend();
    vi.advanceTimersByTime(INTERVAL + 500); // heartbeat 2 replaced 1 as outstanding
    hb.ack(first.id, first.ts);
    expect(hb.lastRttMs).toBe(INTERVAL + 500);
    expect(host.of('rtt').map((c) => c.rttMs)).toEqual([INTERVAL + 500]);
    expect(hb.consecutiveMisses).toBe(0);
  });

  it('never reports a negative RTT for an echoed timestamp from the future', () => {
    hb.start();
    hb.ack(999, Date.now() + 5000);
    expect(hb.lastRttMs).toBe(0);
  });

  it('declares the link dead at intervalMs × misses of silence, not 1 ms before', () => {
    hb.start();
    vi.advanceTimersByTime(DEAD_AFTER - 1);
    expect(host.of('dead')).toEqual([]);
    expect(host.of('missed').map((c) => c.consecutive)).toEqual([1, 2]);
    vi.advanceTimersByTime(1);
    expect(host.of('dead')).toEqual([{ type: 'dead', silentMs: DEAD_AFTER, at: t0 + DEAD_AFTER }]);
    // The third tick falls on the same millisecond as the deadline; which runs first is up to the
    // timer queue, so only the first two misses are certain.
    expect(
      host
        .of('missed')
        .map((c) => c.consecutive)
        .slice(0, 2),
    ).toEqual([1, 2]);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('measures the deadline from the last ack, not from start', () => {
    hb.start();
    vi.advanceTimersByTime(1500);
    hb.ack(host.lastSend().id, host.lastSend().ts);
    const lastAck = 1500;
    vi.advanceTimersByTime(DEAD_AFTER - 1); // the first deadline (at 3000) only re-arms
    expect(host.of('dead')).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(host.of('dead')).toEqual([{ type: 'dead', silentMs: DEAD_AFTER, at: t0 + lastAck + DEAD_AFTER }]);
  });

  it('declares a link dead at most one deadline step late, whatever the silence at the last check', () => {
    const step = deadlineStep(INTERVAL);
    expect(step).toBe(50);
    for (const lastAck of [1, 337, 999, 1049]) {
      hb.cancel();
      host.calls.length = 0;
      const start = performance.now();
      hb.start();
      vi.advanceTimersByTime(lastAck);
      hb.ack(host.lastSend().id, host.lastSend().ts);
      vi.advanceTimersByTime(DEAD_AFTER - 1);
      expect(host.of('dead')).toEqual([]);
      vi.advanceTimersByTime(step + 1);
      const [dead] = host.of('dead');
      expect(dead).toBeDefined();
      const late = dead!.at - (start + lastAck + DEAD_AFTER);
      expect(late).toBeGreaterThanOrEqual(0);
      expect(late).toBeLessThanOrEqual(step);
      expect(dead!.silentMs).toBe(DEAD_AFTER + late);
    }
  });

  it('re-arms its deadline by refreshing one Timeout while acks come at a steady pace', () => {
    // Node keeps a timer list per distinct delay: a new Timeout, and often a new list, per
    // re-arm lived for seconds and ended as old-generation garbage on a 10,000-link hub.
    hb.start();
    const made = vi.spyOn(globalThis, 'setTimeout');
    for (let i = 0; i < 100; i++) {
      vi.advanceTimersByTime(40);
      hb.ack(host.lastSend().id, host.lastSend().ts);
      vi.advanceTimersByTime(INTERVAL - 40);
    }
    expect(host.of('dead')).toEqual([]);
    // The deadline ran about 30 checks; new Timeouts only until the pace settles (before the
    // rounding, each check made one).
    expect(made.mock.calls.length).toBeLessThanOrEqual(2);
    made.mockRestore();
    expect(vi.getTimerCount()).toBe(2);
  });

  it('fires dead() only once and then releases every timer', () => {
    hb.start();
    vi.advanceTimersByTime(DEAD_AFTER);
    expect(host.of('dead')).toHaveLength(1);
    expect(vi.getTimerCount()).toBe(0);
    const sends = host.of('send').length;
    vi.advanceTimersByTime(10 * DEAD_AFTER);
    expect(host.of('dead')).toHaveLength(1);
    expect(host.of('send')).toHaveLength(sends);
  });

  it('stays alive indefinitely while acks keep coming', () => {
    hb.start();
    for (let i = 0; i < 1000; i++) {
      vi.advanceTimersByTime(40);
      const { id, ts } = host.lastSend();
      hb.ack(id, ts);
      vi.advanceTimersByTime(INTERVAL - 40);
    }
    expect(host.of('dead')).toEqual([]);
    expect(host.of('missed')).toEqual([]);
    expect(host.of('send')).toHaveLength(1001);
    expect(host.of('rtt').every((c) => c.rttMs === 40)).toBe(true);
    expect(host.of('rtt')).toHaveLength(1000);
    // Lazy re-arming keeps the timer count constant: the interval and one deadline.
    expect(vi.getTimerCount()).toBe(2);
  });

  it('survives acks that arrive just before each deadline', () => {
    hb.start();
    for (let i = 0; i < 50; i++) {
      vi.advanceTimersByTime(DEAD_AFTER - 1);
      hb.ack(host.lastSend().id, host.lastSend().ts);
    }
    expect(host.of('dead')).toEqual([]);
    vi.advanceTimersByTime(DEAD_AFTER);
    expect(host.of('dead')).toHaveLength(1);
  });

  describe('progress (data from the peer, or acks for ours) proves a round trip', () => {
    it('keeps a link alive with no heartbeat acks at all, and counts no misses', () => {
      hb.start();
      for (let i = 0; i < 500; i++) {
        vi.advanceTimersByTime(50);
        hb.progress();
      }
      expect(host.of('dead')).toEqual([]);
      expect(host.of('missed')).toEqual([]);
      expect(hb.consecutiveMisses).toBe(0);
      // Seen at most a check ago (a check runs every interval).
      expect(hb.silentMs()).toBeLessThanOrEqual(INTERVAL);
    });

    // Regression: the deadline timer re-arms onto tick times. When it ran first it took the
    // progress flag, and the tick that followed counted a miss on a moving link.
    it('counts no miss when the deadline check takes the progress just before a tick', () => {
      hb.start();
      for (let i = 0; i < 100; i++) {
        vi.advanceTimersByTime(INTERVAL / 2);
        hb.progress();
        vi.advanceTimersByTime(INTERVAL / 2);
      }
      expect(host.of('missed')).toEqual([]);
    });

    it('never postpones the deadline: once progress stops, dead within intervalMs × misses', () => {
      hb.start();
      let lastProgress = 0;
      for (let i = 0; i < 20; i++) {
        vi.advanceTimersByTime(70);
        hb.progress();
        lastProgress = performance.now();
      }
      vi.advanceTimersByTime(DEAD_AFTER + INTERVAL);
      const [dead] = host.of('dead');
      expect(dead).toBeDefined();
      expect(dead!.at - lastProgress).toBeLessThanOrEqual(DEAD_AFTER);
      // Misses count the ticks that found neither progress nor an ack, from 1 again.
      expect(host.of('missed').map((m) => m.consecutive)[0]).toBe(1);
    });

    it('silentMs() already counts progress that no check has applied yet', () => {
      hb.start();
      vi.advanceTimersByTime(INTERVAL * 2 + 10); // two checks without progress
      expect(hb.silentMs()).toBe(INTERVAL * 2 + 10);
      hb.progress();
      // Dated to the last check, the earliest it can have happened.
      expect(hb.silentMs()).toBe(10);
    });
  });

  it('cancel() stops every timer', () => {
    hb.start();
    expect(vi.getTimerCount()).toBe(2);
    vi.advanceTimersByTime(INTERVAL + 10);
    hb.cancel();
    expect(vi.getTimerCount()).toBe(0);
    const before = host.calls.length;
    vi.advanceTimersByTime(100 * DEAD_AFTER);
    expect(host.calls).toHaveLength(before);
  });

  it('cancel() before start() and twice in a row is harmless', () => {
    hb.cancel();
    hb.cancel();
    expect(vi.getTimerCount()).toBe(0);
    expect(host.calls).toEqual([]);
  });

  it('start() twice does not double the timers', () => {
    hb.start();
    hb.start();
    expect(vi.getTimerCount()).toBe(2);
    expect(host.of('send').map((c) => c.id)).toEqual([1, 2]);
    vi.advanceTimersByTime(INTERVAL);
    expect(host.of('send').map((c) => c.id)).toEqual([1, 2, 3]);
    expect(host.of('missed').map((c) => c.consecutive)).toEqual([1]);
  });

  it('start() after dead() begins a fresh deadline with fresh counts', () => {
    hb.start();
    vi.advanceTimersByTime(DEAD_AFTER);
    expect(host.of('dead')).toHaveLength(1);
    hb.start();
    expect(hb.consecutiveMisses).toBe(0);
    expect(hb.silentMs()).toBe(0);
    expect(vi.getTimerCount()).toBe(2);
    vi.advanceTimersByTime(DEAD_AFTER - 1);
    expect(host.of('dead')).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(host.of('dead')).toHaveLength(2);
    expect(host.of('dead')[1]).toMatchObject({ silentMs: DEAD_AFTER, at: t0 + 2 * DEAD_AFTER });
  });

  it('returns to zero timers after many start/cancel cycles', () => {
    for (let i = 0; i < 500; i++) {
      hb.start();
      vi.advanceTimersByTime(i % 7 === 0 ? DEAD_AFTER : 300);
      hb.cancel();
    }
    expect(vi.getTimerCount()).toBe(0);
  });

  it('uses an injected monotonic clock for RTT and silence', () => {
    let clock = 50_000;
    const h = new FakeHost();
    const beat = new Heartbeat(h, { intervalMs: INTERVAL, misses: MISSES, now: () => clock });
    beat.start();
    clock += 75;
    const { id, ts } = h.lastSend();
    beat.ack(id, ts);
    expect(beat.lastRttMs).toBe(75);
    clock += 400;
    expect(beat.silentMs()).toBe(400);
    beat.cancel();
  });
});

describe('Heartbeat: a follower (the hub) beats with the peer', () => {
  let follower: Heartbeat;
  beforeEach(() => {
    follower = new Heartbeat(host, { intervalMs: INTERVAL, misses: MISSES, follow: true });
  });
  afterEach(() => follower.cancel());

  it("beats when the peer's heartbeat arrives, not on a clock of its own", () => {
    follower.start();
    follower.ack(host.lastSend().id, host.lastSend().ts);
    for (let i = 1; i <= 5; i++) {
      vi.advanceTimersByTime(INTERVAL - 30);
      follower.peerBeat();
      const { id, ts } = host.lastSend();
      follower.ack(id, ts);
      vi.advanceTimersByTime(30);
    }
    // One beat at start, then one with each of the peer's: never a second one from a timer.
    expect(host.of('send').map((c) => elapsed(c.at))).toEqual([0, 970, 1970, 2970, 3970, 4970]);
    expect(host.of('missed')).toEqual([]);
  });

  it('beats by itself FOLLOW_SLACK intervals after its last beat once the peer stops beating', () => {
    // One miss more than the default: with three, the fourth beat falls on the dead deadline
    // (3 intervals after the last ack), where the deadline check may come first.
    follower.cancel();
    follower = new Heartbeat(host, { intervalMs: INTERVAL, misses: MISSES + 1, follow: true });
    follower.start();
    follower.ack(host.lastSend().id, host.lastSend().ts);
    vi.advanceTimersByTime(500);
    follower.peerBeat(); // half an interval since the start beat: joins the answer
    const { id, ts } = host.lastSend();
    follower.ack(id, ts);
    vi.advanceTimersByTime(INTERVAL * FOLLOW_SLACK - 1);
    expect(host.of('send')).toHaveLength(2);
    vi.advanceTimersByTime(1);
    vi.advanceTimersByTime(INTERVAL * FOLLOW_SLACK);
    expect(host.of('send').map((c) => elapsed(c.at))).toEqual([
      0,
      500,
      500 + INTERVAL * FOLLOW_SLACK,
      500 + 2 * INTERVAL * FOLLOW_SLACK,
    ]);
    // The third beat went unanswered: the fourth counts a miss.
    expect(host.of('missed').map((c) => c.consecutive)).toEqual([1]);
  });

  it('does not follow a peer that beats faster than the interval into its flood', () => {
    follower.start();
    for (let t = 0; t < 20 * INTERVAL; t += 100) {
      vi.advanceTimersByTime(100);
      follower.peerBeat();
    }
    // At most one beat per half interval, and never more than one beat ahead of one per interval.
    const sends = host.of('send').map((c) => elapsed(c.at));
    for (let i = 1; i < sends.length; i++)
      expect(sends[i]! - sends[i - 1]!).toBeGreaterThanOrEqual(INTERVAL / 2);
    expect(sends.length).toBeLessThanOrEqual(20 + 2);
  });

  it('does not replace its own unanswered beat before an interval passed (heartbeats bunched on a slow link)', () => {
    follower.start();
    vi.advanceTimersByTime(INTERVAL / 2);
    follower.peerBeat(); // the start beat is unanswered and young: no beat, no miss
    expect(host.of('send')).toHaveLength(1);
    vi.advanceTimersByTime(INTERVAL / 2);
    follower.peerBeat(); // an interval old now: replaced, and judged a miss as a leader would
    expect(host.of('send')).toHaveLength(2);
    expect(host.of('missed').map((c) => [c.consecutive, elapsed(c.at)])).toEqual([[1, INTERVAL]]);
  });

  it('keeps the dead deadline of a leader: dead at intervalMs × misses without a round trip', () => {
    follower.start();
    for (let t = 0; t < DEAD_AFTER - INTERVAL; t += INTERVAL) {
      vi.advanceTimersByTime(INTERVAL);
      follower.peerBeat(); // the peer's heartbeats arrive, our acks never come back
    }
    vi.advanceTimersByTime(INTERVAL - 1);
    expect(host.of('dead')).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(host.of('dead')).toEqual([{ type: 'dead', silentMs: DEAD_AFTER, at: t0 + DEAD_AFTER }]);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('a leader ignores peerBeat(): it keeps its own interval', () => {
    hb.start();
    vi.advanceTimersByTime(600);
    hb.peerBeat();
    expect(host.of('send')).toHaveLength(1);
    vi.advanceTimersByTime(400);
    expect(host.of('send').map((c) => elapsed(c.at))).toEqual([0, INTERVAL]);
  });
});

describe('Heartbeat: held answers (protocol revision 3)', () => {
  it('takes the time the peer held its answer off the RTT', () => {
    hb.start();
    const { id, ts } = host.lastSend();
    vi.advanceTimersByTime(800);
    hb.ack(id, ts, 790);
    expect(host.of('rtt').map((c) => c.rttMs)).toEqual([10]);
    // A stale id: from the echoed wall clock, less the hold, never below zero.
    vi.advanceTimersByTime(100);
    hb.ack(id, ts, 5000);
    expect(host.of('rtt').map((c) => c.rttMs)).toEqual([10, 0]);
  });

  it('a follower whose peer holds its answers beats by itself after HELD_FOLLOW_SLACK intervals, and counts no miss for an answer that comes with the next beat', () => {
    const follower = new Heartbeat(host, {
      intervalMs: INTERVAL,
      misses: MISSES,
      follow: true,
      peerHoldsAcks: true,
    });
    try {
      follower.start();
      for (let i = 1; i <= 4; i++) {
        // The peer's next beat comes LEAD_SLACK intervals late, its held answer just before it.
        const { id, ts } = host.lastSend();
        vi.advanceTimersByTime(INTERVAL * 1.25 + 100);
        follower.ack(id, ts, INTERVAL * 1.25 + 90);
        follower.peerBeat();
      }
      expect(host.of('missed')).toEqual([]);
      expect(host.of('rtt').map((c) => c.rttMs)).toEqual([10, 10, 10, 10]);
      const beats = host.of('send').length;
      // The peer stops: the follower's own timer, HELD_FOLLOW_SLACK intervals after its last beat.
      vi.advanceTimersByTime(INTERVAL * HELD_FOLLOW_SLACK - 1);
      expect(host.of('send')).toHaveLength(beats);
      vi.advanceTimersByTime(1);
      expect(host.of('send')).toHaveLength(beats + 1);
      expect(HELD_FOLLOW_SLACK).toBeGreaterThan(FOLLOW_SLACK);
    } finally {
      follower.cancel();
    }
  });
});
