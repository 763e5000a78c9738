/**
 * Which hub to dial next, and whether to keep trying at all. Pure: the
 * worker tells it what happened, it answers where to go. Tested with plain
 * calls (test/unit/worker/failover.test.ts).
 *
 * - A link that was up gets one retry at the same hub; a failed dial moves
 *   on, and so does a second link in a row that died before `minUptimeMs`,
 *   or a hub that accepts and drops us would hold us forever.
 * - A supersede means another process holds our worker id. Both retrying
 *   would flap forever, so after `maxSupersedes` in a row without a stable
 *   link the worker gives up.
 */
export interface FailoverOptions {
  urls: readonly string[];
  minUptimeMs: number;
  maxSupersedes: number;
}

export type FailoverDecision =
  | { type: 'retry'; url: string; failedOver: { from: string; to: string } | undefined }
  | { type: 'give-up'; supersedes: number };

export class Failover {
  readonly #o: FailoverOptions;
  #index = 0;
  // Links in a row at the current URL that died before minUptimeMs.
  #unstable = 0;
  // Supersedes in a row without a link that stayed up minUptimeMs.
  #supersedes = 0;

  constructor(options: FailoverOptions) {
    this.#o = options;
  }

  get url(): string {
    return this.#o.urls[this.#index]!;
  }
  get supersedes(): number {
    return this.#supersedes;
  }

  /** A dial or handshake failed (busy answers included). */
  dialFailed(): FailoverDecision {
    return this.#move(true);
  }

  /** A link went down after `uptimeMs`; `superseded` when the hub closed it for a newer one. */
  linkDown(uptimeMs: number, superseded: boolean): FailoverDecision {
    const stable = uptimeMs >= this.#o.minUptimeMs;
    this.#unstable = stable ? 0 : this.#unstable + 1;
    if (superseded) {
      this.#supersedes = stable ? 1 : this.#supersedes + 1;
      if (this.#supersedes >= this.#o.maxSupersedes) return { type: 'give-up', supersedes: this.#supersedes };
    } else if (stable) {
      this.#supersedes = 0;
    }
    return this.#move(this.#unstable > 1);
  }

  #move(moveOn: boolean): FailoverDecision {
    const from = this.url;
    if (!moveOn || this.#o.urls.length < 2) return { type: 'retry', url: from, failedOver: undefined };
    this.#index = (this.#index + 1) % this.#o.urls.length;
    this.#unstable = 0;
    return { type: 'retry', url: this.url, failedOver: { from, to: this.url } };
  }
}
