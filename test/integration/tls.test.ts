import { readFileSync } from 'node:fs';
import { get } from 'node:https';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type Hub, readTlsFiles } from '../../src/hub/hub.js';
import type { LinkEvent } from '../../src/link/events.js';
import { linkLogger } from '../../src/log/link-logger.js';
import { jsonLogger } from '../../src/log/logger.js';
import type { Worker } from '../../src/worker/worker.js';
import { freePort, type Proc, runCli, summary, tempDir, writeFile } from '../helpers/cli.js';
import { nextEvent, recorder, startHub, startWorker, TOKEN, waitFor } from '../helpers/fleet.js';

/** A self-signed cert for 127.0.0.1 that is its own CA (see test/fixtures/tls/README.md). */
const FIXTURES = join(import.meta.dirname, '../fixtures/tls');
const CERT_FILE = join(FIXTURES, 'cert.pem');
const KEY_FILE = join(FIXTURES, 'key.pem');
const CERT = readFileSync(CERT_FILE);

let hub: Hub | undefined;
let workers: Worker[] = [];
let procs: Proc[] = [];
afterEach(async () => {
  await Promise.all(workers.map((w) => w.stop({ timeoutMs: 300 })));
  workers = [];
  await hub?.close({ timeoutMs: 300 });
  hub = undefined;
  for (const p of procs)
    if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
  await Promise.all(procs.map((p) => p.exited));
  procs = [];
});

/** Every event and every link log line of a hub and its workers, to search for the token. */
function capture() {
  const events: LinkEvent[] = [];
  const lines: string[] = [];
  const logger = jsonLogger({ level: 'debug', write: (l) => lines.push(l) });
  return {
    events,
    lines,
    watch(source: { on(l: (e: LinkEvent) => void): () => void }) {
      source.on((e) => events.push(e));
      source.on(linkLogger(logger));
    },
    text: () => JSON.stringify(events) + lines.join(''),
  };
}

function httpsJson(url: string): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    get(url, { ca: CERT }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => {
        body += d.toString();
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(body) }));
    }).on('error', reject);
  });
}

describe('wss:// between hub and worker', () => {
  it('delivers and heartbeats over TLS for a worker that trusts the CA', async () => {
    const seen = capture();
    const rec = recorder();
    hub = await startHub({
      handler: rec.handler,
      tls: readTlsFiles(CERT_FILE, KEY_FILE),
      heartbeatIntervalMs: 100,
    });
    expect(hub.url).toMatch(/^wss:\/\/127\.0\.0\.1:\d+$/);
    seen.watch(hub);
    const w = startWorker(hub.url, { tls: { ca: CERT } }, false);
    workers.push(w);
    seen.watch(w);
    w.start();
    for (let i = 0; i < 500; i++) await w.send({ i });
    await waitFor(() => w.session.outbox.size === 0, 5000, 'all acked over TLS');
    expect(rec.byWorker.get('w1')).toEqual(Array.from({ length: 500 }, (_, i) => i + 1));
    expect(w.status().counters).toMatchObject({ sent: 500, acked: 500, replayed: 0, reconnects: 0 });

    // Heartbeats flow both ways and yield an RTT on each side.
    const count = (side: string, type: string) =>
      seen.events.filter((e) => e.side === side && e.type === type).length;
    await waitFor(
      () => count('worker', 'heartbeat-rtt') >= 3 && count('hub', 'heartbeat-rtt') >= 3,
      3000,
      'three heartbeat round trips each way',
    );
    expect(count('worker', 'heartbeat-received')).toBeGreaterThanOrEqual(3);
    expect(count('hub', 'heartbeat-received')).toBeGreaterThanOrEqual(3);
    expect(count('worker', 'heartbeat-missed')).toBe(0);
    expect(w.status().lastRttMs).toBeGreaterThan(0);
    expect(w.status().lastRttMs).toBeLessThan(1000);

    // The hub's HTTP routes are served over the same TLS port.
    const links = await httpsJson(`${hub.httpUrl}/links`);
    expect(hub.httpUrl).toMatch(/^https:/);
    expect(links.status).toBe(200);
    expect((links.body as { links: { workerId: string; connected: boolean }[] }).links).toEqual([
      expect.objectContaining({ workerId: 'w1', connected: true }),
    ]);
    expect(seen.text()).not.toContain(TOKEN);
  });

  it('a worker without the CA fails the handshake with LW_ERR_CONNECT, keeps retrying, and leaks no token', async () => {
    const seen = capture();
    const rec = recorder();
    hub = await startHub({ handler: rec.handler, tls: { cert: CERT, key: readFileSync(KEY_FILE) } });
    seen.watch(hub);
    const untrusting = startWorker(
      hub.url,
      { workerId: 'w-no-ca', backoff: { initialDelayMs: 10, maxDelayMs: 50 } },
      false,
    );
    workers.push(untrusting);
    seen.watch(untrusting);
    const failures = () => seen.events.filter((e) => e.type === 'handshake-failed');
    untrusting.start();
    const waiting = untrusting.waitConnected(300).then(
      () => 'connected',
      (err: Error) => err.message,
    );
    await waitFor(() => failures().length >= 5, 5000, 'five failed TLS handshakes');
    expect(new Set(failures().map((e) => (e as { errorType: string }).errorType))).toEqual(
      new Set(['LW_ERR_CONNECT']),
    );
    expect(seen.events.filter((e) => e.type === 'reconnect-scheduled').length).toBeGreaterThanOrEqual(5);
    expect(['backoff', 'connecting']).toContain(untrusting.state);
    expect(untrusting.status().counters.reconnects).toBe(0);
    const message = await waiting;
    expect(message).toMatch(/not connected within 300 ms/);
    expect(message).not.toContain(TOKEN);
    // It never got past TLS: no auth attempt, no session on the hub.
    expect(hub.stats.authFailures).toBe(0);
    expect(hub.sessions().has('w-no-ca')).toBe(false);

    // The hub is unharmed: a worker with the CA connects and delivers alongside the failing one.
    const trusting = startWorker(hub.url, { workerId: 'w-ca', tls: { ca: CERT } }, false);
    workers.push(trusting);
    seen.watch(trusting);
    const connected = nextEvent(trusting, 'connected', 5000);
    trusting.start();
    await connected;
    await trusting.send({ ok: true });
    await waitFor(() => rec.messages.length === 1, 5000, 'delivery from the trusting worker');
    const before = failures().length;
    await waitFor(() => failures().length > before, 5000, 'the untrusting worker still retrying');
    expect(seen.text()).not.toContain(TOKEN);
  });

  it('readTlsFiles names the file it cannot read', () => {
    expect(() => readTlsFiles(join(FIXTURES, 'missing.pem'), KEY_FILE)).toThrow(
      /^TLS cert file .*missing\.pem: ENOENT$/,
    );
    expect(() => readTlsFiles(CERT_FILE, join(FIXTURES, 'nokey.pem'))).toThrow(
      /^TLS key file .*nokey\.pem: ENOENT$/,
    );
  });
});

describe('linkwatch hub --tls-cert --tls-key and worker --ca', () => {
  it('delivers 50 messages over wss:// and both print their summaries', async () => {
    const dir = tempDir();
    const secret = 'cli-tls-token-0123456789';
    const tokens = writeFile(dir, 'tokens', `${secret} w-tls\n`);
    const tokenFile = writeFile(dir, 'token', `${secret}\n`);
    const port = await freePort();
    const h = runCli([
      'hub',
      '--listen',
      `127.0.0.1:${port}`,
      '--tokens',
      tokens,
      '--tls-cert',
      CERT_FILE,
      '--tls-key',
      KEY_FILE,
      '--metrics-listen',
      'off',
      '--heartbeat-interval',
      '200ms',
    ]);
    procs.push(h);
    await h.waitFor('hub listening');
    expect(h.stderr()).toContain(`"url":"wss://127.0.0.1:${port}"`);
    const w = runCli([
      'worker',
      '--hub',
      `wss://127.0.0.1:${port}`,
      '--ca',
      CERT_FILE,
      '--id',
      'w-tls',
      '--token-file',
      tokenFile,
      '--count',
      '50',
      '--rate',
      '500',
      '--metrics-listen',
      'off',
    ]);
    procs.push(w);
    const { code } = await w.exited;
    expect(code, w.stderr().slice(-2000)).toBe(0);
    expect(summary(w)).toMatchObject({ role: 'worker', workerId: 'w-tls', sent: 50, acked: 50, unacked: 0 });

    h.child.kill('SIGTERM');
    expect((await h.exited).code).toBe(0);
    expect(summary(h)).toMatchObject({ role: 'hub', received: 50, processed: 50, duplicatesDropped: 0 });
    for (const p of [h, w]) expect(p.stdout() + p.stderr()).not.toContain(secret);
  });

  it('rejects --tls-cert without --tls-key, and a key file it cannot read, with exit code 2', async () => {
    const dir = tempDir();
    const tokens = writeFile(dir, 'tokens', 'cli-tls-token-0123456789\n');
    const base = ['hub', '--listen', '127.0.0.1:0', '--tokens', tokens, '--metrics-listen', 'off'];
    const alone = runCli([...base, '--tls-cert', CERT_FILE]);
    const missing = join(dir, 'no-such-key.pem');
    const unreadable = runCli([...base, '--tls-cert', CERT_FILE, '--tls-key', missing]);
    procs.push(alone, unreadable);
    expect((await alone.exited).code).toBe(2);
    expect(alone.stderr()).toContain('--tls-cert and --tls-key go together');
    expect((await unreadable.exited).code).toBe(2);
    expect(unreadable.stderr()).toContain(`TLS key file ${missing}: ENOENT`);
  });
});
