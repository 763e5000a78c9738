import { describe, expect, it } from 'vitest';
import { BusyRate, MAX_RETRY_AFTER_SECONDS } from '../../../src/hub/admission.js';

describe('Retry-After sized to the storm', () => {
  it('asks for the minimum when few are refused', () => {
    const r = new BusyRate();
    for (let i = 0; i < 100; i++) r.settled(1000 + i);
    r.refused(1500);
    expect(r.retryAfterSeconds(1600, 1)).toBe(1);
  });

  it('asks for refused / served seconds, so retries come back at the rate the hub serves them', () => {
    const r = new BusyRate();
    // One second in which the hub settled 1,000 handshakes and refused 3,000 upgrades.
    for (let i = 0; i < 1000; i++) r.settled(1000 + i * 0.9);
    for (let i = 0; i < 3000; i++) r.refused(1000 + i * 0.3);
    expect(r.retryAfterSeconds(1950, 1)).toBe(3);
    // The next second still remembers the last one.
    expect(r.retryAfterSeconds(2100, 1)).toBe(3);
  });

  it('is capped, and forgets a storm two seconds after it', () => {
    const r = new BusyRate();
    r.settled(1000);
    for (let i = 0; i < 100_000; i++) r.refused(1000.5);
    expect(r.retryAfterSeconds(1001, 1)).toBe(MAX_RETRY_AFTER_SECONDS);
    expect(r.retryAfterSeconds(5000, 1)).toBe(1);
  });
});
