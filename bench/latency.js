/**
 * Latency at a fixed, moderate rate, sender and receiver in separate
 * processes: from the moment the sender calls `send()` to the start of the
 * receiving handler (ours: the hub's handler; raw `ws`: the server's message
 * callback after `JSON.parse`). The payload carries the send time from
 * `process.hrtime` (CLOCK_MONOTONIC, shared by both processes on one
 * machine), so this is one-way latency, not a round trip halved.
 *
 * How the variants are compared. On this shared 2-core machine two things
 * move a run's p50 by far more than the difference being measured:
 * - the machine's speed changes by up to 2x within seconds;
 * - where the scheduler places the four processes: with a hub and its
 *   worker on one CPU the p50 was 17 % higher for ours than raw's, on two
 *   CPUs 3 % (bench/results/latency-slices.md), and a placement, once
 *   made, lasts for the processes' life.
 * Fresh processes for each variant and a few seconds per round (how this
 * ran until 2026-12-02) left both to chance: a 7-round median moved by
 * about 0.1 between runs. Now each epoch starts both pairs (the first one
 * alternating between epochs, which changed the ratio by 0.1 when kept
 * fixed), warms both up so V8 has optimized both sides (the latency of a
 * link in steady state, as production runs it), and then lets them take
 * turns sending for a 300 ms slice, in rotating order. The ratio is taken
 * between the two slices of a turn, which see the same machine, and the
 * median is over every turn of every epoch.
 */
import { openPair } from './pair.js';
import { quantile, rotation, round, summarize } from './stats.js';
import { ratioCell, VARIANTS, verdict } from './variants.js';

export const title = 'Latency send() → handler, separate processes';

const RATE = 2000;
const BYTES = 256;
const NAMES = ['ours', 'raw'];
/** Issue 11: ours p50 at most this × raw's. */
export const GOAL_P50 = 1.2;

export async function run({ rounds, quick, log }) {
  const warmupMs = quick ? 500 : 1000;
  const sliceMs = 300;
  // One epoch per round (7 by default), 8 turns each: a median of ratios that holds to about ±0.03 here.
  const epochs = Math.max(2, rounds);
  const turnsPerEpoch = quick ? 4 : 8;
  const slices = { ours: [], raw: [] };
  const pooled = { ours: [], raw: [] };
  for (let e = 0; e < epochs; e++) {
    const order = rotation(NAMES, e);
    const pairs = {};
    try {
      for (const v of order) pairs[v] = await openPair(VARIANTS[v], { latency: true });
      for (const v of order) {
        const w = await pairs[v].measure({ type: 'pace', bytes: BYTES, rate: RATE, durationMs: warmupMs });
        if (w.lost > 0) throw new Error(`latency ${v}: ${w.lost} messages lost in the warm-up`);
      }
      for (let t = 0; t < turnsPerEpoch; t++) {
        for (const v of rotation(NAMES, e + t)) {
          const m = await pairs[v].measure({ type: 'pace', bytes: BYTES, rate: RATE, durationMs: sliceMs });
          if (m.lost > 0) throw new Error(`latency ${v}: ${m.lost} messages lost`);
          const { samplesUs, ...stats } = m.latency;
          slices[v].push(stats);
          for (const s of samplesUs) pooled[v].push(s);
        }
      }
      for (const v of order) await pairs[v].stop();
    } finally {
      await Promise.all(Object.values(pairs).map((p) => p.close()));
    }
  }
  return report({ slices, pooled, warmupMs, sliceMs, epochs, turns: epochs * turnsPerEpoch, log });
}

function report({ slices, pooled, warmupMs, sliceMs, epochs, turns, log }) {
  const pick = (v, k) => slices[v].map((m) => m[k]);
  const perSlice = (v) => summarize(pick(v, 'p50Us'));
  const all = (v) => ({
    p50Us: round(quantile(pooled[v], 0.5)),
    p99Us: round(quantile(pooled[v], 0.99)),
    maxUs: round(Math.max(...pooled[v])),
    n: pooled[v].length,
  });
  const variants = Object.fromEntries(NAMES.map((v) => [v, { slicesP50Us: perSlice(v), all: all(v) }]));
  const rawP50 = pick('raw', 'p50Us');
  const p50Ratios = pick('ours', 'p50Us').map((o, i) => o / rawP50[i]);
  const ratios = {
    'p50 ours/raw': {
      ...summarize(p50Ratios),
      p25: round(quantile(p50Ratios, 0.25)),
      p75: round(quantile(p50Ratios, 0.75)),
    },
    'p99 ours/raw (pooled)': round(variants.ours.all.p99Us / variants.raw.all.p99Us),
  };
  // The per-turn list stays out of the result file: the median and quartiles say it.
  delete ratios['p50 ours/raw'].rounds;
  const o = variants.ours.all;
  const w = variants.raw.all;
  const summary =
    `at ${RATE} msg/s: ours p50 ${Math.round(o.p50Us)} µs p99 ${Math.round(o.p99Us)} µs, ` +
    `raw p50 ${Math.round(w.p50Us)} µs p99 ${Math.round(w.p99Us)} µs; ` +
    `p50 ours/raw ${ratios['p50 ours/raw'].median.toFixed(2)} (median of ${turns} turns), ` +
    `p99 ours/raw ${ratios['p99 ours/raw (pooled)'].toFixed(2)}`;
  log(`latency ${summary}`);
  return {
    params: { rate: RATE, payloadBytes: BYTES, warmupMs, sliceMs, epochs, turns, variants: NAMES },
    goals: { 'p50 ours/raw': `<= ${GOAL_P50}` },
    results: { variants, ratios, samplesPerSlice: slices.ours[0]?.n },
    summary,
  };
}

export function markdown({ results, params }) {
  const { variants: v, ratios } = results;
  const r = ratios['p50 ours/raw'];
  const us = (x) => Math.round(x);
  return [
    `${params.rate} msg/s, ${params.payloadBytes} B payloads; one-way, send() to handler start, on CLOCK_MONOTONIC. ` +
      `${params.epochs} epochs, each with fresh processes (started in alternating order) and a ${params.warmupMs} ms warm-up per pair; ` +
      `then the pairs take turns sending for ${params.sliceMs} ms (${results.samplesPerSlice} messages), in rotating order, ` +
      `${params.turns} turns in all, and the p50 ratio is taken within each turn.`,
    '',
    '| | ours µs | raw ws µs | ours / raw |',
    '|---|---|---|---|',
    `| p50 | ${us(v.ours.all.p50Us)} | ${us(v.raw.all.p50Us)} | ${ratioCell(r)} (middle half ${r.p25.toFixed(2)}–${r.p75.toFixed(2)}) ${verdict(r, GOAL_P50, true)} ≤ ${GOAL_P50} |`,
    `| p99 | ${us(v.ours.all.p99Us)} | ${us(v.raw.all.p99Us)} | ${ratios['p99 ours/raw (pooled)'].toFixed(2)} |`,
    `| max | ${us(v.ours.all.maxUs)} | ${us(v.raw.all.maxUs)} | – |`,
    `| p50 per slice | ${us(v.ours.slicesP50Us.median)} (${us(v.ours.slicesP50Us.min)}–${us(v.ours.slicesP50Us.max)}) | ${us(v.raw.slicesP50Us.median)} (${us(v.raw.slicesP50Us.min)}–${us(v.raw.slicesP50Us.max)}) | – |`,
    '',
    'p50, p99 and max pool every slice of a variant; the ratio column for p50 is the median over turns of the per-turn ratio (lowest–highest turn).',
  ].join('\n');
}
