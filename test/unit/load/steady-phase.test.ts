import { describe, expect, it } from 'vitest';
import { SteadyPhase } from '../../../src/load/steady-phase.js';

describe('SteadyPhase', () => {
  it('is steady only once every worker has been connected for the settle time', () => {
    const phase = new SteadyPhase(100, 2000);
    expect(phase.update(40, 0, 0)).toBe(false);
    expect(phase.update(100, 0, 1000)).toBe(false);
    expect(phase.update(100, 0, 2999)).toBe(false);
    expect(phase.update(100, 0, 3000)).toBe(true);
    expect(phase.update(100, 0, 60_000)).toBe(true);
  });

  it('ends at a disconnect (a hub restart) and resumes only after the whole fleet is back and settled', () => {
    const phase = new SteadyPhase(100, 2000);
    phase.update(100, 0, 0);
    expect(phase.update(100, 0, 5000)).toBe(true);
    expect(phase.update(0, 0, 6000)).toBe(false);
    expect(phase.update(99, 99, 9000)).toBe(false);
    expect(phase.update(100, 100, 10_000)).toBe(false);
    expect(phase.update(100, 100, 11_999)).toBe(false);
    expect(phase.update(100, 100, 12_000)).toBe(true);
  });

  it('treats a reconnect between two reports as a disruption even though all are connected again', () => {
    const phase = new SteadyPhase(100, 2000);
    phase.update(100, 0, 0);
    expect(phase.update(100, 0, 4000)).toBe(true);
    expect(phase.update(100, 1, 5000)).toBe(false);
    expect(phase.update(100, 1, 6000)).toBe(false);
    expect(phase.update(100, 1, 7000)).toBe(true);
  });
});
