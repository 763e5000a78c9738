import { ConnectionError } from '../errors.js';
import type { LinkEvent, LinkState } from '../link/events.js';
import type { LinkSource } from '../link/view.js';
import { intOption, oneOf } from '../validate.js';
import { AlertBook, PROCESS_KEY } from './alert-book.js';
import { AlertmanagerSink, type AlertmanagerSinkOptions } from './alertmanager-sink.js';
import type { Alert, AlertSink, HealthReason } from './alerts.js';
import {
  deriveThresholds,
  describeReason,
  evaluateHealth,
  HEALTHY_INPUT,
  type HealthInput,
  type HealthThresholds,
} from './health.js';
import { LinkTracker, type Track, type WatchedLink, type WatchedSession } from './link-tracker.js';
import { EventLoopSentinel, type SentinelOptions } from './sentinel.js';

/** What the watchdog needs from a Hub or a Worker: the read-only LinkSource's events, sessions and links. */
export interface WatchdogTarget extends Pick<LinkSource, 'on'> {
  /** Kept by the target; the watchdog iterates it on its timer and looks links up per event. */
  sessions(): ReadonlyMap<string, WatchedSession>;
  linkOf(workerId: string): WatchedLink | undefined;
}

/** Links checked per macrotask during a sweep; between slices the event loop runs. */
export const SWEEP_SLICE = 1000;

export type WatchdogAction = 'reconnect' | 'evict' | 'none';

export interface WatchdogOptions {
  side: 'hub' | 'worker';
  /** Used for labels and the process-level alerts. */
  hubId?: string | undefined;
  /** Heartbeat settings the default thresholds derive from. @default 5000 ms × 3 */
  heartbeat?: { intervalMs: number; misses: number };
  thresholds?: Partial<HealthThresholds>;
  /** How often the rules run, ms. @default 500 */
  checkIntervalMs?: number;
  /** Self-heal on `stalled`: the worker reconnects, the hub evicts. @default 'reconnect' for workers, 'evict' for hubs */
  action?: WatchdogAction;
  /** Post alerts straight to Alertmanager's v2 API. */
  alertmanager?: AlertmanagerSinkOptions;
  sinks?: AlertSink[];
  /** Called for every alert that fires or resolves. */
  onAlert?: (alert: Alert) => void;
  /** The event-loop sentinel thread; false turns it off. @default on */
  sentinel?: boolean | Omit<SentinelOptions, 'onBlocked' | 'onUnblocked' | 'labels' | 'alertmanagerUrl'>;
  /** Where telemetry export outcomes are counted (the CLI passes its SDK's). */
  exportHealth?: { consecutiveFailures: number };
  /** Worker-side self-heal entry point. */
  reconnect?: (error: ConnectionError) => void;
  /** Hub-side self-heal entry point. */
  evict?: (workerId: string, reason: string) => void;
}

export type WatchdogEvent =
  | { type: 'transition'; workerId: string; from: LinkState; to: LinkState; reasons: HealthReason[] }
  | { type: 'alert'; alert: Alert }
  | { type: 'action'; workerId: string; action: WatchdogAction; reason: HealthReason };

/**
 * Watches every link of a Hub or Worker: moves each link through
 * `connecting → healthy ⇄ degraded → stalled → down`, fires and resolves
 * alerts through its sinks, and self-heals a stalled link. It only observes
 * events and state; the link never waits on it.
 *
 * Cost stays flat with the fleet: an event touches only its own link (a
 * `connected` link is checked alone, at once, so /links never shows it as
 * connecting), and the sweep over all links runs on a timer in slices of
 * SWEEP_SLICE links per macrotask, allocating nothing for a healthy link.
 */
export class Watchdog {
  readonly #target: WatchdogTarget;
  readonly #o: WatchdogOptions;
  readonly #tracker: LinkTracker;
  readonly #book: AlertBook;
  readonly #listeners = new Set<(e: WatchdogEvent) => void>();
  readonly #checkMs: number;
  readonly #action: WatchdogAction;
  readonly #processThresholds: HealthThresholds;
  readonly alertmanager: AlertmanagerSink | undefined;
  readonly sentinel: EventLoopSentinel | undefined;
  #unsubscribe: (() => void) | undefined;
  #timer: ReturnType<typeof setInterval> | undefined;
  #loopDelayMs = 0;
  // The sweep in progress: where it is in the target's session map, and its round number. Holding
  // a Map iterator across slices is safe: entries deleted meanwhile are skipped, added ones visited.
  #cursor: Iterator<[string, WatchedSession]> | undefined;
  #sliceTimer: ReturnType<typeof setImmediate> | undefined;
  #round = 0;
  // Alert text for the link just evaluated; bound once so a check allocates no closure.
  readonly #describe = (reason: HealthReason) =>
    describeReason(reason, this.#tracker.lastInput, this.#tracker.lastThresholds);

  constructor(target: WatchdogTarget, options: WatchdogOptions) {
    this.#target = target;
    this.#o = options;
    this.#checkMs = intOption('checkIntervalMs', options.checkIntervalMs, 500, { min: 10 });
    this.#action = oneOf<WatchdogAction>(
      'action',
      options.action,
      ['reconnect', 'evict', 'none'],
      options.side === 'worker' ? 'reconnect' : 'evict',
    );
    validateThresholds(options.thresholds);
    const heartbeat = options.heartbeat ?? { intervalMs: 5000, misses: 3 };
    this.#tracker = new LinkTracker({ heartbeat, overrides: options.thresholds });
    this.#processThresholds = deriveThresholds(heartbeat, options.thresholds);
    // A worker has one session; its id labels the process-level alerts too.
    const ownId = () => (options.side === 'worker' ? (target.sessions().keys().next().value ?? '') : '');
    this.#book = new AlertBook({
      side: options.side,
      hubId: options.hubId,
      processWorkerId: ownId,
      onPublish: (alert) => {
        try {
          this.#o.onAlert?.(alert);
        } catch {}
        this.#emit({ type: 'alert', alert });
      },
    });
    if (options.alertmanager) {
      this.alertmanager = new AlertmanagerSink(options.alertmanager);
      this.#book.addSink(this.alertmanager);
    }
    for (const sink of options.sinks ?? []) this.#book.addSink(sink);
    if (options.sentinel !== false) {
      const workerId = ownId();
      this.sentinel = new EventLoopSentinel({
        ...(typeof options.sentinel === 'object' ? options.sentinel : {}),
        alertmanagerUrl: options.alertmanager?.url,
        labels: {
          linkwatch_link_side: options.side,
          ...(workerId ? { linkwatch_worker_id: workerId } : {}),
          ...(options.hubId ? { linkwatch_hub_id: options.hubId } : {}),
        },
        // The event loop is a process-level input: only the process pseudo-link changes.
        onBlocked: () => this.#checkProcess(),
        onUnblocked: () => this.#checkProcess(),
      });
    }
  }

  /** Subscribes to transitions, alerts and actions. */
  on(listener: (e: WatchdogEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  // Released by stop(), once each.
  readonly #releases: (() => void)[] = [];

  start(): this {
    this.stopTimers();
    // Lifecycle events only: progress is read from the session counters, so no per-message work.
    this.#unsubscribe = this.#target.on((e) => this.#onEvent(e), 'lifecycle');
    this.#timer = setInterval(() => this.#tick(), this.#checkMs);
    this.sentinel?.start();
    return this;
  }

  /** Event-loop delay p99 seen at the last check, ms. */
  get loopDelayMs(): number {
    return this.#loopDelayMs;
  }

  /** Adds a sink after construction (the OTel sink needs the watchdog first). */
  addSink(sink: AlertSink): void {
    this.#book.addSink(sink);
  }

  /** The watchdog's state of a link, for /links and the link-state metric. */
  stateOf(workerId: string): LinkState | undefined {
    return this.#tracker.get(workerId)?.state;
  }

  /** Every alert firing now (built on request). */
  activeAlerts(): Alert[] {
    return this.#book.active();
  }

  /** Names of the alerts firing for one link (process-level ones included). */
  alertsOf(workerId: string): string[] {
    return [...this.#book.namesOf(workerId), ...this.#book.namesOf(PROCESS_KEY)];
  }

  /** Runs the rules over every link at once, synchronously (tests; the timer sweeps in slices). */
  check(): void {
    this.#cancelSweep();
    this.#sampleLoopDelay();
    this.#checkProcess();
    this.#startSweep();
    this.#sweepSlice(Number.POSITIVE_INFINITY);
  }

  #tick(): void {
    this.#sampleLoopDelay();
    this.#checkProcess();
    // A sweep still running (a huge fleet or a busy loop) finishes first; sweeps never overlap.
    if (this.#cursor) return;
    this.#startSweep();
    this.#sweepSlice(SWEEP_SLICE);
  }

  #sampleLoopDelay(): void {
    if (this.sentinel) this.#loopDelayMs = this.sentinel.takeDelayP99Ms();
  }

  #startSweep(): void {
    this.#round++;
    this.#cursor = this.#target.sessions().entries();
  }

  #sweepSlice(budget: number): void {
    const cursor = this.#cursor;
    if (!cursor) return;
    const now = performance.now();
    let n = 0;
    for (let next = cursor.next(); !next.done; next = cursor.next()) {
      this.#checkLink(next.value[0], next.value[1], now);
      if (++n >= budget) {
        this.#sliceTimer = setImmediate(this.#nextSlice);
        return;
      }
    }
    this.#cursor = undefined;
    // Sessions the target forgot are resolved and dropped.
    this.#tracker.forgetUnseen(this.#round, (workerId) => this.#book.resolveAll(workerId));
  }

  readonly #nextSlice = (): void => {
    this.#sliceTimer = undefined;
    this.#sweepSlice(SWEEP_SLICE);
  };

  #cancelSweep(): void {
    if (this.#sliceTimer) clearImmediate(this.#sliceTimer);
    this.#sliceTimer = undefined;
    this.#cursor = undefined;
  }

  #onEvent(e: LinkEvent): void {
    this.#tracker.observe(e, this.#round);
    // Check a new link at once so /links and the state metric never show a live link as connecting.
    if (e.type === 'connected') queueMicrotask(() => this.#unsubscribe && this.#checkOne(e.workerId));
  }

  #checkOne(workerId: string): void {
    const session = this.#target.sessions().get(workerId);
    if (session) this.#checkLink(workerId, session, performance.now());
  }

  #checkLink(workerId: string, session: WatchedSession, now: number): void {
    const t = this.#tracker.track(workerId, session.hubId, this.#round);
    t.round = this.#round;
    const verdict = this.#tracker.evaluate(t, session, this.#target.linkOf(workerId), now);
    this.#book.sync(workerId, t.hubId, verdict.alerts, this.#describe);
    if (verdict.state === t.state) return;
    const from = t.state;
    t.state = verdict.state;
    const reasons = [...verdict.alerts];
    this.#emit({ type: 'transition', workerId, from, to: t.state, reasons });
    if (t.state === 'stalled') this.#selfHeal(workerId, t, reasons[0] ?? 'progress-stalled');
  }

  #checkProcess(): void {
    // The process pseudo-link is always up; only the process-level inputs vary.
    const input: HealthInput = {
      ...HEALTHY_INPUT,
      eventLoopBlocked: this.sentinel?.blocked ?? false,
      eventLoopDelayMs: this.#loopDelayMs,
      exportConsecutiveFailures: this.#o.exportHealth?.consecutiveFailures ?? 0,
    };
    const thresholds = this.#processThresholds;
    const verdict = evaluateHealth(input, thresholds);
    this.#book.sync(PROCESS_KEY, this.#o.hubId, verdict.alerts, (reason) =>
      describeReason(reason, input, thresholds),
    );
  }

  #selfHeal(workerId: string, t: Track, reason: HealthReason): void {
    if (this.#action === 'none') return;
    const now = performance.now();
    // One action per stall; a link that stalls again after recovering gets another.
    if (now - t.lastActionAt < this.#checkMs * 4) return;
    t.lastActionAt = now;
    this.#emit({ type: 'action', workerId, action: this.#action, reason });
    if (this.#action === 'reconnect') {
      this.#o.reconnect?.(new ConnectionError('LW_ERR_STALLED', `watchdog: link stalled (${reason})`));
    } else {
      this.#o.evict?.(workerId, reason);
    }
  }

  #emit(e: WatchdogEvent): void {
    for (const l of this.#listeners) {
      try {
        l(e);
      } catch {}
    }
  }

  stopTimers(): void {
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    this.#cancelSweep();
  }

  /** Stops timers and the sentinel, and flushes sinks. Firing alerts stay firing in Alertmanager until they time out. */
  /** Runs `release` at stop(): what attachWatchdog added to its target (its hooks) goes with it. */
  onStop(release: () => void): void {
    this.#releases.push(release);
  }

  async stop(): Promise<void> {
    this.stopTimers();
    for (const release of this.#releases.splice(0)) release();
    await this.sentinel?.stop();
    await this.#book.close();
  }
}

function validateThresholds(t: Partial<HealthThresholds> | undefined): void {
  if (t === undefined) return;
  if (typeof t !== 'object' || t === null) throw new TypeError('Expected `thresholds` to be an object');
  for (const [k, v] of Object.entries(t)) {
    intOption(`thresholds.${k}`, v, 0, { min: k === 'heartbeatMissAlert' || k === 'exportFailures' ? 1 : 0 });
  }
}
