import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Hub } from '../../src/hub/hub.js';
import { attachWatchdog } from '../../src/watchdog/attach.js';
import type { Watchdog } from '../../src/watchdog/watchdog.js';
import type { Worker } from '../../src/worker/worker.js';
import { requireBinaries } from '../helpers/binaries.js';
import { startHub, startWorker, waitFor } from '../helpers/fleet.js';
import { type Service, startAlertmanager, startWebhook, type Webhook } from '../helpers/services.js';

/*
 * The in-process path with no Prometheus at all: the hub's watchdog posts
 * straight to a real Alertmanager's v2 API, which routes to a webhook.
 */
const bins = requireBinaries('prometheus-alertmanager');

describe.skipIf(bins.skip)('the watchdog posting straight to Alertmanager (no Prometheus)', () => {
  let webhook: Webhook;
  let alertmanager: Service;
  let hub: Hub;
  let worker: Worker;
  let watchdog: Watchdog;
  let release: (() => void) | undefined;

  beforeAll(async () => {
    webhook = await startWebhook();
    alertmanager = await startAlertmanager(
      bins.paths['prometheus-alertmanager']!,
      `route: { receiver: webhook, group_by: ['...'], group_wait: 1s, group_interval: 1s, repeat_interval: 1h }
receivers: [{ name: webhook, webhook_configs: [{ url: '${webhook.url}', send_resolved: true }] }]
`,
    );
    hub = await startHub({
      // While `release` is set, every call hangs and ignores its abort signal.
      handler: () => (release ? new Promise<void>((r) => setTimeout(r, 2_000)) : undefined),
      handlerTimeoutMs: 200,
      heartbeatIntervalMs: 200,
    });
    watchdog = attachWatchdog(hub, {
      alertmanager: { url: alertmanager.url, resendIntervalMs: 1_000 },
      sentinel: false,
      checkIntervalMs: 100,
    });
    worker = startWorker(hub.url);
    await worker.waitConnected();
  }, 60_000);

  afterAll(async () => {
    await worker?.stop({ timeoutMs: 500 });
    await hub?.close({ timeoutMs: 500 });
    await watchdog?.stop();
    await alertmanager?.stop();
    await webhook?.close();
  });

  it('a hung handler reaches Alertmanager as LinkwatchHandlerHung and resolves once it returns', async () => {
    release = () => {};
    const start = performance.now();
    for (let i = 0; i < 5; i++) await worker.send({ i });
    const fired = await webhook.waitFor(
      (a) => a.labels.alertname === 'LinkwatchHandlerHung' && a.status === 'firing',
      15_000,
      'LinkwatchHandlerHung firing',
    );
    expect(fired.labels).toMatchObject({
      source: 'linkwatch-watchdog',
      severity: 'warning',
      linkwatch_worker_id: 'w1',
      linkwatch_link_side: 'hub',
      linkwatch_hub_id: hub.hubId,
      linkwatch_reason: 'handler-hung',
    });
    expect(fired.annotations.runbook_url).toMatch(/runbooks\.md#linkwatchhandlerhung$/);
    expect(JSON.stringify(fired)).not.toContain('test-token');
    process.stderr.write(
      `in-process: hang → Alertmanager → webhook in ${Math.round(fired.receivedAt - start)} ms\n`,
    );
    release = undefined;
    await waitFor(() => hub.sessions().get('w1')?.queue.hung === 0, 10_000, 'hung calls to return');
    const resolved = await webhook.waitFor(
      (a) => a.labels.alertname === 'LinkwatchHandlerHung' && a.status === 'resolved',
      15_000,
      'LinkwatchHandlerHung resolved',
    );
    expect(new Date(resolved.endsAt).getTime()).toBeGreaterThan(new Date(resolved.startsAt).getTime());
    expect(watchdog.alertmanager?.failed).toBe(0);
  }, 40_000);
});
