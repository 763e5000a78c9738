import { createServer as createHttpServer } from 'node:http';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { LinkInfo } from '../../../src/hub/link-info.js';
import { cliPerTest, freePort, type Proc, runCli, summary, tempDir, writeFile } from '../../helpers/cli.js';
import { eventually } from '../../helpers/fleet.js';

const cli = cliPerTest();

const SECRET = 'cli-test-token-0123456789';

function files() {
  const dir = tempDir();
  return {
    dir,
    tokens: writeFile(dir, 'tokens', `# fleet tokens\n${SECRET} w-cli\n`),
    token: writeFile(dir, 'token', `${SECRET}\n`),
  };
}

/**
 * Runs the CLI to its exit; it must exit 2 having printed `message` (and the
 * usage hint) on stderr. Not in `procs`: these run concurrently, and one
 * test's afterEach must not kill another's process. A process that does not
 * exit (it started serving instead) is killed at the deadline and fails.
 */
async function usageError(
  args: string[],
  message: string | RegExp,
  deadlineMs = 8000,
  env: NodeJS.ProcessEnv = {},
): Promise<string> {
  const p = runCli(args, env);
  const deadline = setTimeout(() => p.child.kill('SIGKILL'), deadlineMs);
  const { code } = await p.exited;
  clearTimeout(deadline);
  const err = p.stderr();
  expect(code, err).toBe(2);
  if (typeof message === 'string') expect(err).toContain(message);
  else expect(err).toMatch(message);
  expect(err).toContain('Run "linkwatch --help" for usage.');
  expect(p.stdout()).toBe('');
  return err;
}

const hubArgs = (tokens: string, listen = '127.0.0.1:0') => [
  'hub',
  '--listen',
  listen,
  '--tokens',
  tokens,
  '--metrics-listen',
  'off',
];

function workerArgs(port: number, token: string, extra: string[] = []) {
  return [
    'worker',
    '--hub',
    `ws://127.0.0.1:${port}`,
    '--id',
    'w-cli',
    '--token-file',
    token,
    '--metrics-listen',
    'off',
    ...extra,
  ];
}

describe.concurrent('bad flags and files: exit code 2 and a message naming the flag or file', () => {
  it('an unknown command or flag', async () => {
    await usageError(['hubb'], 'unknown command "hubb"');
    await usageError(['hub', '--bogus-flag'], "Unknown option '--bogus-flag'");
    await usageError(['worker', '--hub', 'ws://127.0.0.1:1', '--nope'], "Unknown option '--nope'");
  });

  it('hub without --tokens, or with a token file it cannot read', async () => {
    await usageError(['hub', '--metrics-listen', 'off'], '--tokens FILE is required');
    const { dir } = files();
    const missing = join(dir, 'no-such-tokens');
    await usageError(hubArgs(missing), `--tokens: cannot read ${missing}: ENOENT`);
    await usageError(hubArgs(dir), `--tokens: cannot read ${dir}: EISDIR`);
  });

  it('a token file with a short token names the file and the line, not the token', async () => {
    const { dir } = files();
    const file = writeFile(dir, 'short-tokens', `${SECRET} w1\n\n# comment\nab12cd w2\n`);
    const err = await usageError(hubArgs(file), `--tokens: ${file}:4: the token must be at least 8 chars`);
    expect(err).not.toContain('ab12cd');
    expect(err).not.toContain(SECRET);
  });

  it('a malformed JSON token file says so without echoing the file', async () => {
    const { dir } = files();
    const file = writeFile(dir, 'tokens.json', `[{ "token": "${SECRET}", "workerIds": ["w1"], }]`);
    const err = await usageError(hubArgs(file), `--tokens: ${file}: not valid JSON`);
    expect(err).not.toContain(SECRET);
    expect(err).not.toContain('workerIds');
  });

  it('--listen with a bad port', async () => {
    const { tokens } = files();
    await usageError(hubArgs(tokens, '127.0.0.1:99999'), '--listen: port 99999 is out of range');
    await usageError(hubArgs(tokens, '127.0.0.1:http'), '--listen: expected HOST:PORT, got "127.0.0.1:http"');
  });

  async function withBusyPort(fn: (port: number) => Promise<void>): Promise<void> {
    const busy: Server = createServer();
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
    try {
      await fn((busy.address() as { port: number }).port);
    } finally {
      await new Promise((r) => busy.close(r));
    }
  }

  it('--listen on a port already in use names the flag, the address and EADDRINUSE', async () => {
    const { tokens } = files();
    await withBusyPort(async (port) => {
      const p = runCli(hubArgs(tokens, `127.0.0.1:${port}`));
      try {
        await p.waitFor(`linkwatch: --listen 127.0.0.1:${port}: EADDRINUSE`, 8000);
      } finally {
        p.child.kill('SIGKILL');
      }
    });
  });

  // Regression: the watchdog was attached before hub.listen() and a failed listen only shut
  // telemetry down, so the message was printed but the process never exited.
  it('--listen on a port already in use exits with code 2', async () => {
    const { tokens } = files();
    await withBusyPort(async (port) => {
      await usageError(
        hubArgs(tokens, `127.0.0.1:${port}`),
        `--listen 127.0.0.1:${port}: EADDRINUSE`,
        10_000,
      );
    });
  });

  it('--metrics-listen that is neither HOST:PORT nor off', async () => {
    const { tokens } = files();
    await usageError(
      ['hub', '--listen', '127.0.0.1:0', '--tokens', tokens, '--metrics-listen', 'on'],
      '--metrics-listen: expected HOST:PORT, got "on"',
    );
  });

  it('worker with a bad --rate, or a token file it cannot read', async () => {
    const { token, dir } = files();
    await usageError(workerArgs(1, token, ['--rate', 'fast']), '--rate: expected an integer ≥ 0, got "fast"');
    await usageError(workerArgs(1, token, ['--rate', '1.5']), '--rate: expected an integer ≥ 0, got "1.5"');
    const missing = join(dir, 'no-such-token');
    await usageError(workerArgs(1, missing), `--token-file: cannot read ${missing}: ENOENT`);
  });

  it('worker with a bad --hub URL never echoes credentials or a query', async () => {
    const { token } = files();
    const withCreds = workerArgs(1, token);
    withCreds[2] = 'ws://admin:pa55w0rd-in-url@127.0.0.1:1';
    const e1 = await usageError(withCreds, 'Expected --hub to be a URL without credentials');
    expect(e1).not.toContain('pa55w0rd-in-url');
    expect(e1).not.toContain('admin');
    const notWs = workerArgs(1, token);
    notWs[2] = 'http://ops:pa55w0rd-in-url@127.0.0.1:1/?token=query-secret-42';
    const e2 = await usageError(notWs, 'Expected --hub to be a ws:// or wss:// URL');
    expect(e2).not.toContain('pa55w0rd-in-url');
    expect(e2).not.toContain('query-secret-42');
    await usageError(['worker', '--id', 'w1', '--token-file', token], '--hub URL is required');
  });

  it('a bad --alertmanager URL names the flag and never echoes its credentials', async () => {
    const { token, tokens } = files();
    const e1 = await usageError(
      workerArgs(1, token, ['--alertmanager', 'ftp://ops:am-pa55-in-url@127.0.0.1:9093']),
      '--alertmanager: expected an http(s) URL, got "ftp://[redacted]@127.0.0.1:9093"',
    );
    expect(e1).not.toContain('am-pa55-in-url');
    const e2 = await usageError(
      [...hubArgs(tokens), '--alertmanager', 'http://ops:am-pa55-in-url@127.0.0.1:9093/?x=1'],
      '--alertmanager: expected an http(s) base URL without a query or fragment',
    );
    expect(e2).not.toContain('am-pa55-in-url');
    const e3 = await usageError(
      workerArgs(1, token),
      'LINKWATCH_ALERTMANAGER_URL: expected an http(s) URL',
      8000,
      {
        LINKWATCH_ALERTMANAGER_URL: 'am.local:9093',
      },
    );
    expect(e3).toContain('"am.local:9093"');
    const e4 = await usageError(workerArgs(1, token), 'LINKWATCH_ALERTMANAGER_URL: expected', 8000, {
      LINKWATCH_ALERTMANAGER_URL: 'ftp://ops:am-pa55-in-env@127.0.0.1:9093',
    });
    expect(e4).not.toContain('am-pa55-in-env');
  });
});

async function getJson(url: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(url);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

function stdoutLines(p: Proc): string[] {
  return p.stdout().trim().split('\n').filter(Boolean);
}

async function startHubCli(extra: string[] = []) {
  const f = files();
  const port = await freePort();
  const hub = cli([...hubArgs(f.tokens, `127.0.0.1:${port}`), '--heartbeat-interval', '200ms', ...extra]);
  await hub.waitFor('hub listening');
  return { ...f, port, hub, http: `http://127.0.0.1:${port}` };
}

describe('a hub and a worker as users run them', () => {
  it('serves /healthz, /readyz and /links; SIGINT stops the worker and SIGTERM the hub, each with a summary', async () => {
    const { hub, http, port, token } = await startHubCli();
    expect(await getJson(`${http}/healthz`)).toMatchObject({ status: 200, body: { status: 'ok' } });
    expect(await getJson(`${http}/readyz`)).toMatchObject({ status: 200, body: { status: 'ready' } });
    expect((await getJson(`${http}/nope`)).status).toBe(404);
    expect(await getJson(`${http}/links`)).toMatchObject({ status: 200, body: { links: [] } });

    const worker = cli(workerArgs(port, token, ['--rate', '200']));
    let link: LinkInfo | undefined;
    await eventually(
      async () => {
        const { body } = await getJson(`${http}/links`);
        link = (body.links as LinkInfo[])[0];
        // The watchdog checks every 500 ms; until its first check the state still reads 'connecting'.
        return (
          !!link &&
          link.seqs.processed >= 50 &&
          link.heartbeatAgeMs !== null &&
          link.lastRttMs !== null &&
          link.state === 'healthy'
        );
      },
      10_000,
      () => `a worker with 50 processed and heartbeats on /links, last ${JSON.stringify(link)}`,
    );
    const l = link!;
    expect(l).toMatchObject({
      workerId: 'w-cli',
      connected: true,
      state: 'healthy',
      reconnects: 0,
      alerts: [],
    });
    // Heartbeats every 200 ms: the age stays within one interval plus slack; RTT is loopback-small.
    expect(l.heartbeatAgeMs).toBeGreaterThanOrEqual(0);
    expect(l.heartbeatAgeMs).toBeLessThan(1000);
    expect(l.lastRttMs).toBeGreaterThanOrEqual(0);
    expect(l.lastRttMs).toBeLessThan(500);
    expect(l.seqs.received).toBeGreaterThanOrEqual(l.seqs.processed);
    expect(l.seqs.processed).toBeGreaterThanOrEqual(l.seqs.acked);
    expect(l.seqs.acked).toBeGreaterThanOrEqual(0);
    expect(l.queueDepth).toBeGreaterThanOrEqual(0);
    expect(l.queueDepth).toBeLessThanOrEqual(1000);
    expect(l.counters.duplicates).toBe(0);
    expect(l.peerProgress?.sent).toBeGreaterThan(0);

    worker.child.kill('SIGINT');
    expect((await worker.exited).code).toBe(0);
    expect(stdoutLines(worker)).toHaveLength(1);
    const ws = summary(worker);
    expect(ws).toMatchObject({ role: 'worker', workerId: 'w-cli', replayed: 0, dropped: 0, unacked: 0 });
    expect(ws.sent).toBeGreaterThanOrEqual(50);
    expect(ws.acked).toBe(ws.sent);
    expect(worker.stderr()).toContain('"reason":"SIGINT"');

    // The hub still knows the worker, now disconnected; it keeps serving.
    const after = (await getJson(`${http}/links`)).body.links as LinkInfo[];
    expect(after).toEqual([expect.objectContaining({ workerId: 'w-cli', connected: false })]);
    expect((await getJson(`${http}/readyz`)).status).toBe(200);

    hub.child.kill('SIGTERM');
    expect((await hub.exited).code).toBe(0);
    expect(stdoutLines(hub)).toHaveLength(1);
    expect(summary(hub)).toMatchObject({
      role: 'hub',
      received: ws.sent,
      processed: ws.sent,
      duplicatesDropped: 0,
      failed: 0,
      workers: 1,
    });
    for (const p of [hub, worker]) expect(p.stdout() + p.stderr()).not.toContain(SECRET);
  });

  it('SIGTERM stops the worker and SIGINT the hub; --metrics-listen HOST:PORT serves /metrics, off serves none', async () => {
    const metricsPort = await freePort();
    const { hub, port, token } = await startHubCli(['--metrics-listen', `127.0.0.1:${metricsPort}`]);
    expect(hub.stderr()).toContain(`"metrics":"http://127.0.0.1:${metricsPort}/metrics"`);
    const worker = cli(workerArgs(port, token, ['--rate', '500']));
    await worker.waitFor('link connected');
    expect(worker.stderr()).toContain('"metrics":"off"');
    await eventually(
      async () => (await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text()).includes('w-cli'),
      10_000,
      'the worker id in the hub scrape',
    );
    const scrape = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
    expect(scrape.status).toBe(200);
    expect(await scrape.text()).toMatch(/^linkwatch_\w+\{[^}]*linkwatch_worker_id="w-cli"/m);

    worker.child.kill('SIGTERM');
    expect((await worker.exited).code).toBe(0);
    const ws = summary(worker);
    expect(ws).toMatchObject({ role: 'worker', replayed: 0, dropped: 0, unacked: 0 });
    expect(ws.acked).toBe(ws.sent);
    expect(worker.stderr()).toContain('"reason":"SIGTERM"');

    hub.child.kill('SIGINT');
    expect((await hub.exited).code).toBe(0);
    expect(stdoutLines(hub)).toHaveLength(1);
    expect(summary(hub)).toMatchObject({
      role: 'hub',
      received: ws.sent,
      processed: ws.sent,
      duplicatesDropped: 0,
    });
    // The exporter's port is released with the process.
    await expect(fetch(`http://127.0.0.1:${metricsPort}/metrics`)).rejects.toThrow();
  });

  // Regression: the worker waited for its producer before stopping, and a producer blocked on a
  // full outbox (hub unreachable) never returned, so SIGTERM left the process running forever.
  it('SIGTERM stops a worker whose hub is unreachable and whose outbox is full, within its shutdown deadline', async () => {
    const { token } = files();
    const nobody = await freePort(); // nothing listens here
    const metricsPort = await freePort();
    const worker = cli([
      ...workerArgs(nobody, token, ['--rate', '1000', '--outbox-max-messages', '10']),
      '--metrics-listen',
      `127.0.0.1:${metricsPort}`,
      '--shutdown-timeout',
      '500ms',
    ]);
    // Full outbox and a producer waiting for room: exactly the state that used to hang.
    await eventually(
      async () => {
        const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
        return /^linkwatch_outbox_waiting\{[^}]*\} 1$/m.test(text);
      },
      10_000,
      'a producer blocked on a full outbox',
    );
    const t0 = performance.now();
    worker.child.kill('SIGTERM');
    const { code } = await worker.exited;
    expect(code).toBe(0);
    expect(performance.now() - t0).toBeLessThan(5000);
    expect(summary(worker)).toMatchObject({ role: 'worker', sent: 0, acked: 0, unacked: 10 });
  });

  it("--drills: POST /drills/fail makes one worker's handler throw until a 0s drill ends it; bad requests get 400", async () => {
    const { hub, http, port, token } = await startHubCli(['--drills']);
    const worker = cli(workerArgs(port, token, ['--rate', '200']));
    const counters = async () =>
      ((await getJson(`${http}/links`)).body.links as LinkInfo[])[0]?.counters ?? { processed: 0, failed: 0 };
    await eventually(async () => (await counters()).processed >= 20, 10_000, 'messages processed');

    const post = (query: string) =>
      fetch(`${http}/drills/fail?${query}`, { method: 'POST', headers: { 'x-linkwatch-drill': '1' } });
    expect((await post('duration=10s')).status).toBe(400); // no worker=ID
    expect((await post('worker=w-cli&duration=soon')).status).toBe(400);
    const started = await post('worker=w-cli&duration=60s');
    expect(started.status).toBe(200);
    expect(await started.json()).toEqual({ drill: 'fail', worker: 'w-cli', durationMs: 60_000 });
    await hub.waitFor('"msg":"drill: handler fails"');

    // While the drill runs, calls fail and none succeed.
    const atStart = await counters();
    await eventually(async () => (await counters()).failed >= atStart.failed + 20, 10_000, 'calls failing');
    const failing = await counters();
    expect(failing.processed - atStart.processed).toBeLessThanOrEqual(failing.failed - atStart.failed);
    const a = await counters();
    await eventually(async () => (await counters()).failed >= a.failed + 20, 10_000, 'more calls failing');
    expect((await counters()).processed).toBe(a.processed);

    // A 0s drill ends it: calls succeed again.
    expect((await post('worker=w-cli&duration=0s')).status).toBe(200);
    const ended = await counters();
    await eventually(
      async () => (await counters()).processed >= ended.processed + 20,
      10_000,
      'calls succeeding',
    );

    worker.child.kill('SIGTERM');
    expect((await worker.exited).code).toBe(0);
    // Failed calls are acked: nothing is left behind.
    expect(summary(worker)).toMatchObject({ unacked: 0 });
    hub.child.kill('SIGTERM');
    expect((await hub.exited).code).toBe(0);
  });

  it('LINKWATCH_ALERTMANAGER_URL with user:pass@: the hub posts its alerts with Basic auth and never prints the password', async () => {
    const posts: { authorization: string | undefined; alerts: { labels: Record<string, string> }[] }[] = [];
    const am = createHttpServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => {
        body += d.toString();
      });
      req.on('end', () => {
        if (req.method === 'POST' && req.url === '/api/v2/alerts')
          posts.push({ authorization: req.headers.authorization, alerts: JSON.parse(body) });
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((r) => am.listen(0, '127.0.0.1', r));
    try {
      const amPort = (am.address() as { port: number }).port;
      const f = files();
      const port = await freePort();
      const hub = cli([...hubArgs(f.tokens, `127.0.0.1:${port}`), '--drills', '--handler-timeout', '200ms'], {
        LINKWATCH_ALERTMANAGER_URL: `http://ops:am-pa55-in-env@127.0.0.1:${amPort}`,
      });
      await hub.waitFor('hub listening');
      const worker = cli(workerArgs(port, f.token, ['--rate', '50']));
      await worker.waitFor('link connected');
      const drill = await fetch(`http://127.0.0.1:${port}/drills/hang?worker=w-cli&duration=3s`, {
        method: 'POST',
        headers: { 'x-linkwatch-drill': '1' },
      });
      expect(drill.status).toBe(200);
      await eventually(
        async () => posts.some((p) => p.alerts.some((a) => a.labels.alertname === 'LinkwatchHandlerHung')),
        10_000,
        'LinkwatchHandlerHung posted to the fake Alertmanager',
      );
      const expected = `Basic ${Buffer.from('ops:am-pa55-in-env').toString('base64')}`;
      expect(posts.map((p) => p.authorization)).toEqual(posts.map(() => expected));
      worker.child.kill('SIGTERM');
      hub.child.kill('SIGTERM');
      await Promise.all([worker.exited, hub.exited]);
      for (const out of [hub.stdout(), hub.stderr(), worker.stdout(), worker.stderr()]) {
        expect(out).not.toContain('am-pa55-in-env');
      }
    } finally {
      await new Promise((r) => am.close(r));
    }
  });
});
