import { describe, expect, it } from 'vitest';
import { MessageSampler } from '../../../src/telemetry/message-sampler.js';

/** A seeded generator (mulberry32), so the counts below are the same on every run. */
function seeded(seed: number): { random: () => number; calls: () => number } {
  let a = seed >>> 0;
  let n = 0;
  return {
    random: () => {
      n++;
      a = (a + 0x6d2b79f5) >>> 0;
      let t = a;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    },
    calls: () => n,
  };
}

const NO_CAP = 1e12;

describe('MessageSampler: the ratio as a countdown', () => {
  it('samples about `ratio` of messages (1% of 1,000,000 is 10,000 ± 5 sigma)', () => {
    const { random } = seeded(1);
    const s = new MessageSampler(0.01, NO_CAP, random);
    let n = 0;
    for (let i = 0; i < 1_000_000; i++) if (s.byRatio()) n++;
    expect(n).toBeGreaterThan(9_500);
    expect(n).toBeLessThan(10_500);
  });

  it('draws one random number per sampled message, not per message', () => {
    const { random, calls } = seeded(2);
    const s = new MessageSampler(0.01, NO_CAP, random);
    let n = 0;
    for (let i = 0; i < 100_000; i++) if (s.byRatio()) n++;
    expect(n).toBeGreaterThan(0);
    expect(calls()).toBe(n + 1);
  });

  it('gaps are geometric: at ratio 0.5 half the gaps are 1, a quarter are 2', () => {
    const { random } = seeded(3);
    const s = new MessageSampler(0.5, NO_CAP, random);
    const gaps = new Map<number, number>();
    let last = 0;
    let samples = 0;
    for (let i = 1; i <= 200_000; i++) {
      if (!s.byRatio()) continue;
      gaps.set(i - last, (gaps.get(i - last) ?? 0) + 1);
      last = i;
      samples++;
    }
    expect((gaps.get(1) ?? 0) / samples).toBeCloseTo(0.5, 1);
    expect((gaps.get(2) ?? 0) / samples).toBeCloseTo(0.25, 1);
  });

  it('ratio 0 samples nothing, ratio 1 everything', () => {
    const none = new MessageSampler(0, NO_CAP);
    const all = new MessageSampler(1, NO_CAP);
    for (let i = 0; i < 10_000; i++) {
      expect(none.byRatio()).toBe(false);
      expect(all.byRatio()).toBe(true);
    }
  });
});

describe('MessageSampler: at most perSecond traces a second', () => {
  it('holds perSecond, then refills at perSecond and never holds more', () => {
    let now = 0;
    const s = new MessageSampler(1, 100, Math.random, () => now);
    const take = (tries: number) => {
      let n = 0;
      for (let i = 0; i < tries; i++) if (s.withinRate()) n++;
      return n;
    };
    expect(take(1000)).toBe(100);
    now += 250;
    expect(take(1000)).toBe(25);
    // A long quiet spell refills to the bucket's size, not more.
    now += 60_000;
    expect(take(1000)).toBe(100);
  });

  it('at a sustained rate far above the cap, traces a second stay at the cap', () => {
    let now = 0;
    const { random } = seeded(4);
    const s = new MessageSampler(0.01, 100, random, () => now);
    let traced = 0;
    // 800,000 messages a second for 10 s, the clock moving every 80 messages (0.1 ms).
    for (let i = 0; i < 8_000_000; i++) {
      if (i % 80 === 0) now += 0.1;
      if (s.byRatio() && s.withinRate()) traced++;
    }
    // 100 in the bucket at the start, then 100 a second.
    expect(traced).toBeGreaterThan(1_000);
    expect(traced).toBeLessThanOrEqual(1_100);
  });

  it('a cap of 0 traces nothing', () => {
    const s = new MessageSampler(1, 0);
    for (let i = 0; i < 1000; i++) expect(s.withinRate()).toBe(false);
  });
});
