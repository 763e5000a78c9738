/**
 * Throughput worker → hub: messages per second delivered to the hub's handler
 * and acked back to the worker, for three payload sizes, ours against raw
 * `ws`. Hub, worker and baselines share one process, so a message's cost is
 * both ends' CPU, the same for every variant.
 */
import { collectGarbage, cpuSince, payloadOf, startPair, until } from './fixture.js';
import { startRawPair } from './raw-ws.js';
import { pairedRatio, rotation, summarize } from './stats.js';

export const title = 'Throughput worker → hub';

const SIZES = [64, 1024, 16 * 1024];
// Messages per measurement, sized for roughly half a second to a second each.
const MESSAGES = { 64: 40_000, 1024: 30_000, [16 * 1024]: 8_000 };
const VARIANTS = ['ours', 'ours-hwm64', 'raw', 'raw+acks'];
// Diagnostic variant: the worker's socket high watermark raised from 1 MiB to 64 MiB, so the link never
// waits in its drain poll. Its gain over `ours` is what that poll costs.
const BIG_WATERMARK = { worker: { highWatermarkBytes: 64 * 1024 * 1024 } };

/**
 * One measurement of ours: `await worker.send()` in a loop, done when the
 * handler saw every message and the outbox is empty (every ack arrived).
 * `setup(pair)` may attach instrumentation before the clock starts.
 */
export async function measureOurs({ bytes, messages, setup, pairOptions }) {
  let delivered = 0;
  const pair = await startPair(() => {
    delivered++;
  }, pairOptions);
  const teardown = (await setup?.(pair)) ?? (() => {});
  const payload = payloadOf(bytes);
  const { worker } = pair;
  collectGarbage();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < messages; i++) await worker.send(payload);
  await until(() => delivered === messages && worker.session.outbox.size === 0, {
    what: `${messages} messages delivered and acked`,
  });
  const elapsedMs = performance.now() - t0;
  const cpuUs = cpuSince(cpu0);
  await teardown();
  await pair.stop();
  return result(messages, elapsedMs, cpuUs);
}

/** One measurement of a raw `ws` baseline; done when the server parsed every frame (and acked it). */
export async function measureRaw({ bytes, messages, acks }) {
  let delivered = 0;
  const pair = await startRawPair(
    () => {
      delivered++;
    },
    { acks },
  );
  const payload = payloadOf(bytes);
  collectGarbage();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < messages; i++) {
    const wait = pair.send(payload);
    if (wait) await wait;
  }
  await until(() => delivered === messages && (!acks || pair.acked === messages), {
    what: `${messages} raw frames delivered`,
  });
  const elapsedMs = performance.now() - t0;
  const cpuUs = cpuSince(cpu0);
  await pair.stop();
  return result(messages, elapsedMs, cpuUs);
}

function result(messages, elapsedMs, cpuUs) {
  return {
    msgsPerSec: (messages / elapsedMs) * 1000,
    cpuUsPerMsg: cpuUs / messages,
    elapsedMs,
  };
}

function measure(variant, bytes, messages) {
  if (variant === 'ours') return measureOurs({ bytes, messages });
  if (variant === 'ours-hwm64') return measureOurs({ bytes, messages, pairOptions: BIG_WATERMARK });
  return measureRaw({ bytes, messages, acks: variant === 'raw+acks' });
}

export async function run({ rounds, quick, log }) {
  const scale = quick ? 0.25 : 1;
  const results = [];
  for (const bytes of SIZES) {
    const messages = Math.round(MESSAGES[bytes] * scale);
    // Warm-up: JIT and socket paths, not recorded.
    for (const v of VARIANTS) await measure(v, bytes, Math.round(messages / 4));
    const raw = Object.fromEntries(VARIANTS.map((v) => [v, []]));
    for (let r = 0; r < rounds; r++) {
      for (const v of rotation(VARIANTS, r)) raw[v].push(await measure(v, bytes, messages));
    }
    const rate = (v) => raw[v].map((m) => m.msgsPerSec);
    const cpu = (v) => raw[v].map((m) => m.cpuUsPerMsg);
    const entry = {
      payloadBytes: bytes,
      messages,
      variants: Object.fromEntries(
        VARIANTS.map((v) => [v, { msgsPerSec: summarize(rate(v)), cpuUsPerMsg: summarize(cpu(v)) }]),
      ),
      ratios: {
        'ours/raw': pairedRatio(rate('ours'), rate('raw')),
        'ours/raw+acks': pairedRatio(rate('ours'), rate('raw+acks')),
        'cpu ours/raw': pairedRatio(cpu('ours'), cpu('raw')),
        'ours-hwm64/ours': pairedRatio(rate('ours-hwm64'), rate('ours')),
      },
    };
    results.push(entry);
    log(
      `throughput ${label(bytes)}: ours ${fmtRate(entry.variants.ours.msgsPerSec.median)}, ` +
        `raw ${fmtRate(entry.variants.raw.msgsPerSec.median)}, ` +
        `raw+acks ${fmtRate(entry.variants['raw+acks'].msgsPerSec.median)} msg/s; ` +
        `ours/raw ${entry.ratios['ours/raw'].median.toFixed(2)} ` +
        `(${entry.ratios['ours/raw'].min.toFixed(2)}–${entry.ratios['ours/raw'].max.toFixed(2)}), ` +
        `ours/raw+acks ${entry.ratios['ours/raw+acks'].median.toFixed(2)}; ` +
        `64 MiB watermark ×${entry.ratios['ours-hwm64/ours'].median.toFixed(2)}`,
    );
  }
  const summary = results
    .map((e) => `${label(e.payloadBytes)} ${e.ratios['ours/raw'].median.toFixed(2)}×`)
    .join(', ');
  return { params: { sizes: SIZES, rounds, variants: VARIANTS }, results, summary: `ours/raw ${summary}` };
}

export function markdown({ results }) {
  const rows = results.map((e) => {
    const v = e.variants;
    const ratio = (k) =>
      `**${e.ratios[k].median.toFixed(2)}** (${e.ratios[k].min.toFixed(2)}–${e.ratios[k].max.toFixed(2)})`;
    return `| ${label(e.payloadBytes)} | ${cell(v.ours.msgsPerSec)} | ${cell(v.raw.msgsPerSec)} | ${cell(v['raw+acks'].msgsPerSec)} | ${ratio('ours/raw')} | ${ratio('ours/raw+acks')} | ${v.ours.cpuUsPerMsg.median.toFixed(1)} / ${v.raw.cpuUsPerMsg.median.toFixed(1)} | ${cell(v['ours-hwm64'].msgsPerSec)}, ×${e.ratios['ours-hwm64/ours'].median.toFixed(2)} |`;
  });
  return [
    '| payload | ours msg/s | raw ws msg/s | raw ws + acks msg/s | ours / raw | ours / raw+acks | CPU µs/msg ours / raw | diagnostic: ours with 64 MiB watermark, vs ours |',
    '|---|---|---|---|---|---|---|---|',
    ...rows,
    '',
    'msg/s: median ± half the range of the rounds. Ratios: median (lowest–highest round) of the per-round ratios.',
  ].join('\n');
}

/** `median ±spread%` of a rate. */
function cell(s) {
  return `${fmtRate(s.median)} ±${Math.round(s.spreadPct / 2)}%`;
}

export function fmtRate(v) {
  return v >= 10_000 ? `${Math.round(v / 1000)}k` : `${(v / 1000).toFixed(1)}k`;
}

export function label(bytes) {
  return bytes >= 1024 ? `${bytes / 1024} KiB` : `${bytes} B`;
}
