/**
 * What instrumentation costs per message, on the throughput path of both
 * ends (64 B payloads, where a fixed per-message cost shows most):
 *
 * - `none`: no instrumentation attached.
 * - `no-sdk`: `instrument()` on hub and worker with the global providers and
 *   no SDK registered, so every meter and tracer is the API's no-op.
 * - `sdk`: `instrument()` with a real MeterProvider (periodic reader, 1 s,
 *   in-memory exporter) and TracerProvider (AlwaysOn sampler, simple
 *   processor, in-memory exporter), passed as options so the globals stay
 *   empty for `no-sdk` in the same process.
 *
 * CPU time comes from process.cpuUsage() over the measurement, divided by
 * the messages delivered; it covers both ends and the socket work.
 */
import {
  AggregationTemporality,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics';
import {
  AlwaysOnSampler,
  InMemorySpanExporter,
  SimpleSpanProcessor,
  TracerProvider,
} from '@opentelemetry/sdk-trace';
import { LinkEvents } from '../dist/link/events.js';
import { instrument } from '../dist/telemetry/instrumentation.js';
import { collectGarbage, cpuSince } from './fixture.js';
import { pairedDiff, pairedRatio, rotation, summarize } from './stats.js';
import { fmtRate, measureOurs } from './throughput.js';

export const title = 'Telemetry overhead';

const BYTES = 64;
const MESSAGES = 30_000;
const VARIANTS = ['none', 'no-sdk', 'sdk'];

function attach(pair, providers) {
  const { hub, worker } = pair;
  return [
    instrument(hub, { side: 'hub', hubId: hub.hubId, ...providers }),
    instrument(worker, { side: 'worker', ...providers }),
  ];
}

/** Instrumentation on the global providers, with no SDK registered: the API's no-ops. */
function noSdkSetup(pair) {
  const telemetry = attach(pair, {});
  return () => {
    for (const t of telemetry) t.dispose();
  };
}

/** Attaches the variant's instrumentation to a hub and worker; returns its teardown, if any. */
function setupFor(variant, counts) {
  if (variant === 'no-sdk') return noSdkSetup;
  if (variant === 'sdk') return sdkSetup(counts);
  return undefined;
}

/** A real SDK pipeline that keeps no more than a moment's spans in memory; counts what it saw. */
function sdkSetup(counts) {
  return (pair) => {
    const metricExporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
    const meterProvider = new MeterProvider({
      readers: [new PeriodicExportingMetricReader({ exporter: metricExporter, exportIntervalMillis: 1000 })],
    });
    const spans = new InMemorySpanExporter();
    const tracerProvider = new TracerProvider({
      sampler: new AlwaysOnSampler(),
      spanProcessors: [new SimpleSpanProcessor({ exporter: spans })],
    });
    const telemetry = attach(pair, { meterProvider, tracerProvider });
    // The in-memory exporter keeps every span; drain it so memory stays flat.
    const drain = () => {
      counts.spans += spans.getFinishedSpans().length;
      spans.reset();
    };
    const timer = setInterval(drain, 100);
    return async () => {
      clearInterval(timer);
      for (const t of telemetry) t.dispose();
      await meterProvider.forceFlush();
      drain();
      counts.metricExports += metricExporter.getMetrics().length;
      await meterProvider.shutdown();
      await tracerProvider.shutdown();
    };
  };
}

/**
 * The instrumentation alone, without sockets: a hub and a worker target
 * whose link events are emitted by hand in the order the core emits them
 * for one message (worker: send hook, data-sent, data-acked per 64; hub:
 * data-received, queue-enqueued, queue-started, around hook,
 * queue-completed), built the way the core builds them. With no
 * per-message listener the core builds none of these events (telemetry
 * subscribes to them only while an SDK records), so this is the whole
 * added cost. Less
 * noisy than the end-to-end numbers, but it mirrors the core by hand.
 */
export async function microUsPerMessage(variant, messages) {
  const counts = { spans: 0, metricExports: 0 };
  const targets = ['hub', 'worker'].map(() => {
    const events = new LinkEvents();
    const hooks = {};
    return {
      events,
      target: {
        hooks,
        on: (l, scope) => events.subscribe(l, scope),
        sessions: () => new Map(),
        linkOf: () => undefined,
      },
    };
  });
  const [hub, worker] = targets;
  const pair = { hub: { ...hub.target, hubId: 'hub-1' }, worker: worker.target };
  const teardown = setupFor(variant, counts)?.(pair) ?? (() => {});
  const session = { workerId: 'w1', hubId: 'hub-1' };
  const hubBase = () => ({ side: 'hub', workerId: 'w1', hubId: 'hub-1', at: performance.now() });
  const workerBase = () => ({ side: 'worker', workerId: 'w1', hubId: 'hub-1', at: performance.now() });
  const noop = () => Promise.resolve();
  collectGarbage();
  const cpu0 = process.cpuUsage();
  for (let seq = 1; seq <= messages; seq++) {
    const trace = worker.target.hooks.send?.(session);
    trace?.queued(seq, 'queued');
    if (worker.events.perMessage)
      worker.events.emit({ ...workerBase(), type: 'data-sent', seq, bytes: 64, replay: false });
    if (hub.events.perMessage) {
      hub.events.emit({ ...hubBase(), type: 'data-received', seq, bytes: 64 });
      hub.events.emit({
        ...hubBase(),
        type: 'queue-enqueued',
        seq,
        depth: 1,
        traceparent: trace?.traceparent,
      });
      hub.events.emit({ ...hubBase(), type: 'queue-started', seq, waitMs: 0.01 });
    }
    const message = { workerId: 'w1', stream: 's', seq, payload: null };
    const around = hub.target.hooks.around;
    if (around) await around(message, trace?.traceparent, noop);
    else await noop();
    if (hub.events.perMessage)
      hub.events.emit({ ...hubBase(), type: 'queue-completed', seq, durationMs: 0.01 });
    if (seq % 64 === 0 && worker.events.perMessage)
      worker.events.emit({ ...workerBase(), type: 'data-acked', seq, released: 64 });
  }
  const cpuUs = cpuSince(cpu0);
  await teardown();
  return cpuUs / messages;
}

function measure(variant, messages, counts) {
  const setup = setupFor(variant, counts);
  return measureOurs({ bytes: BYTES, messages, setup });
}

/** Socket-free instrumentation cost per message (µs CPU), same rounds and rotation as end to end. */
async function micro(rounds, quick) {
  const messages = quick ? 10_000 : 30_000;
  for (const v of VARIANTS) await microUsPerMessage(v, messages / 4);
  const raw = { none: [], 'no-sdk': [], sdk: [] };
  for (let r = 0; r < rounds; r++) {
    for (const v of rotation(VARIANTS, r)) raw[v].push(await microUsPerMessage(v, messages));
  }
  return {
    messages,
    cpuUsPerMsg: Object.fromEntries(VARIANTS.map((v) => [v, summarize(raw[v])])),
    overheadCpuUsPerMsg: {
      'no-sdk': pairedDiff(raw['no-sdk'], raw.none),
      sdk: pairedDiff(raw.sdk, raw.none),
    },
  };
}

export async function run({ rounds: baseRounds, quick, log }) {
  // The differences measured here are a few percent, so this one takes twice the rounds.
  const rounds = baseRounds * 2;
  const messages = quick ? MESSAGES / 4 : MESSAGES;
  const counts = { spans: 0, metricExports: 0 };
  for (const v of VARIANTS) await measure(v, messages / 4, counts);
  const warmSpans = counts.spans;
  const raw = { none: [], 'no-sdk': [], sdk: [] };
  for (let r = 0; r < rounds; r++) {
    for (const v of rotation(VARIANTS, r)) raw[v].push(await measure(v, messages, counts));
  }
  const rate = (v) => raw[v].map((m) => m.msgsPerSec);
  const cpu = (v) => raw[v].map((m) => m.cpuUsPerMsg);
  const results = {
    variants: Object.fromEntries(
      VARIANTS.map((v) => [v, { msgsPerSec: summarize(rate(v)), cpuUsPerMsg: summarize(cpu(v)) }]),
    ),
    overheadCpuUsPerMsg: {
      'no-sdk': pairedDiff(cpu('no-sdk'), cpu('none')),
      sdk: pairedDiff(cpu('sdk'), cpu('none')),
    },
    cpuRatio: {
      'no-sdk/none': pairedRatio(cpu('no-sdk'), cpu('none')),
      'sdk/none': pairedRatio(cpu('sdk'), cpu('none')),
    },
    throughputRatio: {
      'no-sdk/none': pairedRatio(rate('no-sdk'), rate('none')),
      'sdk/none': pairedRatio(rate('sdk'), rate('none')),
    },
    micro: await micro(rounds, quick),
    // Sanity check that the sdk variant really records: spans per message sent.
    sdkSpansPerMessage: (counts.spans - warmSpans) / (messages * rounds),
    sdkMetricExports: counts.metricExports,
  };
  const o = results.overheadCpuUsPerMsg;
  const summary =
    `no SDK: +${o['no-sdk'].median.toFixed(2)} µs CPU/msg (×${results.cpuRatio['no-sdk/none'].median.toFixed(3)} CPU, ` +
    `×${results.throughputRatio['no-sdk/none'].median.toFixed(3)} throughput); ` +
    `with SDK: +${o.sdk.median.toFixed(1)} µs/msg (×${results.cpuRatio['sdk/none'].median.toFixed(2)} CPU, ` +
    `×${results.throughputRatio['sdk/none'].median.toFixed(2)} throughput); ` +
    `socket-free: no SDK +${results.micro.overheadCpuUsPerMsg['no-sdk'].median.toFixed(2)} µs/msg, ` +
    `SDK +${results.micro.overheadCpuUsPerMsg.sdk.median.toFixed(1)} µs/msg`;
  log(`telemetry ${summary}`);
  return { params: { payloadBytes: BYTES, messages, rounds, variants: VARIANTS }, results, summary };
}

export function markdown({ results, params }) {
  const v = results.variants;
  const r = (s, digits = 3) =>
    `**${s.median.toFixed(digits)}** (${s.min.toFixed(digits)}–${s.max.toFixed(digits)})`;
  const us = (s) =>
    `${s.median >= 0 ? '+' : ''}${s.median.toFixed(2)} (${s.min.toFixed(2)} to ${s.max.toFixed(2)})`;
  const row = (name, key) =>
    `| ${name} | ${fmtRate(v[key].msgsPerSec.median)} | ${v[key].cpuUsPerMsg.median.toFixed(2)} | ${
      key === 'none' ? '–' : us(results.overheadCpuUsPerMsg[key])
    } | ${key === 'none' ? '–' : r(results.cpuRatio[`${key}/none`])} | ${
      key === 'none' ? '–' : r(results.throughputRatio[`${key}/none`])
    } |`;
  return [
    `${params.payloadBytes} B payloads, ${params.messages} messages per round, hub and worker both instrumented.`,
    '',
    '| variant | msg/s | CPU µs/msg | overhead µs/msg vs (a) | CPU ratio vs (a) | throughput ratio vs (a) |',
    '|---|---|---|---|---|---|',
    row('(a) no instrumentation', 'none'),
    row('(b) instrument(), no SDK registered', 'no-sdk'),
    row('(c) instrument() with SDK (AlwaysOn, simple processor)', 'sdk'),
    '',
    `Instrumentation alone, no sockets (the core's event sequence for one message replayed by hand, ${results.micro.messages} messages per round): ` +
      `no SDK ${us(results.micro.overheadCpuUsPerMsg['no-sdk'])} µs/msg, SDK ${us(results.micro.overheadCpuUsPerMsg.sdk)} µs/msg.`,
    '',
    `The SDK variant recorded ${results.sdkSpansPerMessage.toFixed(2)} spans per message (a producer span on the worker, a consumer span on the hub).`,
  ].join('\n');
}
