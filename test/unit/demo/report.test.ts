import { describe, expect, it } from 'vitest';
import { demoSummary, faultOutcome } from '../../../src/demo/report.js';
import type { FaultRecord } from '../../../src/demo/types.js';

const fault = (over: Partial<FaultRecord> = {}): FaultRecord => ({
  kind: 'blackhole',
  workerId: 'worker-2',
  injectedAt: 2_004.4,
  clearedAt: 11_010,
  detectedAt: 5_110.6,
  detectedBy: 'LinkwatchHeartbeatMissed',
  recoveredAt: 12_345.2,
  interrupted: false,
  ...over,
});

describe('the demo report', () => {
  it('reports a fault in seconds since start, and ms to detection and to recovery after clearing', () => {
    expect(faultOutcome(fault())).toEqual({
      kind: 'blackhole',
      workerId: 'worker-2',
      injectedAtS: 2,
      detectedBy: 'LinkwatchHeartbeatMissed',
      detectedAfterMs: 3_106,
      recoveredAfterMs: 1_335,
      interrupted: false,
    });
  });

  it('reports null for what never happened: no detection, no recovery, interrupted by stop()', () => {
    const f = faultOutcome(
      fault({ detectedAt: undefined, detectedBy: undefined, recoveredAt: undefined, interrupted: true }),
    );
    expect([f.detectedBy, f.detectedAfterMs, f.recoveredAfterMs, f.interrupted]).toEqual([
      null,
      null,
      null,
      true,
    ]);
  });

  it('sums the workers, takes the hub totals, and reports zeros when the hub never started', () => {
    const base = {
      hubId: 'hub-demo',
      durationMs: 61_449,
      workers: 2,
      workerCounters: [
        { sent: 10, acked: 9, replayed: 1 },
        { sent: 5, acked: 5, replayed: 0 },
      ],
      faults: [fault()],
      alerts: { fired: 3, resolved: 2, firingAtExit: ['LinkwatchLinkDown'] },
    };
    const s = demoSummary({ ...base, hubTotals: { processed: 14, duplicates: 1, timedOut: 2 } });
    expect(s).toMatchObject({
      role: 'demo',
      durationS: 61.4,
      sent: 15,
      acked: 14,
      replayed: 1,
      processed: 14,
      duplicatesDropped: 1,
      handlerTimeouts: 2,
      alerts: base.alerts,
    });
    expect(s.faults).toHaveLength(1);
    expect(demoSummary({ ...base, hubTotals: undefined })).toMatchObject({
      processed: 0,
      duplicatesDropped: 0,
      handlerTimeouts: 0,
    });
  });
});
