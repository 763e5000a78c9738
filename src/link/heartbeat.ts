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
 */
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
  /** Monotonic clock, ms. @default performance.now */
  now?: () => number;
}

export class Heartbeat {
  readonly #host: HeartbeatHost;
  readonly #interval: number;
  readonly #misses: number;
  readonly #now: () => number;
  #tick: ReturnType<typeof setInterval> | undefined;
  #deadline: ReturnType<typeof setTimeout> | undefined;
  #nextId = 0;
  // Id and send time of the heartbeat awaiting its ack, if any.
  #outstanding: { id: number; sentAt: number } | undefined;
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

  constructor(host: HeartbeatHost, options: HeartbeatOptions) {
    this.#host = host;
    this.#interval = options.intervalMs;
    this.#misses = options.misses;
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
    this.#beat();
    this.#tick = setInterval(() => this.#onTick(), this.#interval);
    this.#armDeadline(this.deadAfterMs);
  }

  cancel(): void {
    if (this.#tick) clearInterval(this.#tick);
    if (this.#deadline) clearTimeout(this.#deadline);
    this.#tick = undefined;
    this.#deadline = undefined;
    this.#outstanding = undefined;
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
    if (this.#outstanding && this.#outstanding.id === id) {
      this.#lastRttMs = now - this.#outstanding.sentAt;
      this.#outstanding = undefined;
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

  #onTick(): void {
    this.#check();
    const moved = this.#moves !== this.#movesAtTick;
    this.#movesAtTick = this.#moves;
    if (this.#outstanding && !moved) {
      this.#consecutiveMisses++;
      this.#host.missed(this.#consecutiveMisses);
    }
    this.#beat();
  }

  #beat(): void {
    const id = ++this.#nextId;
    const sentAt = this.#now();
    // A newer heartbeat replaces the outstanding one; its RTT is measured instead.
    this.#outstanding = { id, sentAt };
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
