import { request } from 'node:http';
import { describe, expect, it } from 'vitest';
import { cliPerTest, freePort, hubArgs, tempDir, writeFile } from '../../helpers/cli.js';
import { eventually } from '../../helpers/fleet.js';

/**
 * `linkwatch worker --health-listen`: what the Kubernetes probes in deploy/
 * read. /healthz answers while the process does; /readyz follows the link.
 */
const cli = cliPerTest();
const TOKEN = 'health-test-token-0123456789';

async function status(url: string): Promise<number | string> {
  try {
    return (await fetch(url)).status;
  } catch (err) {
    return (err as Error).message;
  }
}

/** fetch() may not set Host; node:http may. */
function statusWithHost(port: number, host: string): Promise<number | undefined> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/healthz', headers: { host } }, (res) => {
      res.resume();
      resolve(res.statusCode);
    });
    req.on('error', reject);
    req.end();
  });
}

describe('worker --health-listen', () => {
  it('/readyz is 503 until the link is connected, 200 while it is, 503 again when the hub goes; /healthz stays 200', async () => {
    const dir = tempDir();
    const tokens = writeFile(dir, 'tokens', `${TOKEN} w-health\n`);
    const token = writeFile(dir, 'token', `${TOKEN}\n`);
    const [hubPort, healthPort] = [await freePort(), await freePort()];
    const health = `http://127.0.0.1:${healthPort}`;
    const worker = cli([
      'worker',
      '--hub',
      `ws://127.0.0.1:${hubPort}`,
      '--id',
      'w-health',
      '--token-file',
      token,
      '--metrics-listen',
      'off',
      '--health-listen',
      `127.0.0.1:${healthPort}`,
      '--rate',
      '10',
      '--backoff-max',
      '300ms',
    ]);
    await worker.waitFor('worker started');
    // No hub yet: alive, not ready.
    expect(await status(`${health}/healthz`)).toBe(200);
    expect(await status(`${health}/readyz`)).toBe(503);
    const body = await (await fetch(`${health}/healthz`)).json();
    expect(body).toEqual({ status: 'ok', id: 'w-health' });

    const hub = cli(hubArgs(`127.0.0.1:${hubPort}`, tokens));
    await eventually(
      async () => (await status(`${health}/readyz`)) === 200,
      10_000,
      'readyz 200 once the hub is up',
    );
    hub.child.kill('SIGKILL');
    await hub.exited;
    await eventually(
      async () => (await status(`${health}/readyz`)) === 503,
      10_000,
      'readyz 503 once the hub is gone',
    );
    expect(await status(`${health}/healthz`)).toBe(200);
    expect(await status(`${health}/nope`)).toBe(404);
    expect((await fetch(`${health}/healthz`, { method: 'POST' })).status).toBe(405);
    // A loopback bind answers loopback Host names only (DNS rebinding).
    expect(await statusWithHost(healthPort, 'evil.example')).toBe(421);
    expect(await statusWithHost(healthPort, 'localhost')).toBe(200);

    worker.child.kill('SIGTERM');
    expect((await worker.exited).code).toBe(0);
    expect(worker.stdout() + worker.stderr()).not.toContain(TOKEN);
  });

  it('a bad or busy address is a usage error naming the flag', async () => {
    const dir = tempDir();
    const token = writeFile(dir, 'token', `${TOKEN}\n`);
    const base = ['worker', '--hub', 'ws://127.0.0.1:1', '--id', 'w-h', '--token-file', token];
    const bad = cli([...base, '--metrics-listen', 'off', '--health-listen', 'nope']);
    expect((await bad.exited).code).toBe(2);
    expect(bad.stderr()).toContain('--health-listen: expected HOST:PORT');

    const port = await freePort();
    const busy = cli([
      ...base,
      '--metrics-listen',
      `127.0.0.1:${port}`,
      '--health-listen',
      `127.0.0.1:${port}`,
    ]);
    expect((await busy.exited).code).toBe(2);
    expect(busy.stderr()).toContain(`--health-listen 127.0.0.1:${port}: EADDRINUSE`);
  });
});
