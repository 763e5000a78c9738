import type { DataPoint } from '@opentelemetry/sdk-metrics';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { Hub } from '../../../src/hub/hub.js';
import { ATTR, METRICS } from '../../../src/telemetry/catalog.js';
import { instrument, type LinkTelemetry } from '../../../src/telemetry/instrumentation.js';
import { startHub } from '../../helpers/fleet.js';
import { type OtelHarness, otelHarness } from '../../helpers/otel.js';

let hub: Hub | undefined;
let telemetry: LinkTelemetry | undefined;
let otel: OtelHarness | undefined;

afterEach(async () => {
  telemetry?.dispose();
  await hub?.close({ timeoutMs: 500 });
  await otel?.shutdown();
  hub = telemetry = otel = undefined;
});

/** One upgrade with a wrong token, claiming `workerId`; resolves when the hub refused it. */
function badLogin(url: string, workerId: string): Promise<void> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, {
      headers: { authorization: 'Bearer not-the-token-0000000000', 'x-linkwatch-worker-id': workerId },
    });
    ws.on('error', () => resolve());
    ws.on('unexpected-response', (_req, res) => {
      res.resume();
      resolve();
    });
    ws.on('open', () => {
      ws.terminate();
      resolve();
    });
  });
}

describe('failed logins through a real hub', () => {
  it('are counted hub-wide and never become a worker id, a series or a seeded counter', async () => {
    otel = otelHarness();
    hub = await startHub({ handler: () => {}, hubId: 'hub-auth' });
    telemetry = instrument(hub, { side: 'hub', hubId: 'hub-auth', meterProvider: otel.meterProvider });
    const before = (await otel.collect()).scopeMetrics.flatMap((s) =>
      s.metrics.flatMap((m) => m.dataPoints as DataPoint<unknown>[]),
    ).length;
    for (let i = 0; i < 200; i += 20) {
      await Promise.all(Array.from({ length: 20 }, (_, j) => badLogin(hub!.url, `intruder-${i + j}`)));
    }
    const points = (await otel.collect()).scopeMetrics.flatMap((s) =>
      s.metrics.flatMap((m) => m.dataPoints as DataPoint<unknown>[]),
    );
    expect(points.filter((p) => String(p.attributes[ATTR.workerId] ?? '').startsWith('intruder-'))).toEqual(
      [],
    );
    // The count of this error type is the only new series.
    expect(points.length).toBeLessThanOrEqual(before + 1);
    const hubWide = { [ATTR.side]: 'hub', [ATTR.hubId]: 'hub-auth' };
    expect(await otel.total(METRICS.authFailures.name, hubWide)).toBe(200);
  });
});
