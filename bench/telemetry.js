/**
 * What telemetry costs on the hot path (issue 9), hub and worker in separate
 * processes: ours with telemetry off (the library alone, nothing attached)
 * against ours with the CLI's own telemetry setup, `startTelemetry()` from
 * dist/cli/telemetry.js, which starts `@opentelemetry/sdk-node` and attaches
 * `instrument()` to the hub or worker before it listens or starts:
 *
 * - metrics: the embedded Prometheus exporter on a loopback port (the CLI's
 *   default; pull-based, so recording is the hot-path cost; each process is
 *   scraped once after the run to check the series are there);
 * - traces: OTLP over HTTP/protobuf (`OTEL_TRACES_EXPORTER=otlp`) into a
 *   loopback sink (bench/otlp-sink.js), with the sampler `SAMPLER` below
 *   (1% of traces, parent-based: the ratio issue 9 measured with), through
 *   sdk-node's default batch span processor.
 *
 * A third variant, `metrics`, is the same setup without OTEL_TRACES_EXPORTER:
 * sdk-node then registers no tracer provider, so it splits the cost between
 * metrics and tracing.
 *
 * The CLI has no flag that turns telemetry off (`--metrics-listen off` still
 * starts the SDK and instruments; the standard OTEL_SDK_DISABLED=true makes
 * sdk-node register nothing, but `instrument()` stays attached to the API's
 * no-ops), so every variant runs the library in bench/peer.js processes
 * rather than `linkwatch hub|worker`, and `off` attaches nothing at all.
 *
 * One size alone (after `npm run build`), as bench/child.js runs it:
 *
 *   node --expose-gc bench/child.js telemetry '{"rounds":7,"sizes":[64]}'
 */
import { freePort } from './free-port.js';
import { startOtlpSink } from './otlp-sink.js';
import { measurePair } from './pair.js';
import { pairedRatio, rotation, summarize } from './stats.js';
import { fmtRate, label, rateCell, ratioCell, VARIANTS, verdict } from './variants.js';

export const title = 'Telemetry cost, separate processes';

const SIZES = [64, 1024, 16 * 1024];
/** `metrics`: the same setup without traces (diagnostic: splits the cost between metrics and tracing). */
const NAMES = ['off', 'metrics', 'on'];
export const SAMPLER = { OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.01' };
/** Issue 9's goals at 64 B: on/off throughput at least, CPU per message at most. */
export const GOALS = { throughput: 0.9, cpu: 1.2 };

function envWithoutOtel() {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('OTEL_')));
}

async function variantFor(name, sinkUrl) {
  if (name === 'off') return { ...VARIANTS.ours, env: envWithoutOtel() };
  const traces = {
    OTEL_TRACES_EXPORTER: 'otlp',
    OTEL_EXPORTER_OTLP_ENDPOINT: sinkUrl,
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
    ...SAMPLER,
  };
  return {
    ...VARIANTS.ours,
    // Without OTEL_TRACES_EXPORTER the CLI's SDK registers no span processor: metrics only.
    env: { ...envWithoutOtel(), ...(name === 'on' ? traces : {}) },
    telemetry: { server: { metricsPort: await freePort() }, client: { metricsPort: await freePort() } },
  };
}

/**
 * One measurement; a metrics port another process took between freePort()
 * and the exporter's bind (EADDRINUSE) is a harness race, not a result, so
 * it is measured again on new ports, up to three times.
 */
async function measureWithFreshPorts(name, sinkUrl, plan) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await measurePair(await variantFor(name, sinkUrl), plan);
    } catch (err) {
      if (attempt >= 3 || !String(err?.message).includes('EADDRINUSE')) throw err;
    }
  }
}

export async function run({ rounds, quick, log, sizes = SIZES }) {
  const durationMs = quick ? 300 : 1000;
  const warmupMs = quick ? 100 : 300;
  const sink = await startOtlpSink();
  const results = [];
  const scrapes = [];
  try {
    for (const bytes of sizes) {
      const raw = Object.fromEntries(NAMES.map((v) => [v, []]));
      for (let r = 0; r < rounds; r++) {
        for (const v of rotation(NAMES, r)) {
          const m = await measureWithFreshPorts(v, sink.url, {
            warmup: { type: 'flood', bytes, durationMs: warmupMs },
            run: { type: 'flood', bytes, durationMs },
          });
          if (m.lost > 0) throw new Error(`telemetry ${v}: ${m.lost} messages lost`);
          if (v !== 'off') scrapes.push({ hub: m.serverTelemetry, worker: m.clientTelemetry });
          raw[v].push(m);
        }
      }
      const pick = (v, k) => raw[v].map((m) => m[k]);
      const entry = {
        payloadBytes: bytes,
        variants: Object.fromEntries(
          NAMES.map((v) => [
            v,
            {
              msgsPerSec: summarize(pick(v, 'msgsPerSec')),
              cpuUsPerMsg: summarize(pick(v, 'cpuUsPerMsg')),
              serverCpuUsPerMsg: summarize(pick(v, 'serverCpuUsPerMsg')),
              clientCpuUsPerMsg: summarize(pick(v, 'clientCpuUsPerMsg')),
              rounds: raw[v],
            },
          ]),
        ),
        ratios: {
          'throughput on/off': pairedRatio(pick('on', 'msgsPerSec'), pick('off', 'msgsPerSec')),
          'cpu on/off': pairedRatio(pick('on', 'cpuUsPerMsg'), pick('off', 'cpuUsPerMsg')),
          'hub cpu on/off': pairedRatio(pick('on', 'serverCpuUsPerMsg'), pick('off', 'serverCpuUsPerMsg')),
          'worker cpu on/off': pairedRatio(pick('on', 'clientCpuUsPerMsg'), pick('off', 'clientCpuUsPerMsg')),
          'throughput metrics/off': pairedRatio(pick('metrics', 'msgsPerSec'), pick('off', 'msgsPerSec')),
          'cpu metrics/off': pairedRatio(pick('metrics', 'cpuUsPerMsg'), pick('off', 'cpuUsPerMsg')),
        },
      };
      results.push(entry);
      log(
        `telemetry ${label(bytes)}: off ${fmtRate(entry.variants.off.msgsPerSec.median)}, metrics ${fmtRate(entry.variants.metrics.msgsPerSec.median)}, on ${fmtRate(entry.variants.on.msgsPerSec.median)} msg/s; ` +
          `throughput on/off ${entry.ratios['throughput on/off'].median.toFixed(2)}, CPU/msg on/off ${entry.ratios['cpu on/off'].median.toFixed(2)}`,
      );
    }
  } finally {
    await sink.stop();
  }
  const series = scrapes.map((s) => (s.hub?.linkwatchSeries ?? 0) + (s.worker?.linkwatchSeries ?? 0));
  if (series.some((n) => n === 0)) throw new Error('a telemetry-on run exported no linkwatch_ series');
  const summary = results
    .map(
      (e) =>
        `${label(e.payloadBytes)} throughput on/off ${e.ratios['throughput on/off'].median.toFixed(2)} CPU ${e.ratios['cpu on/off'].median.toFixed(2)}×`,
    )
    .join('; ');
  return {
    params: { sizes, rounds, durationMs, warmupMs, sampler: SAMPLER, metrics: 'prometheus (pull)' },
    goals: { '64 B throughput on/off': `>= ${GOALS.throughput}`, '64 B cpu on/off': `<= ${GOALS.cpu}` },
    results,
    exported: {
      traces: sink.received.traces ?? { requests: 0, bytes: 0 },
      scrape: scrapes.at(-1),
    },
    summary,
  };
}

export function markdown({ results, params, exported }) {
  const rows = results.map((e) => {
    const v = e.variants;
    const is64 = e.payloadBytes === 64;
    const tp = e.ratios['throughput on/off'];
    const cpu = e.ratios['cpu on/off'];
    return (
      `| ${label(e.payloadBytes)} | ${rateCell(v.off.msgsPerSec)} | ${rateCell(v.on.msgsPerSec)} | ` +
      `${ratioCell(tp)}${is64 ? ` ${verdict(tp, GOALS.throughput)} ≥ ${GOALS.throughput}` : ''} | ` +
      `${v.off.cpuUsPerMsg.median.toFixed(1)} → ${v.on.cpuUsPerMsg.median.toFixed(1)} | ` +
      `${ratioCell(cpu)}${is64 ? ` ${verdict(cpu, GOALS.cpu, true)} ≤ ${GOALS.cpu}` : ''} | ` +
      `${ratioCell(e.ratios['hub cpu on/off'])} / ${ratioCell(e.ratios['worker cpu on/off'])} |`
    );
  });
  const s = exported.scrape;
  return [
    `Off: no telemetry. On: the CLI's \`startTelemetry()\` (sdk-node, Prometheus exporter, OTLP/HTTP traces to a loopback sink, ` +
      `sampler \`${params.sampler.OTEL_TRACES_SAMPLER}\` ${params.sampler.OTEL_TRACES_SAMPLER_ARG}). ` +
      `${params.rounds} rounds of ${params.durationMs} ms per variant and size; goals from issue 9 (at 64 B).`,
    '',
    '| payload | off msg/s | on msg/s | throughput on / off | CPU µs/msg off → on | CPU on / off | CPU on / off: hub / worker |',
    '|---|---|---|---|---|---|---|',
    ...rows,
    '',
    'Diagnostic, the same rounds: metrics only (the SDK with the Prometheus exporter, no traces exporter), against off.',
    '',
    '| payload | metrics msg/s | throughput metrics / off | CPU µs/msg off → metrics → on | CPU metrics / off |',
    '|---|---|---|---|---|',
    ...results.map((e) => {
      const v = e.variants;
      return (
        `| ${label(e.payloadBytes)} | ${rateCell(v.metrics.msgsPerSec)} | ${ratioCell(e.ratios['throughput metrics/off'])} | ` +
        `${v.off.cpuUsPerMsg.median.toFixed(1)} → ${v.metrics.cpuUsPerMsg.median.toFixed(1)} → ${v.on.cpuUsPerMsg.median.toFixed(1)} | ` +
        `${ratioCell(e.ratios['cpu metrics/off'])} |`
      );
    }),
    '',
    `The sink received ${exported.traces.requests} trace exports (${Math.round(exported.traces.bytes / 1024)} KiB) over the run. ` +
      (s
        ? `A scrape after the last run: hub ${s.hub?.linkwatchSeries} \`linkwatch_\` lines (${Math.round((s.hub?.metricsBytes ?? 0) / 1024)} KiB), ` +
          `worker ${s.worker?.linkwatchSeries} (${Math.round((s.worker?.metricsBytes ?? 0) / 1024)} KiB).`
        : ''),
  ].join('\n');
}
