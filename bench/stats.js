/**
 * Summaries of repeated measurements. The machine is shared and noisy, so a
 * result is always a median over rounds with its spread, and a comparison is
 * a ratio taken within one round (A and B ran back to back), then summarised.
 */

/** The q-quantile (0..1) of `values`, linear between closest ranks. */
export function quantile(values, q) {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

export function median(values) {
  return quantile(values, 0.5);
}

/**
 * `{ rounds, median, min, max, spreadPct }` where spreadPct is (max − min) / median:
 * how far apart the best and worst round were.
 */
export function summarize(rounds) {
  const med = median(rounds);
  const min = Math.min(...rounds);
  const max = Math.max(...rounds);
  return {
    rounds: rounds.map((v) => round(v, 4)),
    median: round(med, 4),
    min: round(min, 4),
    max: round(max, 4),
    spreadPct: med === 0 ? 0 : round(((max - min) / Math.abs(med)) * 100, 1),
  };
}

/** Per-round ratio a[i] / b[i], summarised. Both arrays come from the same rounds. */
export function pairedRatio(a, b) {
  return summarize(a.map((v, i) => v / b[i]));
}

/** Per-round difference a[i] − b[i], summarised. */
export function pairedDiff(a, b) {
  return summarize(a.map((v, i) => v - b[i]));
}

/** Least-squares slope of y over x. */
export function slope(xs, ys) {
  const n = xs.length;
  if (n < 2) return 0;
  const mx = xs.reduce((s, x) => s + x, 0) / n;
  const my = ys.reduce((s, y) => s + y, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (xs[i] - mx) * (ys[i] - my);
    den += (xs[i] - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

/** Rounds to `digits` significant digits, so result files stay readable. */
export function round(v, digits = 4) {
  if (!Number.isFinite(v) || v === 0) return v;
  return Number(v.toPrecision(digits));
}

/** Variant order for round `r`: rotated so no variant always runs first (or right after GC). */
export function rotation(variants, r) {
  const k = r % variants.length;
  return [...variants.slice(k), ...variants.slice(0, k)];
}
