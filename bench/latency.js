/**
 * Latency at a fixed, moderate rate: from the `send()` call to the start of
 * the hub's handler (ours), or to the server's message callback after
 * `JSON.parse` (raw `ws`). The payload carries `performance.now()` at send;
 * both ends share the process, so the clocks agree.
 */
import { payloadOf, sleep, startPair } from './fixture.js';
import { startRawPair } from './raw-ws.js';
import { pairedRatio, quantile, rotation, summarize } from './stats.js';

export const title = 'Latency send() → handler';

const RATE = 2000;
const BYTES = 256;
const VARIANTS = ['ours', 'raw'];

/**
 * Sends at `rate` per second for `durationMs`, in small bursts on a 1 ms
 * timer (the burst is whatever came due since the last tick). Samples from
 * the first `warmupMs` are discarded.
 */
async function drive(send, samples, { rate, durationMs, warmupMs }) {
  const pad = payloadOf(BYTES).pad;
  const total = Math.round((rate * (durationMs + warmupMs)) / 1000);
  const start = performance.now();
  let sent = 0;
  while (sent < total) {
    const due = Math.min(total, Math.floor(((performance.now() - start) * rate) / 1000) + 1);
    while (sent < due) {
      const wait = send({ t: performance.now(), pad });
      sent++;
      if (wait) await wait;
    }
    await sleep(1);
  }
  // Let the tail arrive.
  await sleep(50);
  const skip = Math.round((rate * warmupMs) / 1000);
  return samples.slice(skip);
}

async function measure(variant, opts) {
  const samples = [];
  const record = (t) => samples.push(performance.now() - t);
  let kept;
  if (variant === 'ours') {
    const pair = await startPair((m) => record(m.payload.t));
    kept = await drive((p) => pair.worker.send(p), samples, opts);
    await pair.stop();
  } else {
    const pair = await startRawPair((f) => record(f.p.t));
    kept = await drive((p) => pair.send(p), samples, opts);
    await pair.stop();
  }
  const expected = Math.round((opts.rate * opts.durationMs) / 1000);
  if (kept.length < expected * 0.99) throw new Error(`${variant}: ${kept.length} of ${expected} samples`);
  return { p50: quantile(kept, 0.5), p99: quantile(kept, 0.99), max: Math.max(...kept), n: kept.length };
}

export async function run({ rounds, quick, log }) {
  const opts = { rate: RATE, durationMs: quick ? 1000 : 2500, warmupMs: 300 };
  for (const v of VARIANTS) await measure(v, { ...opts, durationMs: 300 });
  const raw = { ours: [], raw: [] };
  for (let r = 0; r < rounds; r++) {
    for (const v of rotation(VARIANTS, r)) raw[v].push(await measure(v, opts));
  }
  const pick = (v, k) => raw[v].map((m) => m[k]);
  const variants = Object.fromEntries(
    VARIANTS.map((v) => [
      v,
      {
        p50Ms: summarize(pick(v, 'p50')),
        p99Ms: summarize(pick(v, 'p99')),
        maxMs: summarize(pick(v, 'max')),
      },
    ]),
  );
  const ratios = {
    'p50 ours/raw': pairedRatio(pick('ours', 'p50'), pick('raw', 'p50')),
    'p99 ours/raw': pairedRatio(pick('ours', 'p99'), pick('raw', 'p99')),
  };
  const o = variants.ours;
  const w = variants.raw;
  const summary =
    `at ${RATE} msg/s: ours p50 ${ms(o.p50Ms.median)} p99 ${ms(o.p99Ms.median)}, ` +
    `raw p50 ${ms(w.p50Ms.median)} p99 ${ms(w.p99Ms.median)}; ` +
    `p50 ours/raw ${ratios['p50 ours/raw'].median.toFixed(2)}, p99 ours/raw ${ratios['p99 ours/raw'].median.toFixed(2)}`;
  log(`latency ${summary}`);
  return {
    params: { rate: RATE, payloadBytes: BYTES, ...opts, rounds, variants: VARIANTS },
    results: { variants, ratios, samplesPerRound: raw.ours[0]?.n },
    summary,
  };
}

export function markdown({ results, params }) {
  const { variants: v, ratios } = results;
  const row = (name, k) =>
    `| ${name} | ${cell(v.ours[k])} | ${cell(v.raw[k])} | ${
      ratios[`${name} ours/raw`] ? ratio(ratios[`${name} ours/raw`]) : '–'
    } |`;
  return [
    `${params.rate} msg/s, ${params.payloadBytes} B payloads, ${results.samplesPerRound} samples per round.`,
    '',
    '| percentile | ours µs | raw ws µs | ours / raw |',
    '|---|---|---|---|',
    row('p50', 'p50Ms'),
    row('p99', 'p99Ms'),
    row('max', 'maxMs'),
  ].join('\n');
}

function cell(s) {
  return `${us(s.median)} (${us(s.min)}–${us(s.max)})`;
}

function ratio(s) {
  return `**${s.median.toFixed(2)}** (${s.min.toFixed(2)}–${s.max.toFixed(2)})`;
}

/** Milliseconds shown as whole microseconds. */
function us(v) {
  return `${Math.round(v * 1000)}`;
}

function ms(v) {
  return `${Math.round(v * 1000)} µs`;
}
