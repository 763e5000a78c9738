import type { LinkEvent, LinkState } from '../link/events.js';
import {
  deriveThresholds,
  evaluateHealthInto,
  HEALTHY_INPUT,
  type HealthInput,
  type HealthThresholds,
  type HealthVerdict,
} from './health.js';

/** What the tracker reads from a session at a check: counters the core keeps anyway. */
export interface WatchedSession {
  readonly hubId: string | undefined;
  readonly counters: { readonly acked: number; readonly processed: number };
  readonly outbox: { readonly size: number };
  readonly queue: { readonly depth: number; readonly hung: number };
}

/** What it reads from a live link. */
export interface WatchedLink {
  readonly bufferedAmount: number;
  /**
   * Heartbeats unanswered in a row, the link's own count (a round trip or
   * data moving resets it). Read at the check, so the watchdog does no work
   * per heartbeat.
   */
  readonly consecutiveMisses: number;
  readonly settings: {
    readonly heartbeatIntervalMs: number;
    readonly heartbeatMisses: number;
    readonly highWatermarkBytes: number;
    readonly sendStallTimeoutMs: number;
  };
}

/** The watchdog's bookkeeping for one link. One small object per link, nothing else. */
export interface Track {
  state: LinkState;
  everConnected: boolean;
  downSince: number | undefined;
  lastProgressAt: number;
  // Acked plus successfully processed messages at the last check; a change is progress.
  progressCount: number;
  pendingSince: number | undefined;
  bufferedAboveSince: number | undefined;
  hubId: string | undefined;
  // Thresholds of the last live link (shared between links with equal settings), so they stay
  // right while the link is down; undefined until the link was first seen up.
  thresholds: HealthThresholds | undefined;
  // The settings object the thresholds were derived from; the same object next time means no work.
  settings: WatchedLink['settings'] | undefined;
  lastActionAt: number;
  // The sweep round that last saw this link's session; a round that misses it forgets the link.
  round: number;
}

export interface LinkTrackerOptions {
  /** Heartbeat settings the thresholds derive from before a link was seen up. */
  heartbeat: { intervalMs: number; misses: number };
  overrides: Partial<HealthThresholds> | undefined;
}

/**
 * Link tracking: folds lifecycle events into one `Track` per link and
 * evaluates the health rules for one link at a time. Per event and per check
 * it touches only that link, and a check allocates nothing: the rules write
 * into one scratch input and one scratch verdict owned here.
 */
export class LinkTracker {
  readonly #tracks = new Map<string, Track>();
  readonly #overrides: Partial<HealthThresholds> | undefined;
  readonly #defaults: HealthThresholds;
  // Thresholds by "interval|misses|sendStall": links with the same settings share one object.
  readonly #thresholds = new Map<string, HealthThresholds>();
  // Valid from one evaluate() to the next; read by describe() for alert text.
  readonly #input: HealthInput = { ...HEALTHY_INPUT, connected: false, everConnected: false };
  readonly #verdict: HealthVerdict = { state: 'healthy', alerts: new Set(), degraded: new Set() };
  #lastThresholds: HealthThresholds;

  constructor(options: LinkTrackerOptions) {
    this.#overrides = options.overrides;
    this.#defaults = deriveThresholds(options.heartbeat, options.overrides);
    this.#lastThresholds = this.#defaults;
  }

  get size(): number {
    return this.#tracks.size;
  }

  get(workerId: string): Track | undefined {
    return this.#tracks.get(workerId);
  }

  /** The link's track, created as `connecting` on first sight. */
  track(workerId: string, hubId: string | undefined, round: number): Track {
    let t = this.#tracks.get(workerId);
    if (!t) {
      t = {
        state: 'connecting',
        everConnected: false,
        downSince: undefined,
        lastProgressAt: performance.now(),
        progressCount: 0,
        pendingSince: undefined,
        bufferedAboveSince: undefined,
        hubId,
        thresholds: undefined,
        settings: undefined,
        lastActionAt: 0,
        round,
      };
      this.#tracks.set(workerId, t);
    }
    if (hubId) t.hubId = hubId;
    return t;
  }

  /**
   * Folds one lifecycle event into its link's track. O(1); the events that
   * come once per heartbeat and link cost a type check (missed heartbeats are
   * read from the link at the check).
   */
  observe(e: LinkEvent, round: number): void {
    // Hub-wide events (auth failures, refused connections) have no link.
    if (e.workerId === '' || e.workerId === 'unknown') return;
    switch (e.type) {
      case 'connected': {
        const t = this.track(e.workerId, e.hubId, round);
        t.everConnected = true;
        t.downSince = undefined;
        t.lastProgressAt = e.at;
        t.bufferedAboveSince = undefined;
        return;
      }
      case 'disconnected': {
        const t = this.track(e.workerId, e.hubId, round);
        t.downSince = e.at;
        return;
      }
      default:
        // Every other event (the heartbeats', ...) changes nothing here.
        return;
    }
  }

  /**
   * Runs the rules for one link. The verdict is the tracker's scratch object:
   * read it before the next call.
   */
  evaluate(t: Track, session: WatchedSession, link: WatchedLink | undefined, now: number): HealthVerdict {
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
    if (link && link.settings !== t.settings) {
      t.settings = link.settings;
      t.thresholds = this.#thresholdsFor(link.settings);
    }
    const thresholds = t.thresholds ?? this.#defaults;
    const input = this.#input;
    input.connected = link !== undefined;
    input.everConnected = t.everConnected;
    input.downForMs = t.downSince === undefined ? 0 : now - t.downSince;
    input.consecutiveMisses = link === undefined ? 0 : link.consecutiveMisses;
    input.pending = link !== undefined && pending;
    input.noProgressForMs =
      t.pendingSince === undefined ? 0 : now - Math.max(t.pendingSince, t.lastProgressAt);
    input.bufferedAboveForMs = t.bufferedAboveSince === undefined ? 0 : now - t.bufferedAboveSince;
    input.hungHandlers = session.queue.hung;
    this.#lastThresholds = thresholds;
    return evaluateHealthInto(input, thresholds, this.#verdict);
  }

  /** The input and thresholds of the last evaluate(), for alert descriptions. */
  get lastInput(): Readonly<HealthInput> {
    return this.#input;
  }
  get lastThresholds(): HealthThresholds {
    return this.#lastThresholds;
  }

  /** Removes the tracks the given round did not see; calls `gone` for each first. O(N), no allocation. */
  forgetUnseen(round: number, gone: (workerId: string) => void): void {
    for (const [workerId, t] of this.#tracks) {
      if (t.round === round) continue;
      gone(workerId);
      this.#tracks.delete(workerId);
    }
  }

  // Once per link (re)connect: links with the same settings share one thresholds object.
  #thresholdsFor(s: WatchedLink['settings']): HealthThresholds {
    const transportStallMs = Math.max(1, Math.floor(s.sendStallTimeoutMs / 2));
    const key = `${s.heartbeatIntervalMs}|${s.heartbeatMisses}|${transportStallMs}`;
    let t = this.#thresholds.get(key);
    if (!t) {
      t = deriveThresholds(
        { intervalMs: s.heartbeatIntervalMs, misses: s.heartbeatMisses },
        { transportStallMs, ...this.#overrides },
      );
      this.#thresholds.set(key, t);
    }
    return t;
  }
}
