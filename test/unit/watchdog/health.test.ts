import { describe, expect, it } from 'vitest';
import type { HealthReason } from '../../../src/watchdog/alerts.js';
import {
  deriveThresholds,
  evaluateHealth,
  HEALTHY_INPUT,
  type HealthInput,
  type HealthThresholds,
} from '../../../src/watchdog/health.js';

/** Small, distinct numbers so a rule reading the wrong threshold shows. */
const T: HealthThresholds = {
  progressStallMs: 1000,
  transportStallMs: 700,
  heartbeatMissAlert: 2,
  linkDownMs: 600,
  eventLoopDelayMs: 300,
  exportFailures: 3,
};

/** A connected link with nothing wrong. */
function input(over: Partial<HealthInput> = {}): HealthInput {
  return { ...HEALTHY_INPUT, ...over };
}

function verdict(over: Partial<HealthInput>, t = T) {
  const v = evaluateHealth(input(over), t);
  return { state: v.state, alerts: [...v.alerts].sort(), degraded: [...v.degraded].sort() };
}

const none: HealthReason[] = [];

describe('deriveThresholds', () => {
  it('derives every threshold from the heartbeat deadline (interval × misses)', () => {
    // Defaults of the hub and worker: 5 s × 3 = 15 s dead-after.
    expect(deriveThresholds({ intervalMs: 5000, misses: 3 })).toEqual({
      progressStallMs: 45_000,
      transportStallMs: 15_000,
      heartbeatMissAlert: 2,
      linkDownMs: 15_000,
      eventLoopDelayMs: 1_000,
      exportFailures: 3,
    });
    expect(deriveThresholds({ intervalMs: 1000, misses: 5 })).toMatchObject({
      progressStallMs: 15_000,
      transportStallMs: 5_000,
      heartbeatMissAlert: 4,
      linkDownMs: 5_000,
    });
  });

  it('keeps floors for fast heartbeats: progress ≥ 5 s, transport ≥ 1 s, miss alert ≥ 1', () => {
    expect(deriveThresholds({ intervalMs: 100, misses: 1 })).toEqual({
      progressStallMs: 5_000,
      transportStallMs: 1_000,
      heartbeatMissAlert: 1,
      linkDownMs: 100,
      eventLoopDelayMs: 1_000,
      exportFailures: 3,
    });
  });

  it('lets overrides win over derived values and leaves the others derived', () => {
    const t = deriveThresholds({ intervalMs: 5000, misses: 3 }, { progressStallMs: 600, exportFailures: 1 });
    expect(t).toEqual({
      progressStallMs: 600,
      transportStallMs: 15_000,
      heartbeatMissAlert: 2,
      linkDownMs: 15_000,
      eventLoopDelayMs: 1_000,
      exportFailures: 1,
    });
  });
});

describe('evaluateHealth', () => {
  it('is healthy when connected with nothing wrong', () => {
    expect(verdict({})).toEqual({ state: 'healthy', alerts: none, degraded: none });
  });

  it('is connecting, with no alert, before the first connection however long it takes', () => {
    const v = verdict({ connected: false, everConnected: false, downForMs: 10 * T.linkDownMs });
    expect(v).toEqual({ state: 'connecting', alerts: none, degraded: none });
  });

  it('is down once a connected link is lost, and alerts link-down only after linkDownMs', () => {
    const lost = { connected: false, everConnected: true };
    expect(verdict({ ...lost, downForMs: 0 })).toEqual({ state: 'down', alerts: none, degraded: none });
    expect(verdict({ ...lost, downForMs: T.linkDownMs - 1 }).alerts).toEqual(none);
    expect(verdict({ ...lost, downForMs: T.linkDownMs })).toEqual({
      state: 'down',
      alerts: ['link-down'],
      degraded: none,
    });
  });

  it('ignores link rules (misses, stalls, hung handlers) while the link is down', () => {
    const v = verdict({
      connected: false,
      everConnected: true,
      downForMs: 1,
      consecutiveMisses: 5,
      pending: true,
      noProgressForMs: 10 * T.progressStallMs,
      bufferedAboveForMs: 10 * T.transportStallMs,
      hungHandlers: 2,
    });
    expect(v).toEqual({ state: 'down', alerts: none, degraded: none });
  });

  it('degrades on one missed heartbeat and alerts at heartbeatMissAlert, without calling it stalled', () => {
    expect(verdict({ consecutiveMisses: 1 })).toEqual({
      state: 'degraded',
      alerts: none,
      degraded: ['heartbeat-missed'],
    });
    expect(verdict({ consecutiveMisses: 2 })).toEqual({
      state: 'degraded',
      alerts: ['heartbeat-missed'],
      degraded: ['heartbeat-missed'],
    });
    // With a threshold of 1, the first miss already alerts.
    expect(verdict({ consecutiveMisses: 1 }, { ...T, heartbeatMissAlert: 1 }).alerts).toEqual([
      'heartbeat-missed',
    ]);
  });

  it('degrades pending work at half the progress-stall threshold and stalls at the full one', () => {
    const pending = { pending: true };
    expect(verdict({ ...pending, noProgressForMs: T.progressStallMs / 2 - 1 })).toEqual({
      state: 'healthy',
      alerts: none,
      degraded: none,
    });
    expect(verdict({ ...pending, noProgressForMs: T.progressStallMs / 2 })).toEqual({
      state: 'degraded',
      alerts: none,
      degraded: ['progress-stalled'],
    });
    expect(verdict({ ...pending, noProgressForMs: T.progressStallMs - 1 }).state).toBe('degraded');
    expect(verdict({ ...pending, noProgressForMs: T.progressStallMs })).toEqual({
      state: 'stalled',
      alerts: ['progress-stalled'],
      degraded: none,
    });
  });

  it('keeps an idle link (nothing pending) healthy however long nothing moves', () => {
    for (const ms of [T.progressStallMs, 3_600_000, Number.MAX_SAFE_INTEGER]) {
      expect(verdict({ pending: false, noProgressForMs: ms })).toEqual({
        state: 'healthy',
        alerts: none,
        degraded: none,
      });
    }
  });

  it('degrades while the socket buffers above its watermark and stalls at transportStallMs', () => {
    expect(verdict({ bufferedAboveForMs: 1 })).toEqual({
      state: 'degraded',
      alerts: none,
      degraded: ['transport-stalled'],
    });
    expect(verdict({ bufferedAboveForMs: T.transportStallMs - 1 }).state).toBe('degraded');
    expect(verdict({ bufferedAboveForMs: T.transportStallMs })).toEqual({
      state: 'stalled',
      alerts: ['transport-stalled'],
      degraded: none,
    });
  });

  it('alerts handler-hung on any hung handler (degraded, not stalled: the slot is freed)', () => {
    expect(verdict({ hungHandlers: 1 })).toEqual({
      state: 'degraded',
      alerts: ['handler-hung'],
      degraded: none,
    });
  });

  it('alerts event-loop-blocked from the sentinel flag or from delay at the threshold, even while down', () => {
    expect(verdict({ eventLoopDelayMs: T.eventLoopDelayMs - 1 }).state).toBe('healthy');
    expect(verdict({ eventLoopDelayMs: T.eventLoopDelayMs })).toEqual({
      state: 'degraded',
      alerts: ['event-loop-blocked'],
      degraded: none,
    });
    expect(verdict({ eventLoopBlocked: true }).alerts).toEqual(['event-loop-blocked']);
    expect(verdict({ connected: false, everConnected: false, eventLoopBlocked: true })).toEqual({
      state: 'connecting',
      alerts: ['event-loop-blocked'],
      degraded: none,
    });
  });

  it('alerts telemetry-export-failing at exportFailures consecutive failures, even while down', () => {
    expect(verdict({ exportConsecutiveFailures: T.exportFailures - 1 }).state).toBe('healthy');
    expect(verdict({ exportConsecutiveFailures: T.exportFailures })).toEqual({
      state: 'degraded',
      alerts: ['telemetry-export-failing'],
      degraded: none,
    });
    expect(
      verdict({ connected: false, everConnected: true, downForMs: 0, exportConsecutiveFailures: 9 }),
    ).toEqual({ state: 'down', alerts: ['telemetry-export-failing'], degraded: none });
  });

  it('reports every reason at once, and stalled wins over degraded', () => {
    const v = verdict({
      consecutiveMisses: 2,
      pending: true,
      noProgressForMs: T.progressStallMs,
      bufferedAboveForMs: T.transportStallMs,
      hungHandlers: 1,
      eventLoopBlocked: true,
      exportConsecutiveFailures: T.exportFailures,
    });
    expect(v.state).toBe('stalled');
    expect(v.alerts).toEqual(
      [
        'event-loop-blocked',
        'handler-hung',
        'heartbeat-missed',
        'progress-stalled',
        'telemetry-export-failing',
        'transport-stalled',
      ].sort(),
    );
    expect(v.degraded).toEqual(['heartbeat-missed']);
  });

  it('is pure: the same input gives the same verdict and the input is not changed', () => {
    const i = input({ pending: true, noProgressForMs: 800, consecutiveMisses: 1 });
    const copy = structuredClone(i);
    const a = evaluateHealth(i, T);
    const b = evaluateHealth(i, T);
    expect(i).toEqual(copy);
    expect(a).toEqual(b);
    expect(a.alerts).not.toBe(b.alerts);
  });
});
