import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, hubArgs, type Proc, runCli, tempDir, writeFile } from '../../helpers/cli.js';

/**
 * Issue 7, item 14: drills must not be reachable from a web page in a browser
 * on the hub's host, and no drill may run unbounded.
 */
let hub: Proc;
let base: string;

beforeAll(async () => {
  const tokens = writeFile(tempDir(), 'tokens', 'drills-token-1234 w-drill\n');
  const port = await freePort();
  hub = runCli([...hubArgs(`127.0.0.1:${port}`, tokens), '--drills']);
  await hub.waitFor('hub listening');
  base = `http://127.0.0.1:${port}`;
});

afterAll(async () => {
  hub.child.kill('SIGKILL');
  await hub.exited;
});

async function post(path: string, headers: Record<string, string>) {
  const res = await fetch(`${base}${path}`, { method: 'POST', headers });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

const DRILL = { 'x-linkwatch-drill': '1' };

describe('drill requests', () => {
  // Regression: a form or fetch() from any web page ("simple" cross-site POST, no preflight)
  // started drills.
  it.each([
    ['no header, as a simple cross-site POST', { 'content-type': 'text/plain' }],
    ['a form post', { 'content-type': 'application/x-www-form-urlencoded', origin: 'https://evil.example' }],
    [
      'the drill header but an Origin (a browser, e.g. after DNS rebinding)',
      { ...DRILL, origin: 'http://127.0.0.1' },
    ],
  ])('%s is refused with 403 and starts nothing', async (_, headers) => {
    for (const path of [
      '/drills/hang?worker=w-drill&duration=1s',
      '/drills/fail?worker=w-drill&duration=1s',
      '/drills/block?duration=1s',
    ]) {
      const res = await post(path, headers);
      expect(res.status, path).toBe(403);
      expect(String(res.body.error)).toMatch(/X-Linkwatch-Drill|Origin/);
    }
    expect(hub.stderr()).not.toContain('"msg":"drill:');
  });

  it('a CORS preflight is never granted', async () => {
    const res = await fetch(`${base}/drills/block?duration=1s`, {
      method: 'OPTIONS',
      headers: {
        origin: 'https://evil.example',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'x-linkwatch-drill',
      },
    });
    expect(res.ok).toBe(false);
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
    expect(res.headers.get('access-control-allow-headers')).toBeNull();
  });

  // Regression: `block?duration=100000h` hung the hub for good.
  it.each([
    ['/drills/block?duration=100000h', 'at most 10m for this drill, got "100000h"'],
    ['/drills/block?duration=601s', 'at most 10m for this drill, got "601s"'],
    ['/drills/hang?worker=w-drill&duration=2h', 'at most 1h for this drill, got "2h"'],
    ['/drills/fail?worker=w-drill&duration=3600001ms', 'at most 1h for this drill, got "3600001ms"'],
  ])('%s is refused with 400 naming the cap, and the hub keeps answering', async (path, message) => {
    const res = await post(path, DRILL);
    expect(res).toEqual({ status: 400, body: { error: `--duration: ${message}` } });
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
  });

  it('a request from a script (the header, no Origin) within the caps runs the drill', async () => {
    expect(await post('/drills/hang?worker=w-drill&duration=1h', DRILL)).toEqual({
      status: 200,
      body: { drill: 'hang', worker: 'w-drill', durationMs: 3_600_000 },
    });
    expect(await post('/drills/hang?worker=w-drill&duration=0s', DRILL)).toMatchObject({ status: 200 });
    const t0 = performance.now();
    expect(await post('/drills/block?duration=200ms', DRILL)).toEqual({
      status: 200,
      body: { drill: 'block', durationMs: 200 },
    });
    await hub.waitFor('"msg":"drill: event loop blocked"');
    // The block ran and ended: the hub answers again, no sooner than the block lasted.
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(150);
  });
});

describe('the worker --drill-block flag', () => {
  it('over 10m is a usage error naming the flag and the cap', async () => {
    const token = writeFile(tempDir(), 'token', 'drills-token-1234\n');
    const p = runCli([
      'worker',
      '--hub',
      'ws://127.0.0.1:1',
      '--id',
      'w',
      '--token-file',
      token,
      '--metrics-listen',
      'off',
      '--drills',
      '--drill-block',
      '11m',
    ]);
    const deadline = setTimeout(() => p.child.kill('SIGKILL'), 8000);
    const { code } = await p.exited;
    clearTimeout(deadline);
    expect(code).toBe(2);
    expect(p.stderr()).toContain('linkwatch: --drill-block: at most 10m for this drill, got "11m"');
  });
});
