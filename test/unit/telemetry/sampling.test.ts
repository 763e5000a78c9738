import { context, SpanStatusCode, trace } from '@opentelemetry/api';
import { AlwaysOffSampler } from '@opentelemetry/sdk-trace';
import { describe, expect, it } from 'vitest';
import { tracingFromEnv } from '../../../src/cli/telemetry-sdk.js';
import type { Session } from '../../../src/link/session.js';
import { ATTR } from '../../../src/telemetry/catalog.js';
import { instrument, type TelemetryOptions } from '../../../src/telemetry/instrumentation.js';
import { HEARTBEAT_OUTCOME } from '../../../src/telemetry/link-spans.js';
import { type FakeTarget, fakeTarget } from './fake-target.js';
import { useSpanCapture } from './span-capture.js';

const capture = useSpanCapture();

function attach(side: 'hub' | 'worker', options: Partial<TelemetryOptions> = {}): FakeTarget {
  const target = fakeTarget(side);
  target.addWorkers(['w1']);
  capture.attached.push(
    instrument(target, { side, hubId: 'hub-1', tracerProvider: capture.tracerProvider, ...options }),
  );
  return target;
}

/** The fake target's session of w1: what the core passes to the send hook. */
const sessionOf = (t: FakeTarget) => t.sessionsMap.get('w1') as Session;
const named = (name: string) => capture.spans.getFinishedSpans().filter((s) => s.name === name);

describe('message spans are decided before they are built', () => {
  it('at ratio 0 the send hook builds no span and carries no traceparent', () => {
    const worker = attach('worker', { traceSampleRatio: 0 });
    for (let i = 0; i < 1000; i++) expect(worker.hooks.send?.(sessionOf(worker))).toBeUndefined();
    expect(capture.spans.getFinishedSpans()).toEqual([]);
  });

  it("a sampled caller's context is continued whatever the ratio", () => {
    const worker = attach('worker', { traceSampleRatio: 0 });
    const parent = capture.tracerProvider.getTracer('app').startSpan('app work');
    const sent = context.with(trace.setSpan(context.active(), parent), () =>
      worker.hooks.send?.(sessionOf(worker)),
    );
    expect(sent?.traceparent).toMatch(new RegExp(`^00-${parent.spanContext().traceId}-[0-9a-f]{16}-01$`));
    sent?.queued(1, 'queued');
    (sessionOf(worker).counters as { acked: number }).acked = 1;
    worker.emit('w1', { type: 'heartbeat-sent', id: 1 });
    parent.end();
    const [send] = named('send linkwatch');
    expect(send?.parentSpanContext?.spanId).toBe(parent.spanContext().spanId);
  });

  it('at ratio 0.25 about a quarter of messages get a producer span', () => {
    const worker = attach('worker', { traceSampleRatio: 0.25, maxMessageTracesPerSecond: 1e9 });
    let sampled = 0;
    for (let i = 0; i < 4000; i++) if (worker.hooks.send?.(sessionOf(worker))) sampled++;
    expect(sampled).toBeGreaterThan(800);
    expect(sampled).toBeLessThan(1200);
  });

  it('at most maxMessageTracesPerSecond messages a second get spans, whatever the ratio', () => {
    const worker = attach('worker', { traceSampleRatio: 1, maxMessageTracesPerSecond: 10 });
    let traced = 0;
    for (let i = 0; i < 1000; i++) if (worker.hooks.send?.(sessionOf(worker))) traced++;
    // The bucket holds 10 and refills at 10/s: a loop this short earns at most a couple more.
    expect(traced).toBeGreaterThanOrEqual(10);
    expect(traced).toBeLessThanOrEqual(12);
    expect(() => instrument(fakeTarget('hub'), { side: 'hub', maxMessageTracesPerSecond: -1 })).toThrow(
      /`maxMessageTracesPerSecond`.*got -1/,
    );
  });

  it('the hub continues a sampled traceparent, skips an unsampled one, and samples frames without one by ratio', async () => {
    // Decided in the around hook, from the frame's traceparent: no per-message event needed.
    const hub = attach('hub', { traceSampleRatio: 0 });
    const sampled = '00-0123456789abcdef0123456789abcdef-0123456789abcdef-01';
    const unsampled = '00-0123456789abcdef0123456789abcdef-0123456789abcdef-00';
    for (const [seq, traceparent] of [
      [1, sampled],
      [2, unsampled],
      [3, undefined],
    ] as const) {
      hub.emit('w1', { type: 'queue-enqueued', seq, depth: 1, traceparent });
      await hub.hooks.around?.(
        { workerId: 'w1', stream: 's', seq, payload: null },
        traceparent,
        async () => {},
      );
      hub.emit('w1', { type: 'queue-completed', seq, durationMs: 1 });
    }
    const processes = named('process linkwatch');
    expect(processes.map((s) => s.attributes['linkwatch.seq'])).toEqual([1]);
    expect(processes[0]?.spanContext().traceId).toBe('0123456789abcdef0123456789abcdef');
    expect(processes[0]?.attributes[ATTR.hubId]).toBe('hub-1');
    expect(hub.events.perMessage).toBe(false);
  });

  it('a handler that throws ends its consumer span with an error', async () => {
    const hub = attach('hub', { traceSampleRatio: 1 });
    const failing = Object.assign(new Error('boom'), { code: 'LW_ERR_HANDLER_FAILED' });
    await expect(
      hub.hooks.around?.({ workerId: 'w1', stream: 's', seq: 1, payload: null }, undefined, () =>
        Promise.reject(failing),
      ),
    ).rejects.toBe(failing);
    const [span] = named('process linkwatch');
    expect(span?.status.code).toBe(SpanStatusCode.ERROR);
    expect(span?.attributes[ATTR.errorType]).toBe('LW_ERR_HANDLER_FAILED');
  });

  it('never listens to per-message events: a producer span ends once the counters show its ack', () => {
    const worker = attach('worker', { traceSampleRatio: 1 });
    const session = sessionOf(worker);
    const counters = session.counters as { acked: number; dropped: number };
    for (let seq = 1; seq <= 3; seq++) worker.hooks.send?.(session)?.queued(seq, 'queued');
    expect(worker.events.perMessage).toBe(false);
    expect(named('send linkwatch')).toHaveLength(0);
    // Two acked: the ack frame's hook ends their spans; a send does not look.
    counters.acked = 2;
    worker.hooks.send?.(session)?.queued(4, 'queued');
    expect(named('send linkwatch')).toHaveLength(0);
    worker.hooks.acked?.(session);
    expect(named('send linkwatch').map((s) => s.attributes['linkwatch.seq'])).toEqual([1, 2]);
    // One acked, one dropped by the outbox: a heartbeat on the link ends the rest.
    counters.acked = 3;
    counters.dropped = 1;
    worker.emit('w1', { type: 'heartbeat-sent', id: 1 });
    expect(named('send linkwatch').map((s) => s.attributes['linkwatch.seq'])).toEqual([1, 2, 3, 4]);
    expect(worker.events.perMessage).toBe(false);
  });

  it('a producer span ends when the ack frame covering it arrives, not at the next send or heartbeat of an idle link', () => {
    const worker = attach('worker', { traceSampleRatio: 1 });
    const session = sessionOf(worker);
    const counters = session.counters as { acked: number };
    for (let seq = 1; seq <= 2; seq++) worker.hooks.send?.(session)?.queued(seq, 'queued');
    // The link goes idle: no send, no heartbeat. The core calls the acked hook per ack frame.
    counters.acked = 1;
    const ackedAt = Date.now();
    worker.hooks.acked?.(session);
    const ended = named('send linkwatch');
    expect(ended.map((s) => s.attributes['linkwatch.seq'])).toEqual([1]);
    const endMs = ended[0]!.endTime[0] * 1000 + ended[0]!.endTime[1] / 1e6;
    expect(Math.abs(endMs - ackedAt)).toBeLessThan(50);
    counters.acked = 2;
    worker.hooks.acked?.(session);
    expect(named('send linkwatch')).toHaveLength(2);
    expect(worker.events.perMessage).toBe(false);
  });

  it('a hub follows a tracing peer: frames it left without a traceparent are not sampled again, until its next link', async () => {
    // Ratio 1 on the hub: without the rule every frame below would get a span.
    const hub = attach('hub', { traceSampleRatio: 1 });
    const traced = '00-0123456789abcdef0123456789abcdef-0123456789abcdef-01';
    let seq = 0;
    const frame = (workerId: string, traceparent?: string) =>
      hub.hooks.around?.({ workerId, stream: 's', seq: ++seq, payload: null }, traceparent, async () => {});
    await frame('w1', traced);
    for (let i = 0; i < 10; i++) await frame('w1');
    // A worker that never sent a traceparent does not trace: the hub samples its frames itself.
    await frame('w2');
    const bySeq = () =>
      named('process linkwatch').map((s) => [s.attributes[ATTR.workerId], s.attributes['linkwatch.seq']]);
    expect(bySeq()).toEqual([
      ['w1', 1],
      ['w2', 12],
    ]);
    // A new link may come from a process that no longer traces.
    hub.emit('w1', {
      type: 'disconnected',
      errorType: 'LW_ERR_CONNECTION_LOST',
      closeCode: 1006,
      uptimeMs: 5,
    });
    await frame('w1');
    expect(bySeq()).toContainEqual(['w1', 13]);
  });
});

describe('heartbeat spans: every anomaly, a sample of the healthy', () => {
  function roundTrip(t: FakeTarget, rttMs: number) {
    t.emit('w1', { type: 'heartbeat-sent', id: 1 });
    t.emit('w1', { type: 'heartbeat-rtt', rttMs });
  }

  it('at ratio 0 a healthy round trip leaves no span; slow, overtaken, missed and cut ones do', () => {
    const t = attach('hub', { traceSampleRatio: 0, slowHeartbeatMs: 100 });
    for (let i = 0; i < 50; i++) roundTrip(t, 1);
    expect(named('linkwatch.heartbeat')).toEqual([]);

    roundTrip(t, 150);
    t.emit('w1', { type: 'heartbeat-sent', id: 2 });
    t.emit('w1', { type: 'heartbeat-sent', id: 3 }); // the previous one was overtaken
    t.emit('w1', { type: 'heartbeat-missed', consecutive: 1, limit: 3 });
    t.emit('w1', { type: 'heartbeat-sent', id: 4 });
    t.emit('w1', {
      type: 'disconnected',
      errorType: 'LW_ERR_CONNECTION_LOST',
      closeCode: undefined,
      uptimeMs: 10,
    });
    const hb = named('linkwatch.heartbeat');
    expect(hb.map((s) => s.attributes[HEARTBEAT_OUTCOME])).toEqual(['slow', 'overtaken', 'missed', 'down']);
    expect(hb.map((s) => s.status.code)).toEqual([
      SpanStatusCode.UNSET,
      SpanStatusCode.UNSET,
      SpanStatusCode.ERROR,
      SpanStatusCode.ERROR,
    ]);
    expect(hb[2]?.attributes[ATTR.errorType]).toBe('LW_ERR_HEARTBEAT_MISSED');
    expect(hb[0]?.attributes['linkwatch.heartbeat.rtt_ms']).toBe(150);
    expect(hb[0]?.attributes[ATTR.workerId]).toBe('w1');
    // The span covers the round trip: it starts when the heartbeat was sent.
    for (const s of hb) expect(s.duration[0] * 1e3 + s.duration[1] / 1e6).toBeGreaterThanOrEqual(0);
  });

  it('at ratio 1 every healthy round trip is a span with its RTT', () => {
    const t = attach('worker', { traceSampleRatio: 1 });
    for (let i = 0; i < 5; i++) roundTrip(t, 2);
    const hb = named('linkwatch.heartbeat');
    expect(hb).toHaveLength(5);
    expect(hb.every((s) => s.attributes[HEARTBEAT_OUTCOME] === 'ok')).toBe(true);
  });

  it('handshakes and outages are kept at ratio 0', () => {
    const t = attach('worker', { traceSampleRatio: 0 });
    t.emit('w1', { type: 'dialing', url: 'ws://127.0.0.1:1/', attempt: 1 });
    t.emit('w1', {
      type: 'connected',
      url: 'ws://127.0.0.1:1/',
      epoch: 1,
      handshakeMs: 3,
      replayed: 0,
      peerProcessed: 0,
    });
    t.emit('w1', { type: 'disconnected', errorType: 'LW_ERR_EVICTED', closeCode: 4001, uptimeMs: 5 });
    t.emit('w1', {
      type: 'reconnect-scheduled',
      attempt: 1,
      delayMs: 10,
      url: 'ws://127.0.0.1:1/',
      errorType: 'LW_ERR_EVICTED',
    });
    t.emit('w1', {
      type: 'connected',
      url: 'ws://127.0.0.1:1/',
      epoch: 2,
      handshakeMs: 3,
      replayed: 0,
      peerProcessed: 0,
    });
    expect(named('linkwatch.handshake')).toHaveLength(1);
    expect(named('linkwatch.outage')).toHaveLength(1);
  });
});

describe('the CLI reads the share from OTEL_TRACES_SAMPLER', () => {
  it('maps the standard samplers to a ratio, and keeps every span linkwatch starts', () => {
    expect(tracingFromEnv({}).ratio).toBe(0.01);
    expect(tracingFromEnv({ OTEL_TRACES_SAMPLER: 'parentbased_always_on' }).ratio).toBe(1);
    expect(
      tracingFromEnv({ OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.05' })
        .ratio,
    ).toBe(0.05);
    const off = tracingFromEnv({ OTEL_TRACES_SAMPLER: 'always_off' });
    expect(off.ratio).toBe(0);
    expect(off.sampler).toBeInstanceOf(AlwaysOffSampler);
    expect(tracingFromEnv({}).sampler.toString()).toMatch(/ParentBased.*AlwaysOn/);
  });

  it('rejects a ratio outside 0..1 with a TypeError naming the option', () => {
    expect(() => instrument(fakeTarget('hub'), { side: 'hub', traceSampleRatio: 2 })).toThrow(
      /`traceSampleRatio`.*0 to 1.*got 2/,
    );
  });
});
