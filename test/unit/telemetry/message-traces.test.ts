import { trace } from '@opentelemetry/api';
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../../src/cli/args.js';
import { startTelemetry } from '../../../src/cli/telemetry.js';
import { tracingFromEnv } from '../../../src/cli/telemetry-sdk.js';
import type { Session } from '../../../src/link/session.js';
import { SETTLED } from '../../../src/queue/handler-call.js';
import { instrument } from '../../../src/telemetry/instrumentation.js';
import { HEARTBEAT_OUTCOME } from '../../../src/telemetry/link-spans.js';
import { type FakeTarget, fakeTarget } from './fake-target.js';
import { useSpanCapture } from './span-capture.js';

const capture = useSpanCapture();

function worker(traceSampleRatio: number, maxMessageTracesPerSecond: number): FakeTarget {
  const target = fakeTarget('worker');
  target.addWorkers(['w1']);
  capture.attached.push(
    instrument(target, {
      side: 'worker',
      tracerProvider: capture.tracerProvider,
      traceSampleRatio,
      maxMessageTracesPerSecond,
    }),
  );
  return target;
}

const named = (name: string) => capture.spans.getFinishedSpans().filter((s) => s.name === name);

describe('message traces are capped a second; lifecycle spans are not', () => {
  it('a flood at ratio 1 traces `maxMessageTracesPerSecond` messages; handshakes, outages and anomalous heartbeats are all kept after', () => {
    const t = worker(1, 5);
    const session = t.sessionsMap.get('w1') as Session;
    const counters = session.counters as { acked: number };
    for (let seq = 1; seq <= 10_000; seq++) t.hooks.send?.(session)?.queued(seq, 'queued');
    counters.acked = 10_000;
    t.hooks.acked?.(session);
    // The bucket holds 5; a loop this short earns at most one more.
    expect(named('send linkwatch').length).toBeGreaterThanOrEqual(5);
    expect(named('send linkwatch').length).toBeLessThanOrEqual(6);

    // The cap is spent: every lifecycle span still comes.
    const connected = { url: 'ws://127.0.0.1:1/', handshakeMs: 3, replayed: 0, peerProcessed: 0 };
    t.emit('w1', { type: 'heartbeat-sent', id: 1 });
    t.emit('w1', { type: 'heartbeat-missed', consecutive: 1, limit: 3 });
    t.emit('w1', { type: 'heartbeat-sent', id: 2 });
    t.emit('w1', {
      type: 'disconnected',
      errorType: 'LW_ERR_HEARTBEAT_TIMEOUT',
      closeCode: 4000,
      uptimeMs: 9,
    });
    t.emit('w1', {
      type: 'reconnect-scheduled',
      attempt: 1,
      delayMs: 10,
      url: connected.url,
      errorType: 'LW_ERR_HEARTBEAT_TIMEOUT',
    });
    t.emit('w1', { type: 'dialing', url: connected.url, attempt: 1 });
    t.emit('w1', { type: 'connected', epoch: 2, ...connected });
    expect(named('linkwatch.heartbeat').map((s) => s.attributes[HEARTBEAT_OUTCOME])).toEqual([
      'missed',
      'down',
    ]);
    expect(named('linkwatch.outage')).toHaveLength(1);
    expect(named('linkwatch.handshake')).toHaveLength(1);
  });

  it('at the default ratio the sends between two sampled ones carry no traceparent and leave no span', () => {
    const t = worker(0.01, 1e9);
    const session = t.sessionsMap.get('w1') as Session;
    let traced = 0;
    for (let i = 0; i < 20_000; i++) {
      const sent = t.hooks.send?.(session);
      if (!sent) continue;
      traced++;
      expect(sent.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
      sent.failed(new Error('not sent'));
    }
    expect(traced).toBeGreaterThan(100);
    expect(traced).toBeLessThan(300);
    expect(named('send linkwatch')).toHaveLength(traced);
  });
});

describe('a traced message settles as an untraced one does', () => {
  it('a synchronous handler under a consumer span: the hook hands back SETTLED and the span has ended', async () => {
    const hub = fakeTarget('hub');
    hub.addWorkers(['w1']);
    capture.attached.push(
      instrument(hub, {
        side: 'hub',
        hubId: 'hub-1',
        tracerProvider: capture.tracerProvider,
        traceSampleRatio: 1,
      }),
    );
    const message = { workerId: 'w1', seq: 1 } as Parameters<NonNullable<FakeTarget['hooks']['around']>>[0];
    let ranInSpan = false;
    const result = hub.hooks.around?.(message, undefined, () => {
      ranInSpan = trace.getActiveSpan() !== undefined;
      return SETTLED;
    });
    // The work queue settles the item at once only for SETTLED itself; a chained promise cost a turn.
    expect(result).toBe(SETTLED);
    expect(ranInSpan).toBe(true);
    expect(named('process linkwatch')).toHaveLength(1);
    // An async handler still ends its span when it settles.
    let finish = () => {};
    const pending = hub.hooks.around?.(
      { ...message, seq: 2 },
      undefined,
      () => new Promise<void>((r) => (finish = r)),
    );
    expect(named('process linkwatch')).toHaveLength(1);
    finish();
    await pending;
    expect(named('process linkwatch')).toHaveLength(2);
  });
});

describe('the CLI reads the cap from LINKWATCH_MESSAGE_TRACES_PER_SECOND', () => {
  it('defaults to 100 and takes any number >= 0', () => {
    expect(tracingFromEnv({}).maxMessageTracesPerSecond).toBe(100);
    expect(tracingFromEnv({ LINKWATCH_MESSAGE_TRACES_PER_SECOND: '2500' }).maxMessageTracesPerSecond).toBe(
      2500,
    );
    expect(tracingFromEnv({ LINKWATCH_MESSAGE_TRACES_PER_SECOND: '0' }).maxMessageTracesPerSecond).toBe(0);
  });

  it('rejects anything else with a TypeError naming the variable, before the SDK starts', async () => {
    for (const bad of ['-1', 'lots', 'Infinity']) {
      expect(() => tracingFromEnv({ LINKWATCH_MESSAGE_TRACES_PER_SECOND: bad })).toThrow(
        new TypeError(`Expected \`LINKWATCH_MESSAGE_TRACES_PER_SECOND\` to be a number >= 0, got "${bad}"`),
      );
    }
    // The CLI says it as a usage error, not as a --metrics-listen one.
    process.env.LINKWATCH_MESSAGE_TRACES_PER_SECOND = 'lots';
    try {
      const logger = { debug() {}, info() {}, warn() {}, error() {} };
      const started = startTelemetry({ role: 'worker', instanceId: 'w1', metricsListen: undefined }, logger);
      await expect(started).rejects.toThrow(UsageError);
      await expect(started).rejects.toThrow(
        /^Expected `LINKWATCH_MESSAGE_TRACES_PER_SECOND` to be a number >= 0, got "lots"$/,
      );
    } finally {
      delete process.env.LINKWATCH_MESSAGE_TRACES_PER_SECOND;
    }
  });
});
