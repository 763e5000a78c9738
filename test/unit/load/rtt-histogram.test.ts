import { describe, expect, it } from 'vitest';
import { LatencyHistogram } from '../../../src/load/rtt-histogram.js';

describe('LatencyHistogram', () => {
  it('reads percentiles within one bucket of the exact value, never below it', () => {
    const h = new LatencyHistogram();
    for (let i = 1; i <= 1000; i++) h.record(i / 10); // 0.1 .. 100 ms
    expect(h.count).toBe(1000);
    expect(h.percentile(50)).toBeGreaterThanOrEqual(50);
    expect(h.percentile(50)).toBeLessThanOrEqual(51);
    expect(h.percentile(99)).toBeGreaterThanOrEqual(99);
    expect(h.percentile(99)).toBeLessThanOrEqual(100);
    expect(h.percentile(100)).toBe(100);
    expect(h.maxMs).toBe(100);
  });

  it('keeps sub-millisecond loopback RTTs apart', () => {
    const h = new LatencyHistogram();
    for (let i = 0; i < 99; i++) h.record(0.25);
    h.record(3.5);
    expect(h.percentile(50)).toBeCloseTo(0.26, 5);
    expect(h.percentile(100)).toBe(3.5);
  });

  it('drains a delta that another process adds up to the same percentiles', () => {
    const a = new LatencyHistogram();
    const b = new LatencyHistogram();
    for (let i = 0; i < 500; i++) a.record(2);
    for (let i = 0; i < 500; i++) b.record(40_000);
    const total = new LatencyHistogram();
    total.add(a.drain());
    total.add(JSON.parse(JSON.stringify(b.drain())));
    expect(a.count).toBe(0);
    expect(total.count).toBe(1000);
    expect(total.percentile(25)).toBeCloseTo(2.01, 5);
    expect(total.percentile(99)).toBe(40_000);
    expect(total.maxMs).toBe(40_000);
  });

  it('is empty at 0 and puts absurd values in the overflow bucket', () => {
    const h = new LatencyHistogram();
    expect(h.percentile(99)).toBe(0);
    h.record(Number.NaN);
    h.record(1e9);
    expect(h.count).toBe(2);
    expect(h.percentile(100)).toBe(1e9);
  });
});
