import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SpanStatusCode } from '@opentelemetry/api';
import {
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
  TracerProvider,
} from '@opentelemetry/sdk-trace';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { instrument } from '../../../src/telemetry/instrumentation.js';
import { fakeTarget } from '../telemetry/fake-target.js';

/**
 * The gateway's tail_sampling policies, evaluated on spans the link
 * instrumentation records: the conditions must match what the code emits
 * (span names, the heartbeat outcome attribute, error statuses), not only
 * parse.
 */

interface Policy {
  name: string;
  type: string;
  status_code?: { status_codes: string[] };
  string_attribute?: { key: string; values: string[] };
  ottl_condition?: { span: string[] };
  probabilistic?: { sampling_percentage: number };
}

const gateway = parse(
  readFileSync(join(import.meta.dirname, '../../../collector-config/gateway.yaml'), 'utf8'),
);
const policies: Policy[] = gateway.processors.tail_sampling.policies;

/** Whether a deterministic policy keeps a span; probabilistic policies are left out (undefined). */
function keeps(policy: Policy, span: ReadableSpan): boolean | undefined {
  switch (policy.type) {
    case 'status_code':
      return policy.status_code!.status_codes.includes(SpanStatusCode[span.status.code]);
    case 'string_attribute': {
      const v = span.attributes[policy.string_attribute!.key];
      return typeof v === 'string' && policy.string_attribute!.values.includes(v);
    }
    case 'ottl_condition':
      return policy.ottl_condition!.span.some((cond) => {
        const m = /^name == "([^"]+)"$/.exec(cond);
        if (!m) throw new Error(`the test cannot evaluate OTTL condition ${cond}: extend it`);
        return span.name === m[1];
      });
    case 'probabilistic':
      return undefined;
    default:
      throw new Error(`the test cannot evaluate policy type ${policy.type}: extend it`);
  }
}

/** A trace is kept for sure when any deterministic policy keeps any of its spans. */
function keptForSure(trace: ReadableSpan[]): string[] {
  return policies.filter((p) => trace.some((s) => keeps(p, s) === true)).map((p) => p.name);
}

function traces(spans: ReadableSpan[]): Map<string, ReadableSpan[]> {
  const out = new Map<string, ReadableSpan[]>();
  for (const s of spans) {
    const id = s.spanContext().traceId;
    out.set(id, [...(out.get(id) ?? []), s]);
  }
  return out;
}

let provider: TracerProvider | undefined;
afterAll(async () => {
  await provider?.shutdown();
});

describe("the gateway's tail sampling on spans linkwatch records", () => {
  const exporter = new InMemorySpanExporter();
  provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
  // Ratio 1: the head keeps everything, so the tail policies see healthy spans too.
  const hub = fakeTarget('hub');
  const worker = fakeTarget('worker');
  const hubTelemetry = instrument(hub, {
    side: 'hub',
    hubId: 'hub-1',
    tracerProvider: provider,
    traceSampleRatio: 1,
  });
  const workerTelemetry = instrument(worker, {
    side: 'worker',
    tracerProvider: provider,
    traceSampleRatio: 1,
  });

  function record(): Record<string, ReadableSpan[]> {
    exporter.reset();
    const out: Record<string, ReadableSpan[]> = {};
    const take = (name: string) => {
      out[name] = exporter.getFinishedSpans();
      exporter.reset();
    };
    hub.emit('w1', { type: 'heartbeat-sent', id: 1 });
    hub.emit('w1', { type: 'heartbeat-rtt', rttMs: 1 });
    take('healthy heartbeat');
    hub.emit('w1', { type: 'heartbeat-sent', id: 2 });
    hub.emit('w1', { type: 'heartbeat-rtt', rttMs: 900 });
    take('slow heartbeat');
    hub.emit('w1', { type: 'heartbeat-sent', id: 3 });
    hub.emit('w1', { type: 'heartbeat-missed', consecutive: 1, limit: 3 });
    take('missed heartbeat');
    hub.emit('w1', { type: 'heartbeat-sent', id: 4 });
    hub.emit('w1', { type: 'heartbeat-sent', id: 5 });
    take('overtaken heartbeat');
    const url = 'ws://127.0.0.1:1/';
    worker.emit('w1', {
      type: 'disconnected',
      errorType: 'LW_ERR_HEARTBEAT_TIMEOUT',
      closeCode: undefined,
      uptimeMs: 1,
    });
    worker.emit('w1', {
      type: 'reconnect-scheduled',
      attempt: 1,
      delayMs: 5,
      url,
      errorType: 'LW_ERR_HEARTBEAT_TIMEOUT',
    });
    worker.emit('w1', { type: 'dialing', url, attempt: 1 });
    worker.emit('w1', { type: 'connected', url, epoch: 2, handshakeMs: 2, replayed: 0, peerProcessed: 0 });
    take('reconnect');
    return out;
  }

  /** Handler calls through the around hook, as the work queue makes them. */
  async function recordMessages(out: Record<string, ReadableSpan[]>) {
    const message = (seq: number) => ({ workerId: 'w1', stream: 's', seq, payload: null });
    await hub.hooks.around?.(message(1), undefined, async () => {});
    out['healthy message'] = exporter.getFinishedSpans();
    exporter.reset();
    // A hung handler: the queue's deadline fails it while the call is still running.
    void hub.hooks.around?.(message(2), undefined, () => new Promise(() => {}));
    hub.emit('w1', { type: 'queue-failed', seq: 2, durationMs: 1, errorType: 'LW_ERR_HANDLER_TIMEOUT' });
    out['failed message'] = exporter.getFinishedSpans();
    exporter.reset();
  }

  const recorded = record();
  beforeAll(() => recordMessages(recorded));
  afterAll(() => {
    hubTelemetry.dispose();
    workerTelemetry.dispose();
  });

  it('recorded one or more spans for every case', () => {
    for (const [name, spans] of Object.entries(recorded)) expect(spans.length, name).toBeGreaterThan(0);
  });

  it.each([
    ['slow heartbeat', 'anomalous-heartbeats'],
    ['missed heartbeat', 'errors'],
    ['overtaken heartbeat', 'anomalous-heartbeats'],
    ['reconnect', 'lifecycle'],
    ['failed message', 'errors'],
  ])('keeps every %s trace (policy %s)', (name, policy) => {
    for (const trace of traces(recorded[name]!).values()) expect(keptForSure(trace)).toContain(policy);
  });

  it.each(['healthy heartbeat', 'healthy message'])(
    'keeps a %s only by the small probabilistic share',
    (name) => {
      for (const trace of traces(recorded[name]!).values()) expect(keptForSure(trace)).toEqual([]);
      const share = policies.filter((p) => p.type === 'probabilistic');
      expect(share).toHaveLength(1);
      expect(share[0]!.probabilistic!.sampling_percentage).toBeGreaterThan(0);
      expect(share[0]!.probabilistic!.sampling_percentage).toBeLessThanOrEqual(10);
    },
  );

  it('runs in the traces pipeline, after the memory limiter and before batching', () => {
    expect(gateway.service.pipelines.traces.processors).toEqual([
      'memory_limiter',
      'resource',
      'tail_sampling',
      'batch',
    ]);
  });
});
