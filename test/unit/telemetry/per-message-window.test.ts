import { type DataPoint, MeterProvider } from '@opentelemetry/sdk-metrics';
import { describe, expect, it } from 'vitest';
import { MESSAGE_HISTOGRAM_BURST, MESSAGE_HISTOGRAM_BURST_EVERY_MS } from '../../../src/telemetry/catalog.js';
import { instrument, PER_MESSAGE_WINDOW_EVENTS } from '../../../src/telemetry/instrumentation.js';
import { ManualReader } from '../../helpers/otel.js';
import { type EventBody, type FakeTarget, fakeTarget } from './fake-target.js';
import { useMetricCleanup } from './metric-cleanup.js';

const { attached, providers } = useMetricCleanup();

function attach(side: 'hub' | 'worker'): { target: FakeTarget; reader: ManualReader } {
  const reader = new ManualReader();
  const meterProvider = new MeterProvider({ readers: [reader] });
  providers.push(meterProvider);
  const target = fakeTarget(side);
  target.addWorkers(['w1']);
  attached.push(instrument(target, { side, hubId: 'hub-1', meterProvider }));
  return { target, reader };
}

/** An event at a chosen time, as the core stamps `at` (performance.now()). */
const at = (e: EventBody, when: number) => ({ ...e, at: when }) as unknown as EventBody;

async function processCount(reader: ManualReader): Promise<number> {
  const { resourceMetrics } = await reader.collect();
  const metric = resourceMetrics.scopeMetrics
    .flatMap((sm) => sm.metrics)
    .find((m) => m.descriptor.name === 'linkwatch.queue.process.seconds');
  return ((metric?.dataPoints ?? []) as DataPoint<{ count: number }>[]).reduce(
    (n, p) => n + p.value.count,
    0,
  );
}

describe('per-message events are listened to in short windows only', () => {
  it('a worker that only sends stops listening after a window of events, and listens again a burst interval later', () => {
    const { target } = attach('worker');
    const t0 = performance.now();
    // The histogram burst starts at once, so the window is open.
    expect(target.events.perMessage).toBe(true);
    // Sent messages complete nothing in this process's work queue: the burst would never end.
    for (let seq = 1; seq <= PER_MESSAGE_WINDOW_EVENTS; seq++) {
      target.emit('w1', at({ type: 'data-sent', seq, bytes: 64, replay: false }, t0));
    }
    expect(target.events.perMessage).toBe(false);
    // Lifecycle events within the interval do not reopen it.
    target.emit('w1', at({ type: 'heartbeat-sent', id: 1 }, t0 + MESSAGE_HISTOGRAM_BURST_EVERY_MS / 2));
    expect(target.events.perMessage).toBe(false);
    target.emit('w1', at({ type: 'heartbeat-sent', id: 2 }, t0 + MESSAGE_HISTOGRAM_BURST_EVERY_MS + 1));
    expect(target.events.perMessage).toBe(true);
  });

  it('a hub still records a whole burst of handler times and then stops listening', async () => {
    const { target, reader } = attach('hub');
    const t0 = performance.now();
    for (let seq = 1; seq <= MESSAGE_HISTOGRAM_BURST; seq++) {
      target.emit('w1', at({ type: 'queue-completed', seq, durationMs: 1 }, t0));
    }
    expect(target.events.perMessage).toBe(false);
    target.emit('w1', at({ type: 'queue-completed', seq: 99, durationMs: 1 }, t0));
    expect(await processCount(reader)).toBe(MESSAGE_HISTOGRAM_BURST);
  });
});
