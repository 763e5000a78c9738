import { ConnectionError } from '../errors.js';
import type { EventScope, LinkEvent, LinkEventListener, LinkState } from '../link/events.js';
import type { Session } from '../link/session.js';
import { intOption, oneOf } from '../validate.js';
import { AlertmanagerSink, type AlertmanagerSinkOptions } from './alertmanager-sink.js';
import { type Alert, type AlertSink, type HealthReason, makeAlert } from './alerts.js';
import {
  deriveThresholds,
  evaluateHealth,
  HEALTHY_INPUT,
  type HealthInput,
  type HealthThresholds,
} from './health.js';
import { EventLoopSentinel, type SentinelOptions } from './sentinel.js';

/** What the watchdog needs from a Hub or a Worker. */
export interface WatchdogTarget {
  on(listener: LinkEventListener, scope?: EventScope): () => void;
  sessions(): ReadonlyMap<string, Session>;
  linkOf(workerId: string):
    | {
        readonly bufferedAmount: number;
        readonly settings: {
          heartbeatIntervalMs: number;
          heartbeatMisses: number;
          highWatermarkBytes: number;
          sendStallTimeoutMs: number;
        };
      }
    | undefined;
}

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

interface Track {
  state: LinkState;
  everConnected: boolean;
  downSince: number | undefined;
  consecutiveMisses: number;
  lastProgressAt: number;
  // Acked plus successfully processed messages at the last check; a change is progress.
  progressCount: number;
  pendingSince: number | undefined;
  bufferedAboveSince: number | undefined;
  hubId: string | undefined;
  // Heartbeat settings of the last live link, so thresholds stay right while it is down.
  heartbeat: { intervalMs: number; misses: number } | undefined;
  firing: Map<HealthReason, Alert>;
  lastActionAt: number;
}

/** Key of the process-level pseudo link (event loop, telemetry export). */
const PROCESS = '\u0000process';

/**
 * Watches every link of a Hub or Worker: runs the health rules on a timer,
 * moves each link through `connecting → healthy ⇄ degraded → stalled →
 * down`, fires and resolves alerts through its sinks, and self-heals a
 * stalled link. It only observes events and state; the link never waits on it.
 */
export class Watchdog {
  readonly #target: WatchdogTarget;
  readonly #o: WatchdogOptions;
  readonly #tracks = new Map<string, Track>();
  readonly #sinks: AlertSink[] = [];
  readonly #listeners = new Set<(e: WatchdogEvent) => void>();
  readonly #checkMs: number;
  readonly #action: WatchdogAction;
  readonly alertmanager: AlertmanagerSink | undefined;
  readonly sentinel: EventLoopSentinel | undefined;
  #unsubscribe: (() => void) | undefined;
  #timer: ReturnType<typeof setInterval> | undefined;
  #loopDelayMs = 0;

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
    if (options.alertmanager) {
      this.alertmanager = new AlertmanagerSink(options.alertmanager);
      this.#sinks.push(this.alertmanager);
    }
    this.#sinks.push(...(options.sinks ?? []));
    if (options.sentinel !== false) {
      const workerId = options.side === 'worker' ? [...target.sessions().keys()][0] : undefined;
      this.sentinel = new EventLoopSentinel({
        ...(typeof options.sentinel === 'object' ? options.sentinel : {}),
        alertmanagerUrl: options.alertmanager?.url,
        labels: {
          linkwatch_link_side: options.side,
          ...(workerId ? { linkwatch_worker_id: workerId } : {}),
          ...(options.hubId ? { linkwatch_hub_id: options.hubId } : {}),
        },
        onBlocked: () => this.check(),
        onUnblocked: () => this.check(),
      });
    }
  }

  /** Subscribes to transitions, alerts and actions. */
  on(listener: (e: WatchdogEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  start(): this {
    this.stopTimers();
    // Lifecycle events only: progress is read from the session counters, so no per-message work.
    this.#unsubscribe = this.#target.on((e) => this.#onEvent(e), 'lifecycle');
    this.#timer = setInterval(() => this.check(), this.#checkMs);
    this.sentinel?.start();
    return this;
  }

  /** Event-loop delay p99 seen at the last check, ms. */
  get loopDelayMs(): number {
    return this.#loopDelayMs;
  }

  /** Adds a sink after construction (the OTel sink needs the watchdog first). */
  addSink(sink: AlertSink): void {
    this.#sinks.push(sink);
  }

  /** The watchdog's state of a link, for /links and the link-state metric. */
  stateOf(workerId: string): LinkState | undefined {
    return this.#tracks.get(workerId)?.state;
  }

  activeAlerts(): Alert[] {
    return [...this.#tracks.values()].flatMap((t) => [...t.firing.values()]);
  }

  /** Names of the alerts firing for one link (process-level ones included). */
  alertsOf(workerId: string): string[] {
    const own = [...(this.#tracks.get(workerId)?.firing.values() ?? [])];
    const process = [...(this.#tracks.get(PROCESS)?.firing.values() ?? [])];
    return [...own, ...process].map((a) => a.name);
  }

  /** Runs the rules once now (the timer calls it; tests may too). */
  check(): void {
    const now = performance.now();
    if (this.sentinel) this.#loopDelayMs = this.sentinel.takeDelayP99Ms();
    const seen = new Set<string>();
    for (const [workerId, session] of this.#target.sessions()) {
      seen.add(workerId);
      this.#checkLink(workerId, session, now);
    }
    // Sessions the target forgot are resolved and dropped.
    for (const [workerId, track] of this.#tracks) {
      if (workerId !== PROCESS && !seen.has(workerId)) {
        for (const reason of [...track.firing.keys()]) this.#resolve(workerId, track, reason);
        this.#tracks.delete(workerId);
      }
    }
    this.#checkProcess(now);
  }

  #track(workerId: string, hubId?: string): Track {
    let t = this.#tracks.get(workerId);
    if (!t) {
      t = {
        state: 'connecting',
        everConnected: false,
        downSince: undefined,
        consecutiveMisses: 0,
        lastProgressAt: performance.now(),
        progressCount: 0,
        pendingSince: undefined,
        bufferedAboveSince: undefined,
        hubId,
        heartbeat: undefined,
        firing: new Map(),
        lastActionAt: 0,
      };
      this.#tracks.set(workerId, t);
    }
    if (hubId) t.hubId = hubId;
    return t;
  }

  #onEvent(e: LinkEvent): void {
    if (e.workerId === 'unknown') return;
    const t = this.#track(e.workerId, e.hubId);
    switch (e.type) {
      case 'connected':
        // Re-evaluate at once so /links and the state metric never show a live link as connecting.
        queueMicrotask(() => this.#unsubscribe && this.check());
        t.everConnected = true;
        t.downSince = undefined;
        t.consecutiveMisses = 0;
        t.lastProgressAt = e.at;
        t.bufferedAboveSince = undefined;
        return;
      case 'disconnected':
        t.downSince = e.at;
        t.consecutiveMisses = 0;
        return;
      case 'heartbeat-missed':
        t.consecutiveMisses = e.consecutive;
        return;
      case 'heartbeat-rtt':
        t.consecutiveMisses = 0;
        return;
      default:
        return;
    }
  }

  #checkLink(workerId: string, session: Session, now: number): void {
    const t = this.#track(workerId, session.hubId);
    const link = this.#target.linkOf(workerId);
    // Acks received and handler calls that succeeded. A handler that times out on every message
    // keeps work pending without progress: that is a stall, not progress.
    const c = session.counters;
    const progress = c.acked + c.processed;
    if (progress !== t.progressCount) {
      t.progressCount = progress;
      t.lastProgressAt = now;
    }
    const pending = session.outbox.size > 0 || session.queue.depth > 0;
    if (!pending) t.pendingSince = undefined;
    else t.pendingSince ??= now;
    if (link && link.bufferedAmount >= link.settings.highWatermarkBytes) t.bufferedAboveSince ??= now;
    else t.bufferedAboveSince = undefined;
    if (link)
      t.heartbeat = { intervalMs: link.settings.heartbeatIntervalMs, misses: link.settings.heartbeatMisses };
    const hb = t.heartbeat ?? this.#o.heartbeat ?? { intervalMs: 5000, misses: 3 };
    const thresholds = deriveThresholds(hb, {
      ...(link ? { transportStallMs: Math.max(1, Math.floor(link.settings.sendStallTimeoutMs / 2)) } : {}),
      ...this.#o.thresholds,
    });
    const input: HealthInput = {
      connected: link !== undefined,
      everConnected: t.everConnected,
      downForMs: t.downSince === undefined ? 0 : now - t.downSince,
      consecutiveMisses: t.consecutiveMisses,
      pending: link !== undefined && pending,
      noProgressForMs: t.pendingSince === undefined ? 0 : now - Math.max(t.pendingSince, t.lastProgressAt),
      bufferedAboveForMs: t.bufferedAboveSince === undefined ? 0 : now - t.bufferedAboveSince,
      hungHandlers: session.queue.hung,
      eventLoopBlocked: false,
      eventLoopDelayMs: 0,
      exportConsecutiveFailures: 0,
    };
    const verdict = evaluateHealth(input, thresholds);
    this.#apply(workerId, t, verdict.state, verdict.alerts, input, thresholds);
  }

  #checkProcess(now: number): void {
    const t = this.#track(PROCESS, this.#o.hubId);
    const thresholds = deriveThresholds(
      this.#o.heartbeat ?? { intervalMs: 5000, misses: 3 },
      this.#o.thresholds,
    );
    // The process pseudo-link is always up; only the process-level inputs vary.
    const input: HealthInput = {
      ...HEALTHY_INPUT,
      eventLoopBlocked: this.sentinel?.blocked ?? false,
      eventLoopDelayMs: this.#loopDelayMs,
      exportConsecutiveFailures: this.#o.exportHealth?.consecutiveFailures ?? 0,
    };
    const verdict = evaluateHealth(input, thresholds);
    this.#apply(PROCESS, t, verdict.state, verdict.alerts, input, thresholds);
    void now;
  }

  #apply(
    workerId: string,
    t: Track,
    state: LinkState,
    alerts: Set<HealthReason>,
    input: HealthInput,
    thresholds: HealthThresholds,
  ): void {
    for (const reason of alerts) {
      if (!t.firing.has(reason)) this.#fire(workerId, t, reason, describe(reason, input, thresholds));
    }
    for (const reason of [...t.firing.keys()]) if (!alerts.has(reason)) this.#resolve(workerId, t, reason);
    if (workerId === PROCESS || state === t.state) return;
    const from = t.state;
    t.state = state;
    this.#emit({ type: 'transition', workerId, from, to: state, reasons: [...alerts] });
    if (state === 'stalled') this.#selfHeal(workerId, t, [...alerts][0] ?? 'progress-stalled');
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

  #labels(workerId: string, t: Track) {
    return {
      workerId:
        workerId === PROCESS
          ? this.#o.side === 'worker'
            ? ([...this.#target.sessions().keys()][0] ?? '')
            : ''
          : workerId,
      hubId: t.hubId ?? this.#o.hubId,
      side: this.#o.side,
    };
  }

  #fire(workerId: string, t: Track, reason: HealthReason, description: string): void {
    const alert = makeAlert(reason, this.#labels(workerId, t), description, new Date());
    if (!alert.labels.linkwatch_worker_id) delete alert.labels.linkwatch_worker_id;
    t.firing.set(reason, alert);
    this.#publish(alert);
  }

  #resolve(workerId: string, t: Track, reason: HealthReason): void {
    const alert = t.firing.get(reason);
    if (!alert) return;
    t.firing.delete(reason);
    this.#publish({ ...alert, status: 'resolved', endsAt: new Date() });
    void workerId;
  }

  #publish(alert: Alert): void {
    for (const sink of this.#sinks) {
      try {
        sink.deliver(alert);
      } catch {}
    }
    try {
      this.#o.onAlert?.(alert);
    } catch {}
    this.#emit({ type: 'alert', alert });
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
  }

  /** Stops timers and the sentinel, and flushes sinks. Firing alerts stay firing in Alertmanager until they time out. */
  async stop(): Promise<void> {
    this.stopTimers();
    await this.sentinel?.stop();
    await Promise.all(this.#sinks.map((s) => s.close?.().catch(() => {})));
  }
}

function describe(reason: HealthReason, input: HealthInput, t: HealthThresholds): string {
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

function validateThresholds(t: Partial<HealthThresholds> | undefined): void {
  if (t === undefined) return;
  if (typeof t !== 'object' || t === null) throw new TypeError('Expected `thresholds` to be an object');
  for (const [k, v] of Object.entries(t)) {
    intOption(`thresholds.${k}`, v, 0, { min: k === 'heartbeatMissAlert' || k === 'exportFailures' ? 1 : 0 });
  }
}
