/**
 * When a fleet load counts as steady, for its RTT and event-loop figures:
 * every worker connected, with no reconnect among them, for at least
 * `settleMs`. A hub restart or a reconnect storm ends it until the whole
 * fleet is back and has settled again, so the steady RTT is the RTT of a
 * connected fleet, not of its recovery (which the summary reports apart).
 * Pure: the caller feeds the fleet's totals as its load processes report.
 */
export class SteadyPhase {
  readonly #workers: number;
  readonly #settleMs: number;
  // Since when every worker has been connected with no reconnect; undefined while one is not.
  #fullSince: number | undefined;
  // The fleet's reconnect count at the last update: a rise is a disruption even if all are back.
  #reconnects = 0;

  constructor(workers: number, settleMs: number) {
    this.#workers = workers;
    this.#settleMs = settleMs;
  }

  /** Feeds the fleet's latest totals; true when what was just reported counts as steady. */
  update(connected: number, reconnects: number, now: number): boolean {
    const full = connected >= this.#workers;
    const reconnected = reconnects > this.#reconnects;
    this.#reconnects = reconnects;
    if (!full) this.#fullSince = undefined;
    else if (reconnected || this.#fullSince === undefined) this.#fullSince = now;
    return this.#fullSince !== undefined && now - this.#fullSince >= this.#settleMs;
  }
}
