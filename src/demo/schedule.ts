/**
 * The demo's fault timeline, as pure data. Each cycle black-holes one
 * worker's link (TCP stays up, bytes vanish: the half-open failure) and makes
 * another worker's handler hang past its deadline. Every fault is cleared
 * well before the cycle ends, so the watchdog is seen to fire and to resolve.
 */
export type FaultKind = 'blackhole' | 'hang';

export interface FaultStep {
  kind: FaultKind;
  workerId: string;
  /** Offset from the start of the cycle, ms. */
  atMs: number;
  /** How long the fault lasts, ms. */
  forMs: number;
}

export interface ScheduleOptions {
  workerIds: readonly string[];
  /** One cycle; repeats while the demo runs. */
  cycleMs: number;
  /** The link's heartbeat deadline (interval × misses); faults outlast it so they are detected. */
  deadAfterMs: number;
  /** The hub's handler deadline; a hang outlasts it so the handler is seen hung. */
  handlerTimeoutMs: number;
}

/**
 * One cycle's steps. The black hole lasts three heartbeat deadlines: one to
 * detect it, one for the watchdog's link-down alert, one for retries that
 * fall into the hole. The hang lasts three handler deadlines.
 */
export function faultCycle(o: ScheduleOptions): FaultStep[] {
  const ids = o.workerIds;
  if (ids.length === 0) return [];
  const blackholed = ids[ids.length > 1 ? 1 : 0]!;
  const hung = ids[ids.length > 2 ? 2 : ids.length - 1]!;
  return [
    { kind: 'blackhole', workerId: blackholed, atMs: 2_000, forMs: 3 * o.deadAfterMs },
    { kind: 'hang', workerId: hung, atMs: 3_000, forMs: 3 * o.handlerTimeoutMs },
  ];
}
