import { afterEach, describe, expect, it, vi } from 'vitest';
import { ObservedMetricsProducer } from '../../../src/cli/observed-producer.js';
import { prometheusText } from '../../../src/telemetry/prometheus-text.js';
import { makeAlert } from '../../../src/watchdog/alerts.js';
import { ALERT_COUNT_TTL_MS, WatchdogTelemetry } from '../../../src/watchdog/otel-sink.js';
import { otelHarness } from '../../helpers/otel.js';

/*
 * The hub watchdog's alert series through the CLI's producer of observed
 * metrics, as a mass outage makes them: one or two per worker, rendered in
 * slices, never stored by the SDK.
 */

const HUB = { 'linkwatch.link.side': 'hub', 'linkwatch.hub.id': 'h1' };
const closing: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  vi.useRealTimers();
  for (const close of closing.splice(0)) await close();
});

function setup() {
  const otel = otelHarness();
  const producer = new ObservedMetricsProducer();
  const telemetry = new WatchdogTelemetry({
    meterProvider: otel.meterProvider,
    base: HUB,
    observedMetrics: producer,
  });
  closing.push(
    () => telemetry.close(),
    () => otel.shutdown(),
  );
  return { otel, producer, telemetry };
}

function linkDown(workerId: string, status: 'firing' | 'resolved' = 'firing') {
  const alert = makeAlert('link-down', { workerId, hubId: 'h1', side: 'hub' }, 'down', new Date());
  return { ...alert, status };
}

async function scrape(producer: ObservedMetricsProducer): Promise<string[]> {
  let text = '';
  for await (const chunk of prometheusText((emit) => producer.observeYielding(emit))) text += chunk;
  return text.split('\n');
}

const active = (lines: string[], worker: string) =>
  lines.filter(
    (l) => l.startsWith('linkwatch_watchdog_alert_active{') && l.includes(`linkwatch_worker_id="${worker}"`),
  );
const fired = (lines: string[], worker: string) =>
  lines.filter(
    (l) => l.startsWith('linkwatch_watchdog_alerts_total{') && l.includes(`linkwatch_worker_id="${worker}"`),
  );

describe('watchdog alert series on the observed path', () => {
  it('a firing alert per worker shows in the scrape, and none of its series is in the SDK', async () => {
    const { otel, producer, telemetry } = setup();
    for (const id of ['w-1', 'w-2', 'w-3']) telemetry.deliver(linkDown(id));
    const lines = await scrape(producer);
    for (const id of ['w-1', 'w-2', 'w-3']) {
      expect(active(lines, id)).toHaveLength(1);
      expect(active(lines, id)[0]).toMatch(/linkwatch_alert_name="LinkwatchLinkDown".* 1$/);
      expect(fired(lines, id)).toEqual([expect.stringMatching(/ 1$/)]);
    }
    // The zero series per alert of this process, before anything else fired.
    expect(
      lines.some((l) =>
        /^linkwatch_watchdog_alerts_total\{.*linkwatch_reason="event-loop-blocked".*\} 0$/.test(l),
      ),
    ).toBe(true);
    // One family each: the SDK holds no alert series that would repeat the family in /metrics.
    const sdkNames = (await otel.collect()).scopeMetrics.flatMap((sm) =>
      sm.metrics.map((m) => m.descriptor.name),
    );
    expect(sdkNames).not.toContain('linkwatch.watchdog.alerts');
    expect(sdkNames).not.toContain('linkwatch.watchdog.alert.active');
    expect(sdkNames).toContain('linkwatch.watchdog.delivery.failures');
  });

  it('a resolved alert leaves its count, which goes after ALERT_COUNT_TTL_MS unless it fires again', async () => {
    vi.useFakeTimers({ toFake: ['performance'] });
    const { producer, telemetry } = setup();
    telemetry.deliver(linkDown('w-gone'));
    telemetry.deliver(linkDown('w-flaps'));
    telemetry.deliver(linkDown('w-gone', 'resolved'));
    telemetry.deliver(linkDown('w-flaps', 'resolved'));
    let lines = await scrape(producer);
    expect(active(lines, 'w-gone')).toEqual([]);
    expect(fired(lines, 'w-gone')).toEqual([expect.stringMatching(/ 1$/)]);
    vi.advanceTimersByTime(ALERT_COUNT_TTL_MS / 2);
    telemetry.deliver(linkDown('w-flaps'));
    vi.advanceTimersByTime(ALERT_COUNT_TTL_MS / 2 + 1);
    lines = await scrape(producer);
    expect(fired(lines, 'w-gone')).toEqual([]);
    expect(fired(lines, 'w-flaps')).toEqual([expect.stringMatching(/ 2$/)]);
    expect(active(lines, 'w-flaps')).toHaveLength(1);
  });

  it('a mass outage is observed in slices of 1,000 series, so a scrape yields between them', () => {
    const observers: ((emit: () => void) => Generator<void>)[] = [];
    const sink = {
      add(o: (typeof observers)[number]) {
        observers.push(o);
        return () => {};
      },
    };
    const own = new WatchdogTelemetry({ base: HUB, observedMetrics: sink });
    closing.push(() => own.close());
    for (let i = 0; i < 2_500; i++) own.deliver(linkDown(`w-${i}`));
    let points = 0;
    let pauses = 0;
    for (const _ of observers[0]!(() => points++)) pauses++;
    // 2,500 active, 2,500 counts and the seeded zero series.
    expect(points).toBeGreaterThan(5_000);
    expect(pauses).toBe(Math.floor(points / 1_000));
  });
});
