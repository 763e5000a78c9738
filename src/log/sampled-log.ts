import type { Level, LogFields, Logger } from './logger.js';

/** How often, at most, one kind of sampled event reaches the log. */
export const DEFAULT_SAMPLE_INTERVAL_MS = 10_000;

export interface SampledLogOptions {
  /** At most one line per this many ms. @default 10000 */
  intervalMs?: number;
}

/**
 * One log message that a peer can trigger at will (a bad token, a frame
 * rejected before hello), written at most once per interval. The first event
 * after a quiet interval is written at once, in full, so an operator sees the
 * problem start. Events during the interval are only counted, by reason; at
 * its end one line says how many there were (`suppressed`, `by_reason`) with
 * the fields of the latest. 4,930 bad tokens in 10 s are 2 lines, not 4,930.
 *
 * One timer while events keep coming, none once they stop; it is unref'd, so
 * it never holds the process open. `close()` writes what is pending.
 */
export class SampledLog {
  readonly #logger: Logger;
  readonly #level: Level;
  readonly #msg: string;
  readonly #intervalMs: number;
  // Set while an interval is open: events are counted, not written.
  #timer: ReturnType<typeof setTimeout> | undefined;
  // Reason → events counted in the open interval.
  #counts = new Map<string, number>();
  #suppressed = 0;
  // Fields of the latest counted event, for the summary line.
  #latest: LogFields = {};

  constructor(logger: Logger, level: Level, msg: string, options: SampledLogOptions = {}) {
    this.#logger = logger;
    this.#level = level;
    this.#msg = msg;
    this.#intervalMs = options.intervalMs ?? DEFAULT_SAMPLE_INTERVAL_MS;
  }

  record(reason: string, fields: LogFields): void {
    if (this.#timer === undefined) {
      this.#logger[this.#level](this.#msg, fields);
      this.#open();
      return;
    }
    this.#suppressed++;
    this.#counts.set(reason, (this.#counts.get(reason) ?? 0) + 1);
    this.#latest = fields;
  }

  /** Writes the pending summary, if any, and stops the timer. */
  close(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#writeSummary();
  }

  #open(): void {
    this.#timer = setTimeout(() => this.#tick(), this.#intervalMs);
    this.#timer.unref?.();
  }

  #tick(): void {
    this.#timer = undefined;
    // Events kept coming: this summary is the interval's one line, and the next interval opens.
    if (this.#writeSummary()) this.#open();
  }

  #writeSummary(): boolean {
    if (this.#suppressed === 0) return false;
    const byReason = [...this.#counts].map(([reason, n]) => `${reason}=${n}`).join(',');
    this.#logger[this.#level](this.#msg, {
      ...this.#latest,
      suppressed: this.#suppressed,
      by_reason: byReason,
      interval_ms: this.#intervalMs,
    });
    this.#suppressed = 0;
    this.#counts = new Map();
    this.#latest = {};
    return true;
  }
}
