import { type ChildProcess, spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { freePort, tempDir, writeFile } from './cli.js';

/**
 * Real Prometheus and Alertmanager on loopback with temporary dirs, and a
 * webhook receiver that records every notification Alertmanager sends.
 */

export interface Service {
  url: string;
  port: number;
  dir: string;
  log: () => string;
  stop(): Promise<void>;
}

async function waitReady(
  url: string,
  proc: ChildProcess,
  log: () => string,
  headers: Record<string, string> = {},
  timeoutMs = 20_000,
) {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    if (proc.exitCode !== null) throw new Error(`exited with ${proc.exitCode}:\n${log().slice(-3000)}`);
    try {
      const res = await fetch(url, { headers, signal: AbortSignal.timeout(1000) });
      if (res.ok) return;
    } catch {}
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`not ready at ${url} within ${timeoutMs} ms:\n${log().slice(-3000)}`);
}

async function startService(
  binary: string,
  args: (port: number, dir: string) => string[],
  dir: string,
  readyHeaders: Record<string, string> = {},
) {
  const port = await freePort();
  const child = spawn(binary, args(port, dir), { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr!.on('data', (d: Buffer) => {
    out += d.toString();
  });
  const url = `http://127.0.0.1:${port}`;
  const service: Service = {
    url,
    port,
    dir,
    log: () => out,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
  try {
    await waitReady(`${url}/-/ready`, child, service.log, readyHeaders);
  } catch (err) {
    await service.stop();
    throw err;
  }
  return service;
}

/** Basic auth on Alertmanager's web server (exporter-toolkit web config): every endpoint needs it. */
export interface BasicAuth {
  user: string;
  password: string;
  /** bcrypt of `password`, as the web config wants it. */
  bcrypt: string;
}

export function startAlertmanager(binary: string, config: string, auth?: BasicAuth): Promise<Service> {
  const dir = tempDir('linkwatch-am-');
  const file = writeFile(dir, 'alertmanager.yml', config);
  const web = auth
    ? [
        `--web.config.file=${writeFile(dir, 'web.yml', `basic_auth_users:\n  ${auth.user}: '${auth.bcrypt}'\n`)}`,
      ]
    : [];
  const readyHeaders: Record<string, string> = auth
    ? { authorization: `Basic ${Buffer.from(`${auth.user}:${auth.password}`).toString('base64')}` }
    : {};
  return startService(
    binary,
    (port) => [
      ...web,
      `--config.file=${file}`,
      `--storage.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      // An empty address turns clustering off, so nothing binds outside loopback.
      '--cluster.listen-address=',
    ],
    dir,
    readyHeaders,
  );
}

export function startPrometheus(binary: string, files: Record<string, string>): Promise<Service> {
  const dir = tempDir('linkwatch-prom-');
  for (const [name, text] of Object.entries(files)) writeFile(dir, name, text);
  return startService(
    binary,
    (port) => [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      // Alerts raised before Prometheus has found its Alertmanager are dropped and only re-sent
      // after this delay (1m by default), so the pipeline check would arrive a minute late.
      '--rules.alert.resend-delay=2s',
    ],
    dir,
  );
}

/** One alert as Alertmanager's webhook delivers it, stamped with when it arrived. */
export interface Notified {
  status: 'firing' | 'resolved';
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt: string;
  receivedAt: number;
}

export interface Webhook {
  url: string;
  alerts: Notified[];
  /** Resolves with the first alert (already received or to come) that matches; rejects at the deadline. */
  waitFor(match: (a: Notified) => boolean, timeoutMs: number, what: string): Promise<Notified>;
  close(): Promise<void>;
}

export async function startWebhook(): Promise<Webhook> {
  const alerts: Notified[] = [];
  const waiters = new Set<() => void>();
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => {
      body += d.toString();
    });
    req.on('end', () => {
      try {
        const payload = JSON.parse(body) as { alerts: Omit<Notified, 'receivedAt'>[] };
        for (const a of payload.alerts) alerts.push({ ...a, receivedAt: performance.now() });
      } catch {}
      res.end('ok');
      for (const w of waiters) w();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    alerts,
    waitFor(match, timeoutMs, what) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const hit = alerts.find(match);
          if (!hit) return;
          done();
          resolve(hit);
        };
        const timer = setTimeout(() => {
          done();
          const seen = alerts.map((a) => `${a.status} ${a.labels.alertname} ${JSON.stringify(a.labels)}`);
          reject(
            new Error(`timed out after ${timeoutMs} ms waiting for ${what}; received:\n${seen.join('\n')}`),
          );
        }, timeoutMs);
        const done = () => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Runs an instant query; returns the result vector. */
export async function query(
  prometheus: Service,
  promql: string,
): Promise<{ metric: Record<string, string>; value: [number, string] }[]> {
  const url = `${prometheus.url}/api/v1/query?query=${encodeURIComponent(promql)}`;
  const res = await fetch(url, { signal: AbortSignal.timeout(5_000) });
  const body = (await res.json()) as {
    status: string;
    error?: string;
    data: { result: { metric: Record<string, string>; value: [number, string] }[] };
  };
  if (body.status !== 'success') throw new Error(`query ${promql} failed: ${body.error}`);
  return body.data.result;
}

/**
 * An Alertmanager config that sends every alert on its own, at once and again
 * when it resolves, to one webhook: what the e2e tests assert on.
 */
export function webhookRoute(webhookUrl: string): string {
  return `route: { receiver: webhook, group_by: ['...'], group_wait: 1s, group_interval: 1s, repeat_interval: 1h }
receivers: [{ name: webhook, webhook_configs: [{ url: '${webhookUrl}', send_resolved: true }] }]
`;
}

/** Alertmanager routing every alert to a webhook the test runs (webhookRoute): the e2e tests' receiving end. */
export async function startAlertRouting(
  alertmanagerBinary: string,
): Promise<{ webhook: Webhook; alertmanager: Service }> {
  const webhook = await startWebhook();
  const alertmanager = await startAlertmanager(alertmanagerBinary, webhookRoute(webhook.url));
  return { webhook, alertmanager };
}

/** A prometheus.yml for the e2e tests: the shipped rule files, one Alertmanager, these jobs. */
export function prometheusConfig(o: {
  scrapeInterval: string;
  scrapeTimeout: string;
  alertmanagerPort: number;
  jobs: Record<string, string[]>;
}): string {
  const jobs = Object.entries(o.jobs).map(
    ([job, targets]) => `  - job_name: ${job}
    static_configs:
      - targets: [${targets.map((t) => `'${t}'`).join(', ')}]
`,
  );
  return `global:
  scrape_interval: ${o.scrapeInterval}
  scrape_timeout: ${o.scrapeTimeout}
  evaluation_interval: 1s
rule_files: [alerts.yml, rules.yml]
alerting:
  alertmanagers:
    - static_configs:
        - targets: ['127.0.0.1:${o.alertmanagerPort}']
scrape_configs:
${jobs.join('')}`;
}
