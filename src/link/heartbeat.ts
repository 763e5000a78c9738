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
 * A follower (the hub) keeps no clock of its own while the peer beats: its
 * heartbeat goes out when the peer's arrives (`peerBeat()`), so the answer
 * and its own heartbeat leave in one write, one syscall instead of two per
 * interval and link. Its own timer is the fallback, FOLLOW_SLACK intervals
 * after its last beat, for a peer that stopped beating. The dead deadline is
 * the same in both modes.
 */

/** A follower beats by itself when the peer's heartbeat has not come for this many intervals. */
export const FOLLOW_SLACK = 1.25;
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
  /** Beat when the peer's heartbeat arrives (see the header); a timer only as the fallback. @default false */
  follow?: boolean;
  /** Monotonic clock, ms. @default performance.now */
  now?: () => number;
}

export class Heartbeat {
  readonly #host: HeartbeatHost;
  readonly #interval: number;
  readonly #misses: number;
  readonly #now: () => number;
  readonly #follow: boolean;
  // An interval timer, or for a follower a timeout re-armed (refresh) at every beat.
  #tick: ReturnType<typeof setInterval> | undefined;
  #deadline: ReturnType<typeof setTimeout> | undefined;
  #nextId = 0;
  // Id (0: none) and send time of the heartbeat awaiting its ack; two fields, no object per beat.
  #outstandingId = 0;
  #outstandingSentAt = 0;
  // Last proven round trip (an ack arrived); start() counts as one.
  #lastRoundTrip = 0;
  #consecutiveMisses = 0;
  #lastRttMs: number | undefined;
  // Set by progress() on the hot path; read and cleared at the next check (tick or deadline).
  #progressSeen = false;
  // When the last check ran. Progress seen since is dated to it, the earliest it can have
  // happened, so it never postpones the deadline beyond what it proves.
  #lastCheck = 0;
  // Checks that found progress, and that count when the last tick ran: a tick with no new
  // progress and an outstanding heartbeat is a miss, whichever check took the flag.
  #moves = 0;
  #movesAtTick = 0;
  // A follower's beats since start() and when the last went, for peerBeat()'s pace.
  #beats = 0;
  #startedAt = 0;
  #lastBeatAt = 0;

  constructor(host: HeartbeatHost, options: HeartbeatOptions) {
    this.#host = host;
    this.#interval = options.intervalMs;
    this.#misses = options.misses;
    this.#follow = options.follow ?? false;
    this.#now = options.now ?? (() => performance.now());
  }

  get lastRttMs(): number | undefined {
    return this.#lastRttMs;
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
    this.#tick = this.#follow
      ? setTimeout(() => this.#onFollowTick(), this.#interval * FOLLOW_SLACK)
      : setInterval(() => this.#onTick(), this.#interval);
    this.#armDeadline(this.deadAfterMs);
  }

  cancel(): void {
    // clearInterval and clearTimeout clear either kind of timer.
    if (this.#tick) clearInterval(this.#tick);
    if (this.#deadline) clearTimeout(this.#deadline);
    this.#tick = undefined;
    this.#deadline = undefined;
    this.#outstandingId = 0;
  }

  /**
   * The peer echoed heartbeat `id` with our wall-clock `echoedTs`. A stale id
   * (RTT above the interval) still proves a round trip; its RTT comes from
   * the echoed timestamp at millisecond precision.
   */
  ack(id: number, echoedTs: number): void {
    const now = this.#now();
    this.#lastRoundTrip = now;
    this.#consecutiveMisses = 0;
    if (this.#outstandingId !== 0 && this.#outstandingId === id) {
      this.#lastRttMs = now - this.#outstandingSentAt;
      this.#outstandingId = 0;
    } else {
      this.#lastRttMs = Math.max(0, Date.now() - echoedTs);
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

  /**
   * The peer's heartbeat arrived. A follower beats now, so its heartbeat
   * joins the answer's write, unless:
   * - it beat less than half an interval ago, or would get ahead of one beat
   *   per interval since start() (plus one): a peer that beats too fast is
   *   not followed into its flood;
   * - its last beat is unanswered and younger than an interval: replacing it
   *   would judge it (a miss unless data moved) before a leader would, and on
   *   a link slower than its traffic the peer's heartbeats arrive bunched.
   */
  peerBeat(): void {
    if (!this.#follow || !this.#tick) return;
    const now = this.#now();
    const sinceBeat = now - this.#lastBeatAt;
    if (sinceBeat < this.#interval / 2) return;
    if (this.#outstandingId !== 0 && sinceBeat < this.#interval) return;
    if (this.#beats + 1 > (now - this.#startedAt) / this.#interval + 2) return;
    this.#onTick();
    // The beat may have ended the link (a write past the buffer bound): cancel() cleared #tick.
    this.#tick?.refresh();
  }

  #onFollowTick(): void {
    this.#onTick();
    this.#tick?.refresh();
  }

  #onTick(): void {
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

  // Re-armed lazily: acks only move #lastRoundTrip, so the hot path sets no timers.
  #armDeadline(inMs: number): void {
    this.#deadline = setTimeout(
      () => {
        this.#deadline = undefined;
        this.#check();
        const silent = this.silentMs();
        if (silent >= this.deadAfterMs) {
          this.cancel();
          this.#host.dead(silent);
        } else {
          this.#armDeadline(this.deadAfterMs - silent);
        }
      },
      Math.max(1, inMs),
    );
  }
}
