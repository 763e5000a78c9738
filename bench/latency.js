/**
 * Latency at a fixed, moderate rate, sender and receiver in separate
 * processes: from the moment the sender calls `send()` to the start of the
 * receiving handler (ours: the hub's handler; raw `ws`: the server's message
 * callback after `JSON.parse`). The payload carries the send time from
 * `process.hrtime` (CLOCK_MONOTONIC, shared by both processes on one
 * machine), so this is one-way latency, not a round trip halved.
 */
import { measurePair } from './pair.js';
import { pairedRatio, rotation, summarize } from './stats.js';
import { ratioCell, VARIANTS, verdict } from './variants.js';

export const title = 'Latency send() → handler, separate processes';

const RATE = 2000;
const BYTES = 256;
const NAMES = ['ours', 'raw'];
/** Issue 11: ours p50 at most this × raw's. */
export const GOAL_P50 = 1.2;

export async function run({ rounds, quick, log }) {
  const durationMs = quick ? 1000 : 2500;
  const raw = { ours: [], raw: [] };
  for (let r = 0; r < rounds; r++) {
    for (const v of rotation(NAMES, r)) {
      const m = await measurePair(VARIANTS[v], {
        warmup: { type: 'pace', bytes: BYTES, rate: RATE, durationMs: 300 },
        run: { type: 'pace', bytes: BYTES, rate: RATE, durationMs },
        latency: true,
      });
      if (m.lost > 0) throw new Error(`latency ${v}: ${m.lost} messages lost`);
      raw[v].push(m.latency);
    }
  }
  const pick = (v, k) => raw[v].map((m) => m[k]);
  const variants = Object.fromEntries(
    NAMES.map((v) => [
      v,
      {
        p50Us: summarize(pick(v, 'p50Us')),
        p99Us: summarize(pick(v, 'p99Us')),
        maxUs: summarize(pick(v, 'maxUs')),
      },
    ]),
  );
  const ratios = {
    'p50 ours/raw': pairedRatio(pick('ours', 'p50Us'), pick('raw', 'p50Us')),
    'p99 ours/raw': pairedRatio(pick('ours', 'p99Us'), pick('raw', 'p99Us')),
  };
  const o = variants.ours;
  const w = variants.raw;
  const summary =
    `at ${RATE} msg/s: ours p50 ${Math.round(o.p50Us.median)} µs p99 ${Math.round(o.p99Us.median)} µs, ` +
    `raw p50 ${Math.round(w.p50Us.median)} µs p99 ${Math.round(w.p99Us.median)} µs; ` +
    `p50 ours/raw ${ratios['p50 ours/raw'].median.toFixed(2)}, p99 ours/raw ${ratios['p99 ours/raw'].median.toFixed(2)}`;
  log(`latency ${summary}`);
  return {
    params: { rate: RATE, payloadBytes: BYTES, durationMs, warmupMs: 300, rounds, variants: NAMES },
    goals: { 'p50 ours/raw': `<= ${GOAL_P50}` },
    results: { variants, ratios, samplesPerRound: raw.ours[0]?.n, rounds: raw },
    summary,
  };
}

export function markdown({ results, params }) {
  const { variants: v, ratios } = results;
  const cell = (s) => `${Math.round(s.median)} (${Math.round(s.min)}–${Math.round(s.max)})`;
  return [
    `${params.rate} msg/s, ${params.payloadBytes} B payloads, ${results.samplesPerRound} samples per round ` +
      `(after a ${params.warmupMs} ms warm-up in the same processes); one-way, send() to handler start, on CLOCK_MONOTONIC.`,
    '',
    '| percentile | ours µs | raw ws µs | ours / raw |',
    '|---|---|---|---|',
    `| p50 | ${cell(v.ours.p50Us)} | ${cell(v.raw.p50Us)} | ${ratioCell(ratios['p50 ours/raw'])} ${verdict(ratios['p50 ours/raw'], GOAL_P50, true)} ≤ ${GOAL_P50} |`,
    `| p99 | ${cell(v.ours.p99Us)} | ${cell(v.raw.p99Us)} | ${ratioCell(ratios['p99 ours/raw'])} |`,
    `| max | ${cell(v.ours.maxUs)} | ${cell(v.raw.maxUs)} | – |`,
  ].join('\n');
}
