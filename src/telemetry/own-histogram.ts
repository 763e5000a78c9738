/**
 * An explicit-bucket histogram that linkwatch keeps itself, cumulative from
 * its creation, for the hub's heartbeat round trips: one record per worker
 * and heartbeat, 10,000 a second at 10,000 workers with 1 s heartbeats. The
 * SDK's histogram hashes the attribute set on every record() (it sorts and
 * JSON-encodes the keys), 1.2 % of such a hub's time in its CPU profile;
 * this one is a bucket search and a few stores. Its points reach the
 * readers through the CLI's ObservedMetricsSink, as the SDK would have
 * exported them: the same name, buckets and attributes.
 *
 * Buckets as in OpenTelemetry's explicit-bucket aggregation: bucket i counts
 * the values v with boundaries[i-1] < v <= boundaries[i]; the last one the
 * values above every boundary.
 */
export class OwnHistogram {
  readonly boundaries: readonly number[];
  readonly #counts: number[];
  #sum = 0;
  #count = 0;
  #min = Number.POSITIVE_INFINITY;
  #max = Number.NEGATIVE_INFINITY;

  constructor(boundaries: readonly number[]) {
    for (let i = 0; i < boundaries.length; i++) {
      const b = boundaries[i]!;
      if (!Number.isFinite(b) || (i > 0 && b <= boundaries[i - 1]!))
        throw new TypeError(
          `Expected \`boundaries\` to be finite and strictly increasing, got ${JSON.stringify(boundaries)}`,
        );
    }
    this.boundaries = [...boundaries];
    this.#counts = new Array<number>(boundaries.length + 1).fill(0);
  }

  /** Adds one value; NaN is ignored. */
  record(value: number): void {
    if (Number.isNaN(value)) return;
    const b = this.boundaries;
    let i = 0;
    while (i < b.length && value > b[i]!) i++;
    this.#counts[i]!++;
    this.#sum += value;
    this.#count++;
    if (value < this.#min) this.#min = value;
    if (value > this.#max) this.#max = value;
  }

  /** The point as of now, in the SDK's Histogram shape (counts per bucket, not cumulative): a copy. */
  snapshot(): {
    buckets: { boundaries: number[]; counts: number[] };
    sum: number;
    count: number;
    min?: number;
    max?: number;
  } {
    return {
      buckets: { boundaries: [...this.boundaries], counts: [...this.#counts] },
      sum: this.#sum,
      count: this.#count,
      ...(this.#count > 0 ? { min: this.#min, max: this.#max } : {}),
    };
  }
}
