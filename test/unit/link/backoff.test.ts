import { describe, expect, it } from 'vitest';
import { Backoff, DEFAULT_BACKOFF } from '../../../src/link/backoff.js';

/** The largest double below 1: what `Math.random()` can return at most. */
const ALMOST_ONE = 1 - 2 ** -53;

function delays(b: Backoff, n: number): number[] {
  return Array.from({ length: n }, () => b.next().delayMs);
}

describe('Backoff', () => {
  it('has the documented defaults', () => {
    expect(DEFAULT_BACKOFF).toEqual({
      initialDelayMs: 250,
      maxDelayMs: 30_000,
      multiplier: 2,
      minUptimeMs: 10_000,
    });
    const b = new Backoff({ random: () => ALMOST_ONE });
    expect(b.attempt).toBe(0);
    expect(b.ceiling()).toBe(250);
    expect(delays(b, 9)).toEqual([249, 499, 999, 1999, 3999, 7999, 15_999, 29_999, 29_999]);
  });

  it('uses full jitter: random 0 gives a delay of 0 at every attempt', () => {
    const b = new Backoff({ random: () => 0 });
    expect(delays(b, 20)).toEqual(Array(20).fill(0));
  });

  it('uses full jitter: the largest random value gives ceiling - 1', () => {
    const b = new Backoff({ initialDelayMs: 100, maxDelayMs: 10_000, random: () => ALMOST_ONE });
    for (let i = 0; i < 12; i++) {
      const ceiling = b.ceiling();
      expect(b.next().delayMs).toBe(ceiling - 1);
    }
  });

  it('scales the random value over the whole window [0, ceiling)', () => {
    const b = new Backoff({ initialDelayMs: 1000, random: () => 0.5 });
    expect(delays(b, 3)).toEqual([500, 1000, 2000]);
    const quarter = new Backoff({ initialDelayMs: 1000, random: () => 0.25 });
    expect(quarter.next().delayMs).toBe(250);
  });

  it('grows the ceiling exponentially by the multiplier and counts attempts', () => {
    const b = new Backoff({ initialDelayMs: 10, multiplier: 3, maxDelayMs: 1e9, random: () => 0 });
    const ceilings: number[] = [];
    for (let i = 1; i <= 6; i++) {
      ceilings.push(b.ceiling());
      expect(b.next()).toEqual({ attempt: i, delayMs: 0 });
      expect(b.attempt).toBe(i);
    }
    expect(ceilings).toEqual([10, 30, 90, 270, 810, 2430]);
  });

  it('caps the ceiling at maxDelayMs, also after very many attempts', () => {
    const b = new Backoff({ initialDelayMs: 250, maxDelayMs: 5000, random: () => ALMOST_ONE });
    const d = delays(b, 2000);
    expect(d.slice(0, 6)).toEqual([249, 499, 999, 1999, 3999, 4999]);
    expect(Math.max(...d)).toBe(4999);
    expect(d.at(-1)).toBe(4999);
    expect(b.ceiling()).toBe(5000);
  });

  it('resets the attempt count after a connection that lasted minUptimeMs', () => {
    const b = new Backoff({ minUptimeMs: 10_000, random: () => 0 });
    delays(b, 5);
    b.connected(1_000);
    expect(b.disconnected(11_000)).toBe(10_000);
    expect(b.attempt).toBe(0);
    expect(b.ceiling()).toBe(250);
  });

  it('does not reset after a connection 1 ms short of minUptimeMs', () => {
    const b = new Backoff({ minUptimeMs: 10_000, random: () => 0 });
    delays(b, 5);
    b.connected(1_000);
    expect(b.disconnected(10_999)).toBe(9_999);
    expect(b.attempt).toBe(5);
  });

  it('keeps backing off while a link flaps (connects, then dies at once)', () => {
    const b = new Backoff({
      initialDelayMs: 100,
      maxDelayMs: 1e6,
      minUptimeMs: 5000,
      random: () => ALMOST_ONE,
    });
    let now = 0;
    const seen: number[] = [];
    for (let i = 0; i < 8; i++) {
      const { delayMs } = b.next();
      seen.push(delayMs);
      now += delayMs;
      b.connected(now);
      now += 50; // up for 50 ms, then dropped
      expect(b.disconnected(now)).toBe(50);
    }
    expect(seen).toEqual([99, 199, 399, 799, 1599, 3199, 6399, 12_799]);
    expect(b.attempt).toBe(8);
  });

  it('treats a disconnect without a connect as zero uptime', () => {
    const b = new Backoff({ minUptimeMs: 0, random: () => 0 });
    delays(b, 3);
    expect(b.disconnected(123_456)).toBe(0);
    // minUptimeMs 0: even zero uptime counts as stable.
    expect(b.attempt).toBe(0);
    const strict = new Backoff({ minUptimeMs: 1, random: () => 0 });
    delays(strict, 3);
    expect(strict.disconnected(123_456)).toBe(0);
    expect(strict.attempt).toBe(3);
  });

  it('forgets the connect time after a disconnect', () => {
    const b = new Backoff({ minUptimeMs: 1000, random: () => 0 });
    delays(b, 2);
    b.connected(0);
    expect(b.disconnected(10)).toBe(10);
    // A second disconnect must not measure from the old connect time.
    expect(b.disconnected(50_000)).toBe(0);
    expect(b.attempt).toBe(2);
  });

  it('reset() restarts the count and forgets the connect time', () => {
    const b = new Backoff({ minUptimeMs: 1000, random: () => ALMOST_ONE });
    delays(b, 4);
    b.connected(0);
    b.reset();
    expect(b.attempt).toBe(0);
    expect(b.next()).toEqual({ attempt: 1, delayMs: 249 });
    expect(b.disconnected(5_000)).toBe(0);
    expect(b.attempt).toBe(1);
  });

  it('draws one random number per delay', () => {
    let calls = 0;
    const b = new Backoff({
      random: () => {
        calls++;
        return 0.1;
      },
    });
    delays(b, 7);
    expect(calls).toBe(7);
  });
});
