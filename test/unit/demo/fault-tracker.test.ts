import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { FaultTracker, type FaultTrackerOptions } from '../../../src/demo/fault-tracker.js';
import type { DemoEvent, FaultRecord } from '../../../src/demo/types.js';
import type { Alert } from '../../../src/watchdog/alerts.js';

const IDS = ['worker-1', 'worker-2', 'worker-3'];
// With these, the schedule black-holes worker-2 at 2 s for 9 s and hangs worker-3 at 3 s for 6 s.
const SCHEDULE = { workerIds: IDS, cycleMs: 30_000, deadAfterMs: 3_000, handlerTimeoutMs: 2_000 };

function alert(name: string, workerId: string | undefined, status: Alert['status'] = 'firing'): Alert {
  return { name, status, labels: workerId ? { linkwatch_worker_id: workerId } : {} } as unknown as Alert;
}

describe('FaultTracker', () => {
  let events: DemoEvent[];
  let started: FaultRecord[];
  let stopped: FaultRecord[];
  let recovered: Set<string>;
  let tracker: FaultTracker;
  let t0: number;

  const make = (overrides: Partial<FaultTrackerOptions> = {}) =>
    new FaultTracker({
      ...SCHEDULE,
      now: () => Date.now() - t0,
      effects: { start: (f) => started.push(f), stop: (f) => stopped.push(f) },
      isRecovered: (id) => recovered.has(id),
      emit: (e) => events.push(e),
      ...overrides,
    });
  const phases = () =>
    events.map((e) =>
      e.type === 'fault' ? `${e.phase} ${e.fault.kind}` : e.type === 'alert' ? 'alert' : e.type,
    );

  beforeEach(() => {
    vi.useFakeTimers();
    t0 = Date.now();
    events = [];
    started = [];
    stopped = [];
    recovered = new Set();
    tracker = make();
  });
  afterEach(() => {
    tracker.stop();
    vi.useRealTimers();
  });

  it('injects and clears each fault of the cycle on time, through its effects', () => {
    tracker.start();
    expect(tracker.nextFaultInMs()).toBe(2_000);
    vi.advanceTimersByTime(1_999);
    expect(started).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(started.map((f) => [f.kind, f.workerId, f.injectedAt])).toEqual([
      ['blackhole', 'worker-2', 2_000],
    ]);
    expect(tracker.activeKind('worker-2')).toBe('blackhole');
    vi.advanceTimersByTime(1_000);
    expect(tracker.activeKind('worker-3')).toBe('hang');
    vi.advanceTimersByTime(6_000); // the hang lasts 3 handler deadlines
    expect(stopped.map((f) => [f.kind, f.clearedAt])).toEqual([['hang', 9_000]]);
    vi.advanceTimersByTime(2_000); // the black hole lasts 3 heartbeat deadlines
    expect(stopped.map((f) => [f.kind, f.clearedAt])).toEqual([
      ['hang', 9_000],
      ['blackhole', 11_000],
    ]);
    expect(tracker.activeKind('worker-2')).toBeUndefined();
    expect(phases()).toEqual(['injected blackhole', 'injected hang', 'cleared hang', 'cleared blackhole']);
  });

  it('repeats the cycle until stopped, and always knows when the next fault is due', () => {
    tracker.start();
    vi.advanceTimersByTime(2_500);
    expect(tracker.nextFaultInMs()).toBe(500); // the hang, though the black hole already started
    vi.advanceTimersByTime(1_000);
    expect(tracker.nextFaultInMs()).toBeUndefined(); // the next cycle is scheduled when it starts
    vi.advanceTimersByTime(28_500);
    expect(started.map((f) => f.injectedAt)).toEqual([2_000, 3_000, 32_000]);
    expect(tracker.nextFaultInMs()).toBe(1_000);
  });

  it('counts a fitting firing alert of an uncleared fault as its detection, once', () => {
    tracker.start();
    vi.advanceTimersByTime(3_500);
    tracker.alert(alert('LinkwatchHandlerHung', 'worker-2')); // not a sign of a black hole
    tracker.alert(alert('LinkwatchHeartbeatMissed', 'worker-2', 'resolved'));
    tracker.alert(alert('LinkwatchEventLoopBlocked', undefined));
    expect(tracker.faults().every((f) => f.detectedAt === undefined)).toBe(true);
    tracker.alert(alert('LinkwatchHeartbeatMissed', 'worker-2'));
    vi.advanceTimersByTime(500);
    tracker.alert(alert('LinkwatchLinkDown', 'worker-2'));
    tracker.alert(alert('LinkwatchHandlerHung', 'worker-3'));
    const [blackhole, hang] = tracker.faults();
    expect([blackhole?.detectedBy, blackhole?.detectedAt]).toEqual(['LinkwatchHeartbeatMissed', 3_500]);
    expect([hang?.detectedBy, hang?.detectedAt]).toEqual(['LinkwatchHandlerHung', 4_000]);
    expect(phases().filter((p) => p === 'detected')).toHaveLength(2);
  });

  it('counts a heartbeat teardown as detecting a black hole, not a hang', () => {
    tracker.start();
    vi.advanceTimersByTime(4_000);
    tracker.linkDown('worker-3', 'hub', 'LW_ERR_HEARTBEAT_TIMEOUT');
    tracker.linkDown('worker-2', 'worker', 'LW_ERR_CONNECTION_LOST');
    expect(tracker.faults().every((f) => f.detectedAt === undefined)).toBe(true);
    tracker.linkDown('worker-2', 'hub', 'LW_ERR_HEARTBEAT_TIMEOUT');
    expect(tracker.faults()[0]?.detectedBy).toBe('LW_ERR_HEARTBEAT_TIMEOUT (hub)');
  });

  it('records recovery only after the fault cleared and the link is back', () => {
    tracker.start();
    recovered.add('worker-3');
    vi.advanceTimersByTime(8_999); // the hang is still on: its link looking fine is not recovery
    expect(tracker.faults()[1]?.recoveredAt).toBeUndefined();
    vi.advanceTimersByTime(1); // cleared at 9 s
    vi.advanceTimersByTime(250); // by the next recovery check
    const at = tracker.faults()[1]?.recoveredAt;
    expect(at).toBeGreaterThanOrEqual(9_000);
    expect(at).toBeLessThanOrEqual(9_250);
    vi.advanceTimersByTime(5_000); // to 14.25 s: worker-2's black hole cleared at 11 s, its link still down
    expect(tracker.faults()[0]?.recoveredAt).toBeUndefined();
    recovered.add('worker-2');
    vi.advanceTimersByTime(250);
    expect(tracker.faults()[0]?.recoveredAt).toBeGreaterThan(14_250); // not at the clearing (11 s)
    expect(phases().filter((p) => p === 'recovered')).toHaveLength(2);
  });

  it('stop() clears faults still on as interrupted, releases every timer, and injects nothing more', () => {
    tracker.start();
    vi.advanceTimersByTime(2_500);
    tracker.stop();
    expect(vi.getTimerCount()).toBe(0);
    expect(stopped.map((f) => [f.kind, f.interrupted])).toEqual([['blackhole', true]]);
    expect(tracker.nextFaultInMs()).toBeUndefined();
    vi.advanceTimersByTime(60_000);
    expect(started).toHaveLength(1);
  });

  it('does nothing for a fleet with no workers', () => {
    tracker = make({ workerIds: [] });
    tracker.start();
    vi.advanceTimersByTime(60_000);
    expect(started).toEqual([]);
  });
});
