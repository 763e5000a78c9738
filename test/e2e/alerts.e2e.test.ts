import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { panelQueries } from '../../grafana/src/queries.js';
import { type FaultProxy, startFaultProxy } from '../../src/chaos/fault-proxy.js';
import { requireBinaries } from '../helpers/binaries.js';
import { freePort, type Proc, runCli, summary, tempDir, writeFile } from '../helpers/cli.js';
import { eventually, hubReady } from '../helpers/fleet.js';
import { rulesForTest } from '../helpers/rules-override.js';
import {
  type Notified,
  prometheusConfig,
  query,
  type Service,
  startAlertRouting,
  startPrometheus,
  type Webhook,
} from '../helpers/services.js';

/*
 * The shipped alert rules on real Prometheus and Alertmanager, against a real
 * fleet of CLI processes. Prometheus scrapes every second with `for:` and
 * rate windows shortened by the test override; Alertmanager routes every
 * alert to a webhook this test runs. For each fault the matching alert must
 * arrive, and resolve after recovery. Times from fault to alert are recorded
 * and printed at the end.
 */

const bins = requireBinaries('prometheus', 'prometheus-alertmanager');
const QUIET_MS = 60_000;
const FIRE_MS = 30_000;
const RESOLVE_MS = 60_000;

const TOKEN = 'e2e-token-0123456789abcdef';
let dir: string;
let webhook: Webhook;
let alertmanager: Service;
let prometheus: Service;
let proxy: FaultProxy;
let hub: Proc;
const workers = new Map<string, { proc: Proc; metricsPort: number; args: string[] }>();
let hubPort: number;
let hubMetricsPort: number;
const timings: Record<string, { alert: string; firedAfterMs: number; resolvedAfterMs: number }> = {};

const fromPrometheus = (a: Notified) => !a.labels.source?.startsWith('linkwatch-');
const inProcess = (a: Notified) => a.labels.source?.startsWith('linkwatch-') === true;

function startWorker(id: string, hubUrl: string, metricsPort: number): void {
  const args = [
    'worker',
    '--hub',
    hubUrl,
    '--id',
    id,
    '--token-file',
    `${dir}/token`,
    '--rate',
    '50',
    '--metrics-listen',
    `127.0.0.1:${metricsPort}`,
    '--alertmanager',
    alertmanager.url,
    '--backoff-max',
    '1s',
    '--drills',
    '--drill-block',
    '4s',
  ];
  workers.set(id, { proc: runCli(args, { LINKWATCH_LOG_LEVEL: 'warn' }), metricsPort, args });
}

function restartWorker(id: string): void {
  const w = workers.get(id)!;
  workers.set(id, { ...w, proc: runCli(w.args, { LINKWATCH_LOG_LEVEL: 'warn' }) });
}

/**
 * Injects a fault, waits for `alert` for `workerId` to fire (from the path
 * `source` picks), recovers, and waits for it to resolve. Records the times.
 */
async function faultCycle(o: {
  name: string;
  alert: string;
  workerId: string;
  source?: (a: Notified) => boolean;
  inject: () => Promise<void> | void;
  recover: () => Promise<void> | void;
}) {
  const source = o.source ?? fromPrometheus;
  const since = performance.now();
  const matches = (status: string) => (a: Notified) =>
    a.receivedAt >= since &&
    a.status === status &&
    a.labels.alertname === o.alert &&
    a.labels.linkwatch_worker_id === o.workerId &&
    source(a);
  await o.inject();
  const fired = await webhook.waitFor(matches('firing'), FIRE_MS, `${o.alert} firing for ${o.workerId}`);
  expect(fired.annotations.summary).toMatch(/\.$/);
  expect(fired.annotations.runbook_url).toContain('runbooks.md#');
  const recoveredAt = performance.now();
  await o.recover();
  const resolved = await webhook.waitFor(
    (a) => matches('resolved')(a) && a.receivedAt >= recoveredAt,
    RESOLVE_MS,
    `${o.alert} resolved for ${o.workerId}`,
  );
  timings[o.name] = {
    alert: o.alert,
    firedAfterMs: Math.round(fired.receivedAt - since),
    resolvedAfterMs: Math.round(resolved.receivedAt - recoveredAt),
  };
}

describe.skipIf(bins.skip)('alerts end to end on real Prometheus and Alertmanager', () => {
  beforeAll(async () => {
    dir = tempDir('linkwatch-e2e-');
    writeFile(dir, 'tokens', `${TOKEN}\n`);
    writeFile(dir, 'token', `${TOKEN}\n`);
    ({ webhook, alertmanager } = await startAlertRouting(bins.paths['prometheus-alertmanager']!));
    hubPort = await freePort();
    hubMetricsPort = await freePort();
    hub = runCli(
      [
        'hub',
        '--listen',
        `127.0.0.1:${hubPort}`,
        '--tokens',
        `${dir}/tokens`,
        '--hub-id',
        'e2e-hub',
        '--heartbeat-interval',
        '1s',
        '--handler-timeout',
        '1s',
        '--metrics-listen',
        `127.0.0.1:${hubMetricsPort}`,
        '--alertmanager',
        alertmanager.url,
        '--drills',
      ],
      { LINKWATCH_LOG_LEVEL: 'warn' },
    );
    await hub.waitFor('hub listening', 15_000).catch(() => {});
    await hubReady(hubPort);
    proxy = await startFaultProxy({ targetPort: hubPort });
    startWorker('w1', `ws://127.0.0.1:${hubPort}`, await freePort());
    startWorker('w2', proxy.url, await freePort());
    startWorker('w3', `ws://127.0.0.1:${hubPort}`, await freePort());
    const targets = [hubMetricsPort, ...[...workers.values()].map((w) => w.metricsPort)].map(
      (p) => `127.0.0.1:${p}`,
    );
    const rules = rulesForTest({ for: '2s', window: '15s' });
    prometheus = await startPrometheus(bins.paths.prometheus!, {
      'alerts.yml': rules.alerts,
      'rules.yml': rules.rules,
      'prometheus.yml': prometheusConfig({
        scrapeInterval: '1s',
        scrapeTimeout: '900ms',
        alertmanagerPort: alertmanager.port,
        jobs: { linkwatch: targets },
      }),
    });
    // Every target scraped, every worker linked.
    await eventually(
      async () => (await query(prometheus, 'up{job="linkwatch"} == 1')).length === 4,
      30_000,
      'all four targets up',
    );
    await eventually(
      async () => (await query(prometheus, 'linkwatch_link_up{linkwatch_link_side="hub"} == 1')).length === 3,
      30_000,
      'three links up on the hub',
    );
  }, 120_000);

  afterAll(async () => {
    const report = Object.entries(timings)
      .map(
        ([fault, t]) =>
          `  ${fault.padEnd(22)} ${t.alert.padEnd(30)} fired after ${t.firedAfterMs} ms, resolved ${t.resolvedAfterMs} ms after recovery`,
      )
      .join('\n');
    if (report) process.stderr.write(`\nfault → alert times (scrape 1 s, for 2 s):\n${report}\n`);
    for (const w of workers.values()) {
      w.proc.child.kill('SIGCONT');
      w.proc.child.kill('SIGKILL');
    }
    hub?.child.kill('SIGKILL');
    await proxy?.close();
    await prometheus?.stop();
    await alertmanager?.stop();
    await webhook?.close();
  }, 30_000);

  it('the always-firing LinkwatchWatchdog proves the pipeline', async () => {
    const a = await webhook.waitFor(
      (x) => x.labels.alertname === 'LinkwatchWatchdog' && x.status === 'firing',
      30_000,
      'LinkwatchWatchdog',
    );
    expect(a.labels.severity).toBe('info');
  }, 40_000);

  it(
    `no false positives: ${QUIET_MS / 1000} s of steady load raise nothing but LinkwatchWatchdog`,
    async () => {
      const start = performance.now();
      // Steady load means messages keep moving through every link the whole time.
      const acked = async () =>
        Number(
          (await query(prometheus, 'sum(linkwatch_messages_acked_total{linkwatch_link_side="worker"})'))[0]
            ?.value[1] ?? 0,
        );
      const before = await acked();
      await new Promise((r) => setTimeout(r, QUIET_MS));
      expect(await acked()).toBeGreaterThan(before + 3 * 50 * (QUIET_MS / 1000) * 0.8);
      const noise = webhook.alerts.filter((a) => a.labels.alertname !== 'LinkwatchWatchdog');
      expect(
        noise.map((a) => `${a.status} ${a.labels.alertname} ${a.labels.linkwatch_worker_id ?? ''}`),
      ).toEqual([]);
      const pending = await query(prometheus, 'ALERTS{alertname!="LinkwatchWatchdog"}');
      expect(pending.map((p) => p.metric.alertname)).toEqual([]);
      expect(performance.now() - start).toBeGreaterThanOrEqual(QUIET_MS);
    },
    QUIET_MS + 30_000,
  );

  it('every dashboard panel query returns data from the running fleet', async () => {
    const empty: string[] = [];
    const queries = panelQueries();
    expect(queries.length).toBeGreaterThan(20);
    for (const q of queries) {
      const result = await query(prometheus, q.expr);
      if (result.length === 0 && !q.mayBeEmpty)
        empty.push(`${q.dashboard} / ${q.panel} (${q.refId}): ${q.expr}`);
    }
    expect(empty).toEqual([]);
  }, 60_000);

  it('a black-holed link: LinkwatchLinkDown fires and resolves after the link heals', async () => {
    await faultCycle({
      name: 'black hole',
      alert: 'LinkwatchLinkDown',
      workerId: 'w2',
      inject: () => proxy.blackhole('both'),
      recover: () => proxy.heal(),
    });
  }, 120_000);

  it('a hung handler: LinkwatchHandlerHung fires from Prometheus and from the hub watchdog, then resolves', async () => {
    const inProcessSince = performance.now();
    await faultCycle({
      name: 'hung handler',
      alert: 'LinkwatchHandlerHung',
      workerId: 'w3',
      inject: async () => {
        const res = await fetch(`http://127.0.0.1:${hubPort}/drills/hang?worker=w3&duration=8s`, {
          method: 'POST',
          headers: { 'x-linkwatch-drill': '1' },
        });
        expect(res.status).toBe(200);
      },
      // The drill ends by itself after 8 s; recovery is the hung calls returning.
      recover: () =>
        eventually(
          async () =>
            (
              await query(
                prometheus,
                'linkwatch_queue_hung{linkwatch_worker_id="w3",linkwatch_link_side="hub"}',
              )
            )[0]?.value[1] === '0',
          20_000,
          'hung handlers to return',
        ),
    });
    // The in-process path: the hub's watchdog posted the same alert straight to Alertmanager.
    const direct = webhook.alerts.filter(
      (a) =>
        a.receivedAt >= inProcessSince &&
        inProcess(a) &&
        a.labels.alertname === 'LinkwatchHandlerHung' &&
        a.labels.linkwatch_worker_id === 'w3',
    );
    expect(direct.map((a) => a.status)).toContain('firing');
    await webhook.waitFor(
      (a) =>
        a.receivedAt >= inProcessSince &&
        inProcess(a) &&
        a.labels.alertname === 'LinkwatchHandlerHung' &&
        a.status === 'resolved',
      RESOLVE_MS,
      'the in-process LinkwatchHandlerHung to resolve',
    );
  }, 150_000);

  it('a failing handler: LinkwatchHandlerFailing fires from Prometheus and resolves once calls succeed again', async () => {
    const drill = async (duration: string) => {
      const res = await fetch(`http://127.0.0.1:${hubPort}/drills/fail?worker=w3&duration=${duration}`, {
        method: 'POST',
        headers: { 'x-linkwatch-drill': '1' },
      });
      expect(res.status).toBe(200);
    };
    await faultCycle({
      name: 'failing handler',
      alert: 'LinkwatchHandlerFailing',
      workerId: 'w3',
      inject: () => drill('120s'),
      // A zero-length drill ends the running one.
      recover: () => drill('0s'),
    });
    // The failures were counted by their stable code, and the link kept flowing (failed calls are acked).
    const failed = await query(
      prometheus,
      'linkwatch_queue_failed_total{linkwatch_worker_id="w3",linkwatch_link_side="hub",error_type="LW_ERR_HANDLER_FAILED"}',
    );
    expect(Number(failed[0]?.value[1] ?? 0)).toBeGreaterThan(50);
  }, 150_000);

  it('a killed worker: the dead-man switch LinkwatchWorkerAbsent fires and resolves on restart', async () => {
    await faultCycle({
      name: 'killed worker',
      alert: 'LinkwatchWorkerAbsent',
      workerId: 'w1',
      inject: async () => {
        const w = workers.get('w1')!;
        w.proc.child.kill('SIGKILL');
        await w.proc.exited;
      },
      recover: () => restartWorker('w1'),
    });
  }, 150_000);

  it('a frozen worker (SIGSTOP): LinkwatchWorkerAbsent fires and resolves after SIGCONT', async () => {
    await faultCycle({
      name: 'frozen worker',
      alert: 'LinkwatchWorkerAbsent',
      workerId: 'w3',
      inject: () => {
        workers.get('w3')!.proc.child.kill('SIGSTOP');
      },
      recover: () => {
        workers.get('w3')!.proc.child.kill('SIGCONT');
      },
    });
  }, 150_000);

  it('a blocked event loop: LinkwatchEventLoopBlocked fires (sentinel thread and Prometheus) and resolves', async () => {
    await eventually(
      async () =>
        (
          await query(
            prometheus,
            'linkwatch_link_up{linkwatch_worker_id="w1",linkwatch_link_side="worker"} == 1',
          )
        ).length === 1,
      30_000,
      'the restarted w1 to be linked and scraped',
    );
    const since = performance.now();
    await faultCycle({
      name: 'blocked event loop',
      alert: 'LinkwatchEventLoopBlocked',
      workerId: 'w1',
      source: () => true,
      inject: () => {
        workers.get('w1')!.proc.child.kill('SIGUSR2');
      },
      // The drill blocks for 4 s and ends by itself.
      recover: () =>
        eventually(
          async () => (await fetch(`http://127.0.0.1:${workers.get('w1')!.metricsPort}/metrics`)).ok,
          15_000,
          'w1 to answer scrapes again',
        ),
    });
    // The sentinel thread posted while the main thread was still blocked.
    const sentinel = webhook.alerts.find(
      (a) =>
        a.receivedAt >= since &&
        a.labels.source === 'linkwatch-sentinel' &&
        a.labels.alertname === 'LinkwatchEventLoopBlocked' &&
        a.status === 'firing',
    );
    expect(sentinel?.labels.linkwatch_worker_id).toBe('w1');
  }, 150_000);

  it('after every fault, nothing was lost: the workers stop cleanly with everything acked', async () => {
    for (const [id, w] of workers) {
      if (id === 'w1') continue; // killed once: its first process's unacked messages died with it
      w.proc.child.kill('SIGTERM');
      const { code } = await w.proc.exited;
      expect(code).toBe(0);
      const s = summary(w.proc) as { sent: number; acked: number; unacked: number };
      expect(s.unacked).toBe(0);
      expect(s.acked).toBe(s.sent);
    }
  }, 60_000);
});
