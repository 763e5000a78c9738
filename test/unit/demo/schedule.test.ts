import { describe, expect, it } from 'vitest';
import { faultCycle } from '../../../src/demo/schedule.js';

describe('the demo fault cycle', () => {
  const o = { cycleMs: 30_000, deadAfterMs: 3_000, handlerTimeoutMs: 2_000 };

  it('black-holes the second worker and hangs the third, each long enough to be detected', () => {
    const steps = faultCycle({ ...o, workerIds: ['a', 'b', 'c'] });
    expect(steps).toEqual([
      { kind: 'blackhole', workerId: 'b', atMs: 2_000, forMs: 9_000 },
      { kind: 'hang', workerId: 'c', atMs: 3_000, forMs: 6_000 },
    ]);
    for (const s of steps) expect(s.atMs + s.forMs).toBeLessThan(o.cycleMs - 5_000);
  });

  it('still runs both faults with one or two workers', () => {
    expect(faultCycle({ ...o, workerIds: ['a'] }).map((s) => s.workerId)).toEqual(['a', 'a']);
    expect(faultCycle({ ...o, workerIds: ['a', 'b'] }).map((s) => s.workerId)).toEqual(['b', 'b']);
    expect(faultCycle({ ...o, workerIds: [] })).toEqual([]);
  });
});
