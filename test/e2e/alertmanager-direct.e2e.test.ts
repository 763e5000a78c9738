import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Hub } from '../../src/hub/hub.js';
import { attachWatchdog } from '../../src/watchdog/attach.js';
import { EventLoopSentinel } from '../../src/watchdog/sentinel.js';
import type { Watchdog } from '../../src/watchdog/watchdog.js';
import type { Worker } from '../../src/worker/worker.js';
import { requireBinaries } from '../helpers/binaries.js';
import { startHub, startWorker, waitFor } from '../helpers/fleet.js';
import {
  type BasicAuth,
  type Service,
  startAlertmanager,
  startWebhook,
  type Webhook,
  webhookRoute,
} from '../helpers/services.js';

/*
 * The in-process path with no Prometheus at all: the hub's watchdog (and the
 * sentinel thread) post straight to a real Alertmanager's v2 API, which routes
 * to a webhook. Alertmanager sits behind Basic auth, as it does when exposed,
 * and the watchdog is given `user:pass@` in its URL.
 */
const bins = requireBinaries('prometheus-alertmanager');

const AUTH: BasicAuth = {
  user: 'linkwatch',
  password: 'am-test-password-5d2e',
  // bcrypt (cost 4) of the password above.
  bcrypt: '$2b$04$CJzvqgxNcgye1/fxhXP3COAzmXE6o4u1UZ7XsOEiceVPPrKVxOAXm',
};

describe.skipIf(bins.skip)('the watchdog posting straight to Alertmanager (no Prometheus)', () => {
  let webhook: Webhook;
  let alertmanager: Service;
  let hub: Hub;
  let worker: Worker;
  let watchdog: Watchdog;
  let release: (() => void) | undefined;
  let amUrl: string;

  beforeAll(async () => {
    webhook = await startWebhook();
    alertmanager = await startAlertmanager(
      bins.paths['prometheus-alertmanager']!,
      webhookRoute(webhook.url),
      AUTH,
    );
    amUrl = alertmanager.url.replace('://', `://${AUTH.user}:${AUTH.password}@`);
    hub = await startHub({
      // While `release` is set, every call hangs and ignores its abort signal.
      handler: () => (release ? new Promise<void>((r) => setTimeout(r, 2_000)) : undefined),
      handlerTimeoutMs: 200,
      heartbeatIntervalMs: 200,
    });
    watchdog = attachWatchdog(hub, {
      alertmanager: { url: amUrl, resendIntervalMs: 1_000 },
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

  it('Alertmanager refuses alerts without the credentials', async () => {
    const res = await fetch(`${alertmanager.url}/api/v2/alerts`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '[]',
    });
    expect(res.status).toBe(401);
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

  it('the sentinel thread posts LinkwatchEventLoopBlocked with the credentials while the main thread is blocked', async () => {
    const sentinel = new EventLoopSentinel({
      thresholdMs: 300,
      checkMs: 50,
      alertmanagerUrl: amUrl,
      labels: { linkwatch_link_side: 'hub', linkwatch_hub_id: 'hub-sentinel-e2e' },
    }).start();
    try {
      await sentinel.ready;
      const start = Date.now();
      while (Date.now() - start < 2_500) {
        /* a blocked event loop: only the sentinel thread runs */
      }
      const isOurs = (a: { labels: Record<string, string> }) =>
        a.labels.alertname === 'LinkwatchEventLoopBlocked' &&
        a.labels.linkwatch_hub_id === 'hub-sentinel-e2e';
      const fired = await webhook.waitFor(
        (a) => isOurs(a) && a.status === 'firing',
        15_000,
        'sentinel alert firing',
      );
      expect(fired.labels).toMatchObject({ source: 'linkwatch-sentinel', severity: 'critical' });
      // Only the sentinel thread posts with this source; the main thread never does.
      expect(new Date(fired.startsAt).getTime()).toBeLessThanOrEqual(start);
      await webhook.waitFor((a) => isOurs(a) && a.status === 'resolved', 15_000, 'sentinel alert resolved');
      expect(sentinel.blocks).toBe(1);
    } finally {
      await sentinel.stop();
    }
  }, 40_000);
});
