import { context, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type FaultProxy, startFaultProxy } from '../../../src/chaos/fault-proxy.js';
import type { Hub } from '../../../src/hub/hub.js';
import { jsonLogger } from '../../../src/log/logger.js';
import { ATTR, METRICS } from '../../../src/telemetry/catalog.js';
import { instrument, type LinkTelemetry } from '../../../src/telemetry/instrumentation.js';
import type { Worker } from '../../../src/worker/worker.js';
import { nextEvent, recorder, startHub, startWorker, waitFor } from '../../helpers/fleet.js';
import { type OtelHarness, otelHarness } from '../../helpers/otel.js';

let otel: OtelHarness;
let hub: Hub | undefined;
let worker: Worker | undefined;
let attached: LinkTelemetry[] = [];
let proxy: FaultProxy | undefined;

beforeEach(() => {
  otel = otelHarness();
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
});
afterEach(async () => {
  for (const t of attached) t.dispose();
  attached = [];
  await worker?.stop({ timeoutMs: 500 });
  await hub?.close({ timeoutMs: 500 });
  await proxy?.close();
  worker = undefined;
  hub = undefined;
  proxy = undefined;
  await otel.shutdown();
  context.disable();
});

/**
 * An instrumented hub (heartbeats 100 ms × 3) and worker, linked through a
 * fault proxy. Also sets the module's hub, worker and proxy, for afterEach.
 */
async function instrumentedThroughProxy(hubId: string, workerOptions: Parameters<typeof startWorker>[1]) {
  const rec = recorder();
  hub = await startHub({ handler: rec.handler, hubId, heartbeatIntervalMs: 100, heartbeatMisses: 3 });
  const p = await startFaultProxy({ targetPort: hub.port });
  proxy = p;
  const providers = {
    meterProvider: otel.meterProvider,
    tracerProvider: otel.tracerProvider,
    traceSampleRatio: 1,
  };
  attached.push(instrument(hub, { ...providers, side: 'hub', hubId }));
  const w = startWorker(p.url, { handshakeTimeoutMs: 300, ...workerOptions }, false);
  worker = w;
  attached.push(instrument(w, { ...providers, side: 'worker' }));
  w.start();
  await w.waitConnected();
  return { rec, proxy: p, worker: w };
}

describe('telemetry from a real hub and worker', () => {
  it('emits heartbeat, queue, delivery and reconnect signals with worker attributes and linked traces', async () => {
    const rec = recorder();
    const lines: string[] = [];
    const appLog = jsonLogger({ write: (l) => lines.push(l) });
    hub = await startHub({
      handler: (m) => {
        rec.handler(m);
        appLog.info('handled', { seq: m.seq });
      },
      hubId: 'hub-a',
      heartbeatIntervalMs: 100,
    });
    // Every message traced, so each can be checked; the default is 1%.
    const providers = {
      meterProvider: otel.meterProvider,
      tracerProvider: otel.tracerProvider,
      traceSampleRatio: 1,
    };
    attached.push(instrument(hub, { ...providers, side: 'hub', hubId: 'hub-a' }));
    worker = startWorker(hub.url, { workerId: 'w-tel' }, false);
    attached.push(instrument(worker, { ...providers, side: 'worker' }));
    worker.start();
    await worker.waitConnected();
    for (let i = 0; i < 50; i++) await worker.send({ i });
    await waitFor(() => worker!.session.outbox.size === 0, 5000, 'acks');
    await nextEvent(worker, 'heartbeat-rtt');

    // A real fault: the hub evicts the link, the worker backs off and reconnects.
    const reconnected = nextEvent(worker, 'connected');
    hub.evict('w-tel', 'test');
    await reconnected;
    await nextEvent(worker, 'heartbeat-rtt');

    const w = { [ATTR.workerId]: 'w-tel', [ATTR.side]: 'worker' };
    // Per worker on the hub: only what the hub alone sees. The rest is hub-wide.
    const h = { [ATTR.workerId]: 'w-tel', [ATTR.side]: 'hub', [ATTR.hubId]: 'hub-a' };
    const hubWide = { [ATTR.side]: 'hub', [ATTR.hubId]: 'hub-a' };
    expect(await otel.total(METRICS.messagesSent.name, w)).toBe(50);
    expect(await otel.total(METRICS.messagesAcked.name, w)).toBe(50);
    expect(await otel.total(METRICS.bytesSent.name, w)).toBeGreaterThan(50 * 10);
    expect(await otel.total(METRICS.messagesReceived.name, hubWide)).toBe(50);
    expect(await otel.total(METRICS.bytesReceived.name, hubWide)).toBe(
      await otel.total(METRICS.bytesSent.name, w),
    );
    expect(await otel.total(METRICS.messagesReceived.name, h)).toBe(0);
    expect(await otel.total(METRICS.queueCompleted.name, h)).toBe(50);
    // The handler-time histogram records bursts of up to 16 messages, at most once a second.
    const timed = await otel.total(METRICS.queueProcess.name, hubWide);
    expect(timed).toBeGreaterThanOrEqual(1);
    expect(timed).toBeLessThanOrEqual(32);
    expect(await otel.total(METRICS.heartbeatsSent.name, w)).toBeGreaterThan(0);
    expect(await otel.total(METRICS.heartbeatsReceived.name, hubWide)).toBeGreaterThan(0);
    expect(await otel.total(METRICS.heartbeatRtt.name, w)).toBeGreaterThan(0);
    expect(await otel.total(METRICS.connects.name, w)).toBe(2);
    expect(await otel.total(METRICS.reconnects.name, { ...w, [ATTR.errorType]: 'LW_ERR_EVICTED' })).toBe(1);
    expect(
      await otel.total(METRICS.disconnects.name, { ...hubWide, [ATTR.errorType]: 'LW_ERR_EVICTED' }),
    ).toBe(1);
    expect(await otel.total(METRICS.backoffDelay.name, w)).toBe(1);
    expect(await otel.total(METRICS.linkState.name, { ...w, [ATTR.state]: 'healthy' })).toBe(1);

    // Producer → consumer: each hub process span continues a worker send span.
    const sends = otel.finished('send linkwatch');
    const processes = otel.finished('process linkwatch');
    expect(sends).toHaveLength(50);
    expect(processes).toHaveLength(50);
    const bySpanId = new Map(sends.map((s) => [s.spanContext().spanId, s]));
    for (const p of processes) {
      expect(p.kind).toBe(SpanKind.CONSUMER);
      const parent = bySpanId.get(p.parentSpanContext?.spanId ?? '');
      expect(parent?.kind).toBe(SpanKind.PRODUCER);
      expect(p.spanContext().traceId).toBe(parent?.spanContext().traceId);
      expect(p.status.code).not.toBe(SpanStatusCode.ERROR);
    }

    // A log line written inside the handler carries the trace of the message it handles.
    const logged = lines.map((l) => JSON.parse(l) as { seq: number; trace_id?: string; span_id?: string });
    expect(logged).toHaveLength(50);
    for (const line of logged) {
      const p = processes.find((s) => s.attributes['linkwatch.seq'] === line.seq);
      expect(line.trace_id).toBe(p?.spanContext().traceId);
      expect(line.span_id).toBe(p?.spanContext().spanId);
    }

    const heartbeats = otel.finished('linkwatch.heartbeat');
    expect(heartbeats.some((s) => typeof s.attributes['linkwatch.heartbeat.rtt_ms'] === 'number')).toBe(true);

    const outages = otel.finished('linkwatch.outage').filter((s) => s.attributes[ATTR.side] === 'worker');
    expect(outages).toHaveLength(1);
    const attempt = outages[0]!.events.find((e) => e.name === 'linkwatch.reconnect.attempt');
    expect(attempt?.attributes).toMatchObject({
      'linkwatch.attempt': 1,
      'error.type': 'LW_ERR_EVICTED',
    });
    expect(String(attempt?.attributes?.['url.full'])).toBe(`${hub.url}/`);

    const handshakes = otel.finished('linkwatch.handshake');
    expect(handshakes).toHaveLength(2);
    expect(handshakes.every((s) => s.status.code !== SpanStatusCode.ERROR)).toBe(true);
    expect(handshakes[1]?.attributes).toMatchObject({
      [ATTR.hubId]: 'hub-a',
      [ATTR.serverAddress]: '127.0.0.1',
    });
  });

  it('records a handler timeout as a failed, timed-out queue item with an error span', async () => {
    hub = await startHub({ handler: () => new Promise(() => {}), handlerTimeoutMs: 50, hubId: 'hub-b' });
    attached.push(
      instrument(hub, {
        meterProvider: otel.meterProvider,
        tracerProvider: otel.tracerProvider,
        side: 'hub',
        hubId: 'hub-b',
        traceSampleRatio: 1,
      }),
    );
    worker = startWorker(hub.url, { workerId: 'w-hang' });
    await worker.send({ hang: true });
    await nextEvent(hub, 'queue-failed');
    const h = { [ATTR.workerId]: 'w-hang', [ATTR.side]: 'hub' };
    expect(await otel.total(METRICS.queueTimeouts.name, { [ATTR.side]: 'hub' })).toBe(1);
    expect(
      await otel.total(METRICS.queueFailed.name, { ...h, [ATTR.errorType]: 'LW_ERR_HANDLER_TIMEOUT' }),
    ).toBe(1);
    const [span] = otel.finished('process linkwatch');
    expect(span?.status.code).toBe(SpanStatusCode.ERROR);
    expect(span?.attributes[ATTR.errorType]).toBe('LW_ERR_HANDLER_TIMEOUT');
    expect(span?.events.map((e) => e.name)).toContain('linkwatch.queue.timeout');
  });

  it('a black hole through the fault proxy: missed heartbeats, a timeout teardown, an outage span and replays', async () => {
    const { rec, proxy, worker } = await instrumentedThroughProxy('hub-c', {
      workerId: 'w-hole',
      backoff: { initialDelayMs: 20, maxDelayMs: 100 },
    });
    for (let i = 0; i < 20; i++) await worker.send({ i });
    await waitFor(() => worker.session.outbox.size === 0, 5000, 'first batch acked');

    const down = nextEvent(worker, 'disconnected', 3000);
    // Both ways, so the hub's teardown cannot reach the worker: it must find out by heartbeat.
    proxy.blackhole('both');
    for (let i = 20; i < 40; i++) await worker.send({ i }); // into the hole: replayed later
    await down;
    proxy.heal();
    await nextEvent(worker, 'connected', 5000);
    await waitFor(() => worker.session.outbox.size === 0, 5000, 'replay acked');
    expect(rec.byWorker.get('w-hole')).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));

    const w = { [ATTR.workerId]: 'w-hole', [ATTR.side]: 'worker' };
    expect(await otel.total(METRICS.heartbeatsMissed.name, w)).toBeGreaterThanOrEqual(1);
    expect(
      await otel.total(METRICS.disconnects.name, { ...w, [ATTR.errorType]: 'LW_ERR_HEARTBEAT_TIMEOUT' }),
    ).toBe(1);
    expect(
      await otel.total(METRICS.reconnects.name, { ...w, [ATTR.errorType]: 'LW_ERR_HEARTBEAT_TIMEOUT' }),
    ).toBe(1);
    expect(await otel.total(METRICS.messagesReplayed.name, w)).toBe(20);
    expect(await otel.total(METRICS.messagesSent.name, w)).toBe(40);
    expect(await otel.total(METRICS.backoffDelay.name, w)).toBeGreaterThanOrEqual(1);

    // Heartbeat round trips that never came back end as errors with a stable error.type.
    const missed = otel
      .finished('linkwatch.heartbeat')
      .filter((s) => s.attributes[ATTR.side] === 'worker' && s.status.code === SpanStatusCode.ERROR);
    expect(missed.length).toBeGreaterThanOrEqual(1);
    for (const s of missed) {
      expect(['LW_ERR_HEARTBEAT_MISSED', 'LW_ERR_HEARTBEAT_TIMEOUT']).toContain(s.attributes[ATTR.errorType]);
    }
    expect(missed.map((s) => s.attributes[ATTR.errorType])).toContain('LW_ERR_HEARTBEAT_MISSED');
    // One outage span, from the teardown to the reconnect, with one event per attempt.
    const [outage] = otel.finished('linkwatch.outage').filter((s) => s.attributes[ATTR.side] === 'worker');
    expect(outage?.attributes[ATTR.errorType]).toBe('LW_ERR_HEARTBEAT_TIMEOUT');
    const attempts = outage?.events.filter((e) => e.name === 'linkwatch.reconnect.attempt') ?? [];
    expect(attempts.length).toBeGreaterThanOrEqual(1);
    expect(outage?.attributes['linkwatch.outage.attempts']).toBe(attempts.length);
    for (const a of attempts) expect(String(a.attributes?.['url.full'])).toBe(`${proxy.url}/`);
  });

  it('a link slower than its traffic: heartbeats overtaken by data are neither misses nor error spans', async () => {
    const { rec, proxy, worker } = await instrumentedThroughProxy('hub-s', { workerId: 'w-slow' });
    proxy.throttle(512 * 1024);
    const big = 'q'.repeat(4000);
    for (let i = 0; i < 200; i++) await worker.send({ i, big });
    await waitFor(() => worker.session.outbox.size === 0, 15_000, 'everything acked');
    expect(rec.byWorker.get('w-slow')).toHaveLength(200);

    for (const side of ['worker', 'hub']) {
      // A hub counts these hub-wide.
      const attrs = side === 'hub' ? { [ATTR.side]: side } : { [ATTR.workerId]: 'w-slow', [ATTR.side]: side };
      expect(await otel.total(METRICS.heartbeatsMissed.name, attrs), side).toBe(0);
      expect(await otel.total(METRICS.disconnects.name, attrs), side).toBe(0);
    }
    const spans = otel.finished('linkwatch.heartbeat');
    expect(spans.length).toBeGreaterThan(10);
    expect(spans.filter((s) => s.status.code === SpanStatusCode.ERROR)).toEqual([]);
    // The heartbeats did queue behind the data: the slowest measured round trip shows it.
    const slowest = Math.max(...spans.map((s) => Number(s.attributes['linkwatch.heartbeat.rtt_ms'] ?? 0)));
    expect(slowest).toBeGreaterThan(300);
  });
});

describe('one sampling decision per message over a real link', () => {
  it('when the worker traces, every hub process span continues a worker send span, and send spans end at their ack', async () => {
    const rec = recorder();
    hub = await startHub({ handler: rec.handler, hubId: 'hub-r', heartbeatIntervalMs: 5_000 });
    const providers = { meterProvider: otel.meterProvider, tracerProvider: otel.tracerProvider };
    // The same ratio on both sides, as one OTEL_TRACES_SAMPLER_ARG for the fleet would give.
    attached.push(instrument(hub, { ...providers, side: 'hub', hubId: 'hub-r', traceSampleRatio: 0.3 }));
    const w = startWorker(hub.url, { workerId: 'w-r' }, false);
    worker = w;
    attached.push(instrument(w, { ...providers, side: 'worker', traceSampleRatio: 0.3 }));
    w.start();
    await w.waitConnected();
    // Until a link's first traceparent arrives, the hub cannot know that the worker traces and
    // samples on its own (about one span per link at most): an app's sampled span starts the stream.
    const app = otel.tracerProvider.getTracer('app').startSpan('app work');
    await context.with(trace.setSpan(context.active(), app), () => w.send({ i: -1 }));
    app.end();
    for (let i = 0; i < 400; i++) await w.send({ i });
    await waitFor(() => w.session.outbox.size === 0, 10_000, 'everything acked');
    const sends = otel.finished('send linkwatch');
    const processes = otel.finished('process linkwatch');
    expect(sends.length).toBeGreaterThan(60);
    // Before, the hub sampled 30% of the frames that came without a traceparent on its own: roots.
    const sendIds = new Set(sends.map((s) => s.spanContext().spanId));
    expect(processes.filter((p) => !sendIds.has(p.parentSpanContext?.spanId ?? ''))).toEqual([]);
    expect(processes.length).toBe(sends.length);
    // Heartbeats every 5 s: the spans ended as the acks came, not at the next heartbeat.
    const ms = (t: [number, number]) => t[0] * 1000 + t[1] / 1e6;
    const longest = Math.max(...sends.map((s) => ms(s.endTime) - ms(s.startTime)));
    expect(longest).toBeLessThan(2_000);
  });
});
