/**
 * Throughput sender → receiver, in separate processes, for three payload
 * sizes: linkwatch (hub and worker, defaults, no telemetry) against raw
 * `ws`, raw `ws` with acks, Socket.IO 4 and NATS (core and JetStream), all in
 * the same rotating rounds. Every message reaches the receiving handler and,
 * where the transport acks, is acked before the clock stops. The producer
 * sends for a fixed time (`durationMs`), then drains; the rate is messages
 * delivered over the time to the last delivery or ack.
 */
import { findNatsServer, startNatsServer } from './nats-server.js';
import { measurePair } from './pair.js';
import { pairedRatio, rotation, summarize } from './stats.js';
import { fmtRate, label, rateCell, ratioCell, VARIANTS, verdict } from './variants.js';

export const title = 'Throughput worker → hub, separate processes';

const SIZES = [64, 1024, 16 * 1024];
const BASELINES = ['raw', 'raw+acks', 'socket.io', 'nats-core', 'nats-js'];
/** Issue 11's goals: ours / baseline at least this, per size. */
export const GOALS = {
  raw: { 64: 1.5, 1024: 1.0, [16 * 1024]: 0.9 },
  'socket.io': { 64: 2, 1024: 2, [16 * 1024]: 2 },
};

export async function run({ rounds, quick, log, variants: names }) {
  const durationMs = quick ? 300 : 1000;
  const warmupMs = quick ? 100 : 300;
  let variants = names ?? ['ours', ...BASELINES];
  let broker;
  let skipped;
  if (variants.some((v) => VARIANTS[v].broker)) {
    const found = findNatsServer(log);
    if (found.bin) {
      try {
        broker = await startNatsServer(found.bin);
      } catch (err) {
        skipped = `nats-server did not start (${err.message}); the NATS rows are skipped`;
      }
    } else skipped = found.why;
    if (skipped) {
      log(skipped);
      variants = variants.filter((v) => !VARIANTS[v].broker);
    }
  }
  const results = [];
  try {
    for (const bytes of SIZES) {
      const raw = Object.fromEntries(variants.map((v) => [v, []]));
      for (let r = 0; r < rounds; r++) {
        for (const v of rotation(variants, r)) {
          const m = await measurePair(VARIANTS[v], {
            warmup: { type: 'flood', bytes, durationMs: warmupMs },
            run: { type: 'flood', bytes, durationMs },
            broker: VARIANTS[v].broker ? broker : undefined,
          });
          if (m.lost > 0) log(`${v} ${label(bytes)}: ${m.lost} of ${m.sent} messages never arrived`);
          raw[v].push(m);
        }
      }
      const pick = (v, k) => raw[v].map((m) => m[k]);
      const entry = {
        payloadBytes: bytes,
        variants: Object.fromEntries(
          variants.map((v) => [
            v,
            {
              msgsPerSec: summarize(pick(v, 'msgsPerSec')),
              cpuUsPerMsg: summarize(pick(v, 'cpuUsPerMsg')),
              serverCpuUsPerMsg: summarize(pick(v, 'serverCpuUsPerMsg')),
              clientCpuUsPerMsg: summarize(pick(v, 'clientCpuUsPerMsg')),
              serverBusy: summarize(pick(v, 'serverBusy')),
              clientBusy: summarize(pick(v, 'clientBusy')),
              ...(VARIANTS[v].broker ? { brokerCpuUsPerMsg: summarize(pick(v, 'brokerCpuUsPerMsg')) } : {}),
              lost: raw[v].reduce((s, m) => s + m.lost, 0),
              rounds: raw[v],
            },
          ]),
        ),
        ratios: {},
      };
      if (raw.ours) {
        for (const b of variants.filter((v) => v !== 'ours')) {
          entry.ratios[`ours/${b}`] = pairedRatio(pick('ours', 'msgsPerSec'), pick(b, 'msgsPerSec'));
          entry.ratios[`cpu ours/${b}`] = pairedRatio(pick('ours', 'cpuUsPerMsg'), pick(b, 'cpuUsPerMsg'));
        }
      }
      results.push(entry);
      log(
        `throughput ${label(bytes)}: ${variants.map((v) => `${v} ${fmtRate(entry.variants[v].msgsPerSec.median)}`).join(', ')} msg/s; ` +
          Object.entries(entry.ratios)
            .filter(([k]) => !k.startsWith('cpu'))
            .map(([k, s]) => `${k} ${s.median.toFixed(2)}`)
            .join(', '),
      );
    }
  } finally {
    await broker?.stop();
  }
  const summary = results
    .map(
      (e) =>
        `${label(e.payloadBytes)} ours/raw ${e.ratios['ours/raw']?.median.toFixed(2) ?? '–'}× ours/socket.io ${e.ratios['ours/socket.io']?.median.toFixed(2) ?? '–'}×`,
    )
    .join('; ');
  return {
    params: { sizes: SIZES, rounds, durationMs, warmupMs, variants, natsServer: broker?.version, skipped },
    goals: GOALS,
    results,
    summary,
  };
}

export function markdown({ results, params }) {
  const variants = params.variants;
  const baselines = variants.filter((v) => v !== 'ours');
  const rates = results.map(
    (e) =>
      `| ${label(e.payloadBytes)} | ${variants.map((v) => rateCell(e.variants[v].msgsPerSec)).join(' | ')} |`,
  );
  const ratios = results.map((e) => {
    const cells = baselines.map((b) => {
      const s = e.ratios[`ours/${b}`];
      const goal = GOALS[b]?.[e.payloadBytes];
      return goal === undefined ? ratioCell(s) : `${ratioCell(s)} ${verdict(s, goal)} ≥ ${goal}`;
    });
    cells.push(ratioCell(e.ratios['cpu ours/raw']));
    return `| ${label(e.payloadBytes)} | ${cells.join(' | ')} |`;
  });
  const busy = results.map((e) => {
    const pct = (s) => `${Math.round(s.median * 100)}%`;
    const cells = variants.map((v) => `${pct(e.variants[v].clientBusy)} / ${pct(e.variants[v].serverBusy)}`);
    return `| ${label(e.payloadBytes)} | ${cells.join(' | ')} |`;
  });
  const cpu = results.map((e) => {
    const cells = variants.map((v) => {
      const x = e.variants[v];
      const parts = `${x.clientCpuUsPerMsg.median.toFixed(1)} + ${x.serverCpuUsPerMsg.median.toFixed(1)}`;
      const broker = x.brokerCpuUsPerMsg ? ` + broker ${x.brokerCpuUsPerMsg.median.toFixed(1)}` : '';
      return `${x.cpuUsPerMsg.median.toFixed(1)} (${parts}${broker})`;
    });
    return `| ${label(e.payloadBytes)} | ${cells.join(' | ')} |`;
  });
  const lost = results.flatMap((e) =>
    variants
      .filter((v) => e.variants[v].lost > 0)
      .map((v) => `${v} at ${label(e.payloadBytes)}: ${e.variants[v].lost}`),
  );
  return [
    `${params.rounds} rounds of ${params.durationMs} ms per variant and size (after a ${params.warmupMs} ms warm-up in the same processes); ` +
      `sender and receiver in separate processes${params.natsServer ? `; ${params.natsServer}` : ''}.` +
      (params.skipped ? ` ${params.skipped}.` : ''),
    '',
    `| payload | ${variants.map((v) => `${v} msg/s`).join(' | ')} |`,
    `|---|${variants.map(() => '---').join('|')}|`,
    ...rates,
    '',
    'Ours / baseline, throughput ratio taken within each round: median (lowest–highest round); goals from issue 11.',
    '',
    `| payload | ${baselines.map((b) => `ours / ${b}`).join(' | ')} | CPU/msg ours / raw |`,
    `|---|${baselines.map(() => '---').join('|')}|---|`,
    ...ratios,
    '',
    'CPU µs per message delivered, medians: total (sender + receiver [+ NATS broker]).',
    '',
    `| payload | ${variants.join(' | ')} |`,
    `|---|${variants.map(() => '---').join('|')}|`,
    ...cpu,
    '',
    'Busy share of one core over the run, sender / receiver, medians (near 100%: that side is the limit).',
    '',
    `| payload | ${variants.join(' | ')} |`,
    `|---|${variants.map(() => '---').join('|')}|`,
    ...busy,
    ...(lost.length ? ['', `Messages lost (sent, never delivered): ${lost.join(', ')}.`] : []),
  ].join('\n');
}
