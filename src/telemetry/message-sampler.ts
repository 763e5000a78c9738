/**
 * Which messages get spans, decided per message in a few nanoseconds and
 * before any OpenTelemetry object exists:
 *
 * - the ratio, as a countdown: rather than a random number per message, one
 *   draw per sampled message says how many to skip until the next one (the
 *   gaps of a Bernoulli process at that ratio are geometric, so the share
 *   is the same). An unsampled message costs one decrement.
 * - a cap of root and parent-sampled message traces a second, a token
 *   bucket consulted only once a message would be traced: at 800,000
 *   messages a second, 1% alone would be 8,000 traces a second from one
 *   process, more work than the link's own.
 *
 * Like AWS X-Ray's default (a reservoir a second, then a fixed rate), but
 * the other way round: the ratio first, then at most `perSecond`.
 */
export class MessageSampler {
  readonly #ratio: number;
  readonly #perSecond: number;
  readonly #random: () => number;
  readonly #now: () => number;
  // Messages until the next one the ratio samples (1: the next).
  #skip: number;
  #tokens: number;
  #refilledAt: number;

  /**
   * @param ratio share of messages sampled, 0..1
   * @param perSecond at most this many traced a second (the bucket holds as many)
   * @param random for tests; [0, 1)
   * @param now for tests; ms
   */
  constructor(
    ratio: number,
    perSecond: number,
    random: () => number = Math.random,
    now: () => number = () => performance.now(),
  ) {
    this.#ratio = ratio;
    this.#perSecond = perSecond;
    this.#random = random;
    this.#now = now;
    this.#tokens = perSecond;
    this.#refilledAt = now();
    this.#skip = this.#gap();
  }

  /** The ratio's decision for a message with none of its own (no sampled parent). */
  byRatio(): boolean {
    if (--this.#skip > 0) return false;
    this.#skip = this.#gap();
    return true;
  }

  /** One trace from the cap; ask only for a message that would otherwise be traced. */
  withinRate(): boolean {
    if (this.#tokens < 1) {
      const now = this.#now();
      this.#tokens = Math.min(
        this.#perSecond,
        this.#tokens + ((now - this.#refilledAt) * this.#perSecond) / 1000,
      );
      this.#refilledAt = now;
      if (this.#tokens < 1) return false;
    }
    this.#tokens--;
    return true;
  }

  /** Messages up to and including the next sampled one: geometric with p = ratio. */
  #gap(): number {
    if (this.#ratio >= 1) return 1;
    if (this.#ratio <= 0) return Number.POSITIVE_INFINITY;
    return 1 + Math.floor(Math.log(1 - this.#random()) / Math.log(1 - this.#ratio));
  }
}
