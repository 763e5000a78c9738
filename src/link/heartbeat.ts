/**
 * Heartbeat bookkeeping for one link. It owns two timers and depends only on
 * a narrow host interface, not on the socket. Liveness is proven by a round
 * trip, so a peer that still talks but no longer hears us (one-way blackhole)
 * is detected too. Two things prove one:
 *
 * - an hb-ack for one of our heartbeats (and it measures the RTT);
 * - progress() from the link: the peer acked our data, or its data arrived.
 *   Its data counts because the peer sends data only within a window of our
 *   acks, so it keeps arriving only while our frames reach it.
 *
 * The second matters on a link slower than the data offered to it: the
 * heartbeats queue behind data in the same TCP stream, and their acks come
 * back late, while the link is plainly moving.
 *
 * Both sides' heartbeats leave in the same writes as other frames where they
 * can, because at fleet scale the syscalls were the hub's largest cost (one
 * writev per frame, 26 % of a 5,000-link hub's CPU samples):
 *
 * - A follower (the hub) keeps no clock of its own while the peer beats: it
 *   beats when the peer's heartbeat arrives (`peerBeat()`), so the hb-ack and
 *   its own heartbeat leave in one write. Its own timer is the fallback,
 *   FOLLOW_SLACK intervals after its last beat, for a peer that stopped.
 * - A leader (the worker) beats on its interval, or with data it writes
 *   (`dataSent()`) once half an interval passed, so data and heartbeat arrive
 *   in one read and the hub's answer can carry the ack too. After such a
 *   beat its own timer waits LEAD_SLACK intervals, so steady data keeps the
 *   beat and a timer beat does not race it.
 * - From protocol revision 3 the leader holds its answer to the follower's
 *   heartbeat and sends it just before its own next one, in the same write,
 *   with the time held (`held`), which ack() takes off the RTT. Per interval
 *   and link that is one write for the worker and one read for the hub instead
 *   of two. The answer then comes about an interval after the follower's beat,
 *   so a follower whose peer holds waits HELD_FOLLOW_SLACK intervals, not
 *   FOLLOW_SLACK, before it beats (and judges) by itself.
 *
 * An early beat never comes less than half an interval after the last one,
 * never gets more than one ahead of one per interval since start() (the
 * peer's flood limit allows ten), and never replaces its own unanswered beat
 * before an interval passed (it would be judged, a miss unless data moved,
 * before its time). The dead deadline is the same in every mode.
 */

/**
 * The dead-deadline check's delays are whole multiples of this (see
 * Heartbeat.#armDeadline): a twentieth of the interval, 1 to 100 ms.
 */
export function deadlineStep(intervalMs: number): number {
  return Math.min(100, Math.max(1, Math.floor(intervalMs / 20)));
}

type Timer = ReturnType<typeof setTimeout>;

/**
 * `timer`, last armed for `armedMs`, due `ms` from now: refreshed when the
 * delay is the same (no new Timeout, see Heartbeat.#armDeadline), else
 * replaced.
 */
function rearm(timer: Timer | undefined, armedMs: number, ms: number, fire: () => void): Timer {
  if (timer && armedMs === ms) return timer.refresh();
  if (timer) clearTimeout(timer);
  return setTimeout(fire, ms);
}

/** A follower beats by itself when the peer's heartbeat has not come for this many intervals. */
export const FOLLOW_SLACK = 1.5;
/** After a beat that went with data, a leader's own timer waits this many intervals. */
export const LEAD_SLACK = 1.25;
/** As FOLLOW_SLACK, when the peer holds its answers until its own next beat (LEAD_SLACK at most). */
export const HELD_FOLLOW_SLACK = 2;

export interface HeartbeatHost {
  /** Write a heartbeat frame with this id and timestamp. */
  sendHeartbeat(id: number, ts: number): void;
  /** An interval passed with neither an ack for the outstanding heartbeat nor progress. */
  missed(consecutive: number): void;
  /** No round trip for `intervalMs × misses`: the link is dead. */
  dead(silentMs: number): void;
  /** An ack arrived. */
  rtt(rttMs: number): void;
}

export interface HeartbeatOptions {
  intervalMs: number;
  misses: number;
  /** Beat when the peer's heartbeat arrives (the hub; see the header), else lead (the worker). @default false */
  follow?: boolean;
  /** A follower's peer holds its answers until its own next beat (revision 3; see the header). @default false */
  peerHoldsAcks?: boolean;
  /** Monotonic clock, ms. @default performance.now */
  now?: () => number;
}

export class Heartbeat {
  readonly #host: HeartbeatHost;
  readonly #interval: number;
  readonly #misses: number;
  readonly #now: () => number;
  readonly #follow: boolean;
  // A follower's own timer, in intervals after its last beat: FOLLOW_SLACK or HELD_FOLLOW_SLACK.
  readonly #followSlack: number;
  // The next own beat; re-armed at every beat (refreshed while its delay stays the same).
  #tick: ReturnType<typeof setTimeout> | undefined;
  #tickMs = 0;
  // The dead-deadline check. Kept after it fires and refreshed when the next check is due after
  // the same delay (see #armDeadline).
  #deadline: ReturnType<typeof setTimeout> | undefined;
  #deadlineMs = 0;
  readonly #deadlineStep: number;
  #nextId = 0;
  // Id (0: none) and send time of the heartbeat awaiting its ack; two fields, no object per beat.
  #outstandingId = 0;
  #outstandingSentAt = 0;
  // Last proven round trip (an ack arrived); start() counts as one.
  #lastRoundTrip = 0;
  #consecutiveMisses = 0;
  // NaN until the first ack. A double from the start, never undefined: V8 then updates the field in
  // place, where a field that held undefined gets a new heap number per ack
  // (bench/results/gc-promotion.md).
  #lastRttMs = Number.NaN;
  // Set by progress() on the hot path; read and cleared at the next check (tick or deadline).
  #progressSeen = false;
  // When the last check ran. Progress seen since is dated to it, the earliest it can have
  // happened, so it never postpones the deadline beyond what it proves.
  #lastCheck = 0;
  // Checks that found progress, and that count when the last tick ran: a tick with no new
  // progress and an outstanding heartbeat is a miss, whichever check took the flag.
  #moves = 0;
  #movesAtTick = 0;
  // Beats since start() and when the last went, for the pace of early beats.
  #beats = 0;
  #startedAt = 0;
  #lastBeatAt = 0;

  constructor(host: HeartbeatHost, options: HeartbeatOptions) {
    this.#host = host;
    this.#interval = options.intervalMs;
    this.#misses = options.misses;
    this.#follow = options.follow ?? false;
    this.#followSlack = options.peerHoldsAcks ? HELD_FOLLOW_SLACK : FOLLOW_SLACK;
    this.#now = options.now ?? (() => performance.now());
    this.#deadlineStep = deadlineStep(this.#interval);
  }

  get lastRttMs(): number | undefined {
    return Number.isNaN(this.#lastRttMs) ? undefined : this.#lastRttMs;
  }
  get consecutiveMisses(): number {
    return this.#consecutiveMisses;
  }
  /** Ms since the last proven round trip. */
  silentMs(): number {
    const since = this.#progressSeen ? Math.max(this.#lastRoundTrip, this.#lastCheck) : this.#lastRoundTrip;
    return this.#now() - since;
  }
  get deadAfterMs(): number {
    return this.#interval * this.#misses;
  }

  /** Starts (or restarts) the timers; always cancels first. */
  start(): void {
    this.cancel();
    this.#lastRoundTrip = this.#now();
    this.#lastCheck = this.#lastRoundTrip;
    this.#progressSeen = false;
    this.#movesAtTick = this.#moves;
    this.#consecutiveMisses = 0;
    this.#startedAt = this.#lastRoundTrip;
    this.#beats = 0;
    this.#beat();
    this.#arm(this.#ownDelay());
    this.#armDeadline(this.deadAfterMs);
  }

  cancel(): void {
    if (this.#tick) clearTimeout(this.#tick);
    if (this.#deadline) clearTimeout(this.#deadline);
    this.#tick = undefined;
    this.#deadline = undefined;
    this.#deadlineMs = 0;
    this.#outstandingId = 0;
  }

  /**
   * The peer echoed heartbeat `id` with our wall-clock `echoedTs`, after
   * holding its answer `heldMs` (revision 3; see the header). A stale id
   * (RTT above the interval) still proves a round trip; its RTT comes from
   * the echoed timestamp at millisecond precision.
   */
  ack(id: number, echoedTs: number, heldMs = 0): void {
    const now = this.#now();
    this.#lastRoundTrip = now;
    this.#consecutiveMisses = 0;
    if (this.#outstandingId !== 0 && this.#outstandingId === id) {
      this.#lastRttMs = Math.max(0, now - this.#outstandingSentAt - heldMs);
      this.#outstandingId = 0;
    } else {
      this.#lastRttMs = Math.max(0, Date.now() - echoedTs - heldMs);
    }
    this.#host.rtt(this.#lastRttMs);
  }

  /**
   * The link moved: the peer acked our data or its data arrived. Called per
   * frame, so it only sets a flag.
   */
  progress(): void {
    this.#progressSeen = true;
  }

  /** Applies the progress seen since the last check. */
  #check(): void {
    if (this.#progressSeen) {
      this.#progressSeen = false;
      this.#moves++;
      if (this.#lastCheck > this.#lastRoundTrip) this.#lastRoundTrip = this.#lastCheck;
      this.#consecutiveMisses = 0;
    }
    this.#lastCheck = this.#now();
  }

  /** The peer's heartbeat arrived: a follower beats now if it may (see the header). */
  peerBeat(): void {
    if (!this.#follow || !this.#earlyBeatAllowed()) return;
    this.#round();
    if (this.#tick) this.#arm(this.#interval * this.#followSlack);
  }

  /** A leader would beat with data written now: call dataSent() right after writing it. */
  get beatWithDataDue(): boolean {
    return !this.#follow && this.#earlyBeatAllowed();
  }

  /** Data was just written: a leader beats now if it may, in the same write (see the header). */
  dataSent(): void {
    if (!this.beatWithDataDue) return;
    this.#round();
    if (this.#tick) this.#arm(this.#interval * LEAD_SLACK);
  }

  #earlyBeatAllowed(): boolean {
    if (!this.#tick) return false;
    const now = this.#now();
    const sinceBeat = now - this.#lastBeatAt;
    if (sinceBeat < this.#interval / 2) return false;
    if (this.#outstandingId !== 0 && sinceBeat < this.#interval) return false;
    return this.#beats + 1 <= (now - this.#startedAt) / this.#interval + 2;
  }

  #ownDelay(): number {
    return this.#follow ? this.#interval * this.#followSlack : this.#interval;
  }

  #arm(ms: number): void {
    this.#tick = rearm(this.#tick, this.#tickMs, ms, this.#onTimer);
    this.#tickMs = ms;
  }

  // Bound once per Heartbeat: arming the timer allocates no closure.
  readonly #onTimer = (): void => {
    this.#round();
    // The beat may have ended the link (a write past the buffer bound): cancel() cleared #tick.
    if (this.#tick) this.#arm(this.#ownDelay());
  };

  /** Applies progress, judges the outstanding beat (a miss unless answered or data moved), beats. */
  #round(): void {
    this.#check();
    const moved = this.#moves !== this.#movesAtTick;
    this.#movesAtTick = this.#moves;
    if (this.#outstandingId !== 0 && !moved) {
      this.#consecutiveMisses++;
      this.#host.missed(this.#consecutiveMisses);
    }
    this.#beat();
  }

  #beat(): void {
    const id = ++this.#nextId;
    const sentAt = this.#now();
    this.#beats++;
    this.#lastBeatAt = sentAt;
    // A newer heartbeat replaces the outstanding one; its RTT is measured instead.
    this.#outstandingId = id;
    this.#outstandingSentAt = sentAt;
    this.#host.sendHeartbeat(id, Date.now());
  }

  /**
   * Re-armed lazily: acks only move #lastRoundTrip, so the hot path sets no
   * timers. Node keeps one timer list per distinct delay in ms, and exact
   * delays (the deadline less the silence so far) made a new list, and a new
   * Timeout, at almost every re-arm, each living seconds into the old
   * generation. So while the link is heard from every interval (at least
   * `deadAfterMs - interval` left), the check comes back after exactly that,
   * which cannot pass the deadline and refreshes the same Timeout every time;
   * closer to the deadline the delay is rounded up to the step, so a dead
   * link is declared at most one step late.
   */
  #armDeadline(inMs: number): void {
    const step = this.#deadlineStep;
    const steady = this.deadAfterMs - this.#interval;
    const ms = steady >= step && inMs >= steady ? steady : Math.max(step, Math.ceil(inMs / step) * step);
    this.#deadline = rearm(this.#deadline, this.#deadlineMs, ms, this.#onDeadline);
    this.#deadlineMs = ms;
  }

  // Bound once per Heartbeat: re-arming the deadline allocates no closure.
  readonly #onDeadline = (): void => {
    this.#check();
    const silent = this.silentMs();
    if (silent >= this.deadAfterMs) {
      this.cancel();
      this.#host.dead(silent);
    } else {
      this.#armDeadline(this.deadAfterMs - silent);
    }
  };
}
