import type { LinkState } from '../link/events.js';
import type { HealthReason } from './alerts.js';

/** Thresholds of the health rules. Defaults come from the heartbeat settings (see `deriveThresholds`). */
export interface HealthThresholds {
  /** Pending work with no ack or completion for this long is `progress-stalled`, ms. @default max(3 × interval × misses, 5 s) */
  progressStallMs: number;
  /** Socket buffer above the watermark this long is `transport-stalled`, ms. @default max(interval × misses, 1 s) */
  transportStallMs: number;
  /** Consecutive heartbeat misses that raise the alert (one miss already degrades). @default max(1, misses − 1) */
  heartbeatMissAlert: number;
  /** A link down this long raises `link-down`, ms. @default interval × misses */
  linkDownMs: number;
  /** Event-loop delay p99 above this is `event-loop-blocked`, ms. @default 1000 */
  eventLoopDelayMs: number;
  /** Consecutive failed telemetry exports that raise `telemetry-export-failing`. @default 3 */
  exportFailures: number;
}

export function deriveThresholds(
  heartbeat: { intervalMs: number; misses: number },
  overrides: Partial<HealthThresholds> = {},
): HealthThresholds {
  const deadAfter = heartbeat.intervalMs * heartbeat.misses;
  return {
    progressStallMs: Math.max(3 * deadAfter, 5_000),
    transportStallMs: Math.max(deadAfter, 1_000),
    heartbeatMissAlert: Math.max(1, heartbeat.misses - 1),
    linkDownMs: deadAfter,
    eventLoopDelayMs: 1_000,
    exportFailures: 3,
    ...overrides,
  };
}

/** Everything the rules look at for one link, sampled at one instant. Pure data. */
export interface HealthInput {
  connected: boolean;
  everConnected: boolean;
  /** How long the link has been down (0 while connected), ms. */
  downForMs: number;
  consecutiveMisses: number;
  /** Outbox unacked or queue items waiting: work that should move. */
  pending: boolean;
  /** Since the later of "work became pending" and "last ack or completion", ms. */
  noProgressForMs: number;
  /** How long the socket has buffered above its watermark, ms (0 if below). */
  bufferedAboveForMs: number;
  hungHandlers: number;
  eventLoopBlocked: boolean;
  eventLoopDelayMs: number;
  exportConsecutiveFailures: number;
}

/** A connected link with nothing wrong; the process-level check starts from it too. */
export const HEALTHY_INPUT: Readonly<HealthInput> = {
  connected: true,
  everConnected: true,
  downForMs: 0,
  consecutiveMisses: 0,
  pending: false,
  noProgressForMs: 0,
  bufferedAboveForMs: 0,
  hungHandlers: 0,
  eventLoopBlocked: false,
  eventLoopDelayMs: 0,
  exportConsecutiveFailures: 0,
};

export interface HealthVerdict {
  state: LinkState;
  /** Reasons whose alert should be firing now. */
  alerts: Set<HealthReason>;
  /** Reasons that merely degrade (not yet alerting). */
  degraded: Set<HealthReason>;
}

/**
 * The health rules. `stalled` means the link is up but nothing moves: the
 * failure linkwatch exists for. Pure: same input, same verdict.
 */
export function evaluateHealth(input: HealthInput, t: HealthThresholds): HealthVerdict {
  return evaluateHealthInto(input, t, { state: 'healthy', alerts: new Set(), degraded: new Set() });
}

/**
 * The same rules written into a verdict the caller owns (cleared first), so
 * the watchdog's sweep over thousands of links allocates nothing per link.
 */
export function evaluateHealthInto(
  input: HealthInput,
  t: HealthThresholds,
  out: HealthVerdict,
): HealthVerdict {
  const { alerts, degraded } = out;
  // Only when not empty: clearing a Set that lives in the old generation allocates its new
  // table there, and a sweep over 10,000 healthy links made that most of the hub's old-space garbage.
  if (alerts.size > 0) alerts.clear();
  if (degraded.size > 0) degraded.clear();
  if (input.eventLoopBlocked || input.eventLoopDelayMs >= t.eventLoopDelayMs)
    alerts.add('event-loop-blocked');
  if (input.exportConsecutiveFailures >= t.exportFailures) alerts.add('telemetry-export-failing');
  if (!input.connected) {
    if (input.everConnected && input.downForMs >= t.linkDownMs) alerts.add('link-down');
    out.state = input.everConnected ? 'down' : 'connecting';
    return out;
  }
  let stalled = false;
  if (input.consecutiveMisses > 0) degraded.add('heartbeat-missed');
  if (input.consecutiveMisses >= t.heartbeatMissAlert) alerts.add('heartbeat-missed');
  if (input.pending && input.noProgressForMs >= t.progressStallMs) {
    alerts.add('progress-stalled');
    stalled = true;
  } else if (input.pending && input.noProgressForMs >= t.progressStallMs / 2) {
    degraded.add('progress-stalled');
  }
  if (input.bufferedAboveForMs >= t.transportStallMs) {
    alerts.add('transport-stalled');
    stalled = true;
  } else if (input.bufferedAboveForMs > 0) {
    degraded.add('transport-stalled');
  }
  if (input.hungHandlers > 0) alerts.add('handler-hung');
  out.state = stalled ? 'stalled' : alerts.size > 0 || degraded.size > 0 ? 'degraded' : 'healthy';
  return out;
}

/** The alert description for a reason: what the rules saw, in numbers. */
export function describeReason(reason: HealthReason, input: HealthInput, t: HealthThresholds): string {
  switch (reason) {
    case 'heartbeat-missed':
      return `${input.consecutiveMisses} consecutive heartbeats unanswered.`;
    case 'progress-stalled':
      return `Work pending with no ack or completion for ${Math.round(input.noProgressForMs / 1000)} s (threshold ${Math.round(t.progressStallMs / 1000)} s).`;
    case 'transport-stalled':
      return `Socket buffer above the high watermark for ${Math.round(input.bufferedAboveForMs)} ms.`;
    case 'handler-hung':
      return `${input.hungHandlers} handler call(s) past their deadline still running.`;
    case 'event-loop-blocked':
      return input.eventLoopBlocked
        ? 'The sentinel thread saw the main event loop blocked.'
        : `Event-loop delay p99 ${Math.round(input.eventLoopDelayMs)} ms (threshold ${t.eventLoopDelayMs} ms).`;
    case 'telemetry-export-failing':
      return `${input.exportConsecutiveFailures} telemetry exports failed in a row.`;
    case 'link-down':
      return `Link down for ${Math.round(input.downForMs / 1000)} s.`;
  }
}
