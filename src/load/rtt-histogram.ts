/**
 * A fixed-bucket latency histogram, cheap to record into and to merge
 * across processes: 10 µs steps below 10 ms, 1 ms steps to 1 s, 100 ms steps
 * to 60 s, then one overflow bucket. Percentiles read the bucket's upper
 * bound, so they are never optimistic by more than one step.
 */
const FINE_END = 10; // ms
const MID_END = 1000;
const COARSE_END = 60_000;
const FINE = FINE_END * 100; // 10 µs buckets
const MID = MID_END - FINE_END; // 1 ms buckets
const COARSE = (COARSE_END - MID_END) / 100; // 100 ms buckets
const BUCKETS = FINE + MID + COARSE + 1;

function indexOf(ms: number): number {
  if (!(ms > 0)) return 0;
  if (ms < FINE_END) return Math.floor(ms * 100);
  if (ms < MID_END) return FINE + Math.floor(ms - FINE_END);
  if (ms < COARSE_END) return FINE + MID + Math.floor((ms - MID_END) / 100);
  return BUCKETS - 1;
}

function upperBound(i: number): number {
  if (i < FINE) return (i + 1) / 100;
  if (i < FINE + MID) return FINE_END + (i - FINE) + 1;
  if (i < BUCKETS - 1) return MID_END + (i - FINE - MID + 1) * 100;
  return Number.POSITIVE_INFINITY;
}

/** Non-zero buckets as `[index, count]` pairs: what a load child sends its parent. */
export type SparseCounts = [number, number][];

export class LatencyHistogram {
  // Count per bucket; see indexOf().
  readonly #counts = new Uint32Array(BUCKETS);
  #total = 0;
  #max = 0;

  get count(): number {
    return this.#total;
  }

  get maxMs(): number {
    return this.#max;
  }

  record(ms: number): void {
    this.#counts[indexOf(ms)]!++;
    this.#total++;
    if (ms > this.#max) this.#max = ms;
  }

  /** The value at or below which `p` percent of samples fall, ms; 0 when empty. */
  percentile(p: number): number {
    if (this.#total === 0) return 0;
    const rank = Math.max(1, Math.ceil((p / 100) * this.#total));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.#counts[i]!;
      if (seen >= rank) return Math.min(upperBound(i), this.#max);
    }
    return this.#max;
  }

  /** The non-zero buckets, and clears them (a delta since the last call). */
  drain(): { counts: SparseCounts; max: number } {
    const counts: SparseCounts = [];
    for (let i = 0; i < BUCKETS; i++) {
      const c = this.#counts[i]!;
      if (c > 0) counts.push([i, c]);
    }
    const max = this.#max;
    this.#counts.fill(0);
    this.#total = 0;
    this.#max = 0;
    return { counts, max };
  }

  add(delta: { counts: SparseCounts; max: number }): void {
    for (const [i, c] of delta.counts) {
      if (i < 0 || i >= BUCKETS) continue;
      this.#counts[i]! += c;
      this.#total += c;
    }
    if (delta.max > this.#max) this.#max = delta.max;
  }
}
