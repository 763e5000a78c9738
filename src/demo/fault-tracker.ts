import type { Alert } from '../watchdog/alerts.js';
import { type FaultKind, type FaultStep, faultCycle, type ScheduleOptions } from './schedule.js';
import type { DemoEvent, FaultRecord } from './types.js';

/** Alerts that count as detecting each kind of fault. */
const SIGNS: Record<FaultKind, ReadonlySet<string>> = {
  blackhole: new Set([
    'LinkwatchHeartbeatMissed',
    'LinkwatchLinkDown',
    'LinkwatchProgressStalled',
    'LinkwatchTransportStalled',
  ]),
  hang: new Set(['LinkwatchHandlerHung', 'LinkwatchProgressStalled']),
};

/** How often a cleared fault is checked for recovery, ms. */
const RECOVERY_CHECK_MS = 250;

export interface FaultTrackerOptions extends ScheduleOptions {
  /** Ms since the demo started; every FaultRecord time is on this clock. */
  now: () => number;
  /** Turns a fault on and off for real (a proxy's black hole, a hung handler). */
  effects: { start(fault: FaultRecord): void; stop(fault: FaultRecord): void };
  /** Whether a worker's link is back: up on both sides, nothing hung, no alert firing for it. */
  isRecovered: (workerId: string) => boolean;
  emit: (e: DemoEvent) => void;
}

/**
 * The demo's fault timeline and its bookkeeping, without sockets: it runs
 * the schedule cycle after cycle, starts and stops each fault through
 * `effects`, and records when the watchdog detected it and when the link
 * recovered. It owns every timer it starts; stop() releases them all.
 */
export class FaultTracker {
  readonly #o: FaultTrackerOptions;
  readonly #faults: FaultRecord[] = [];
  // The fault currently on, per worker.
  readonly #active = new Map<string, FaultRecord>();
  // Every pending schedule timer; stop() clears them.
  readonly #timers = new Set<ReturnType<typeof setTimeout>>();
  #tick: ReturnType<typeof setInterval> | undefined;
  // When each scheduled, not yet injected fault is due, on the demo clock.
  readonly #due = new Set<number>();
  #stopped = false;

  constructor(options: FaultTrackerOptions) {
    this.#o = options;
  }

  /** Runs the schedule, one cycle after another from `fromMs` on the demo clock, until stop(). */
  start(fromMs = this.#o.now()): this {
    this.#scheduleCycle(fromMs);
    this.#tick = setInterval(() => this.#checkRecovery(), RECOVERY_CHECK_MS);
    return this;
  }

  /** Clears every timer, and every fault still on (marked interrupted). */
  stop(): void {
    this.#stopped = true;
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    if (this.#tick) clearInterval(this.#tick);
    this.#tick = undefined;
    this.#due.clear();
    for (const f of this.#faults) {
      if (f.clearedAt === undefined) f.interrupted = true;
      this.#clear(f);
    }
  }

  faults(): readonly FaultRecord[] {
    return this.#faults;
  }

  activeKind(workerId: string): FaultKind | undefined {
    return this.#active.get(workerId)?.kind;
  }

  nextFaultInMs(): number | undefined {
    return this.#due.size === 0 ? undefined : Math.max(0, Math.min(...this.#due) - this.#o.now());
  }

  /** A watchdog alert: a firing one that fits an uncleared fault of its worker detects it. */
  alert(alert: Alert): void {
    const workerId = alert.labels.linkwatch_worker_id;
    if (alert.status !== 'firing' || !workerId) return;
    this.#detected(workerId, alert.name, (kind) => SIGNS[kind].has(alert.name));
  }

  /** A link went down: a heartbeat timeout detects a black hole by itself, before any alert. */
  linkDown(workerId: string, side: 'hub' | 'worker', errorType: string | undefined): void {
    if (errorType !== 'LW_ERR_HEARTBEAT_TIMEOUT') return;
    this.#detected(workerId, `${errorType} (${side})`, (kind) => kind === 'blackhole');
  }

  #scheduleCycle(startMs: number): void {
    if (this.#stopped) return;
    const steps = faultCycle(this.#o);
    if (steps.length === 0) return;
    for (const step of steps) {
      const at = startMs + step.atMs;
      this.#due.add(at);
      this.#at(at, () => {
        this.#due.delete(at);
        this.#inject(step);
      });
    }
    this.#at(startMs + this.#o.cycleMs, () => this.#scheduleCycle(startMs + this.#o.cycleMs));
  }

  /** Runs `fn` at `atMs` on the demo clock (at once if that has passed). */
  #at(atMs: number, fn: () => void): void {
    const timer = setTimeout(
      () => {
        this.#timers.delete(timer);
        fn();
      },
      Math.max(0, atMs - this.#o.now()),
    );
    this.#timers.add(timer);
  }

  #inject(step: FaultStep): void {
    const record: FaultRecord = {
      kind: step.kind,
      workerId: step.workerId,
      injectedAt: this.#o.now(),
      clearedAt: undefined,
      detectedAt: undefined,
      detectedBy: undefined,
      recoveredAt: undefined,
      interrupted: false,
    };
    this.#faults.push(record);
    this.#active.set(step.workerId, record);
    this.#o.effects.start(record);
    this.#o.emit({ type: 'fault', phase: 'injected', fault: record });
    this.#at(record.injectedAt + step.forMs, () => this.#clear(record));
  }

  #clear(record: FaultRecord): void {
    if (record.clearedAt !== undefined) return;
    record.clearedAt = this.#o.now();
    this.#o.effects.stop(record);
    if (this.#active.get(record.workerId) === record) this.#active.delete(record.workerId);
    this.#o.emit({ type: 'fault', phase: 'cleared', fault: record });
  }

  #detected(workerId: string, by: string, fits: (kind: FaultKind) => boolean): void {
    for (const f of this.#faults) {
      if (f.workerId !== workerId || f.detectedAt !== undefined || f.clearedAt !== undefined) continue;
      if (!fits(f.kind)) continue;
      f.detectedAt = this.#o.now();
      f.detectedBy = by;
      this.#o.emit({ type: 'detected', fault: f });
    }
  }

  /** A cleared fault has recovered once its worker's link is back and nothing fires for it. */
  #checkRecovery(): void {
    for (const f of this.#faults) {
      if (f.clearedAt === undefined || f.recoveredAt !== undefined || this.#active.has(f.workerId)) continue;
      if (!this.#o.isRecovered(f.workerId)) continue;
      f.recoveredAt = this.#o.now();
      this.#o.emit({ type: 'recovered', fault: f });
    }
  }
}
