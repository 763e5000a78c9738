/**
 * Exponential backoff with full jitter and a cap. The attempt count resets
 * only after a connection stayed up for `minUptimeMs`, so a link that flaps
 * (connects, then dies at once) keeps backing off instead of hammering the hub.
 */
export interface BackoffOptions {
  /** Base of the first delay, ms. @default 250 */
  initialDelayMs?: number;
  /** Upper bound of any delay, ms. @default 30000 */
  maxDelayMs?: number;
  /** Growth per attempt. @default 2 */
  multiplier?: number;
  /** A connection must last this long before the attempt count resets, ms. @default 10000 */
  minUptimeMs?: number;
  /** Random source in [0, 1); tests pass a fixed one. @default Math.random */
  random?: () => number;
}

export const DEFAULT_BACKOFF = {
  initialDelayMs: 250,
  maxDelayMs: 30_000,
  multiplier: 2,
  minUptimeMs: 10_000,
} as const;

export class Backoff {
  readonly #initial: number;
  readonly #max: number;
  readonly #multiplier: number;
  readonly #minUptime: number;
  readonly #random: () => number;
  // Failed attempts since the last stable connection; drives the exponent.
  #attempt = 0;
  // When the current connection came up, or undefined while disconnected.
  #connectedAt: number | undefined;

  constructor(options: BackoffOptions = {}) {
    this.#initial = options.initialDelayMs ?? DEFAULT_BACKOFF.initialDelayMs;
    this.#max = options.maxDelayMs ?? DEFAULT_BACKOFF.maxDelayMs;
    this.#multiplier = options.multiplier ?? DEFAULT_BACKOFF.multiplier;
    this.#minUptime = options.minUptimeMs ?? DEFAULT_BACKOFF.minUptimeMs;
    this.#random = options.random ?? Math.random;
  }

  get attempt(): number {
    return this.#attempt;
  }

  /** How long a connection must last to count as stable, ms. */
  get minUptimeMs(): number {
    return this.#minUptime;
  }

  /** The ceiling of the jitter window for the next attempt. */
  ceiling(): number {
    return Math.min(this.#max, this.#initial * this.#multiplier ** this.#attempt);
  }

  /** Advances the attempt count and returns the delay before the next dial. */
  next(): { attempt: number; delayMs: number } {
    const delayMs = Math.floor(this.#random() * this.ceiling());
    this.#attempt++;
    return { attempt: this.#attempt, delayMs };
  }

  connected(now: number): void {
    this.#connectedAt = now;
  }

  /** Returns how long the connection lasted; resets the count if it was stable. */
  disconnected(now: number): number {
    const uptime = this.#connectedAt === undefined ? 0 : now - this.#connectedAt;
    this.#connectedAt = undefined;
    if (uptime >= this.#minUptime) this.#attempt = 0;
    return uptime;
  }

  reset(): void {
    this.#attempt = 0;
    this.#connectedAt = undefined;
  }
}
