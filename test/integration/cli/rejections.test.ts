import { request } from 'node:http';
import { describe, expect, it } from 'vitest';
import { freePort, runCli, summary, tempDir, writeFile } from '../../helpers/cli.js';

/** One WebSocket upgrade attempt; resolves with the HTTP status and body the hub answered. */
function upgrade(port: number, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({
      host: '127.0.0.1',
      port,
      headers: {
        connection: 'Upgrade',
        upgrade: 'websocket',
        'sec-websocket-version': '13',
        'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
        ...headers,
      },
    });
    req.on('response', (res) => {
      let body = '';
      res.on('data', (d: Buffer) => {
        body += d.toString();
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('upgrade', (_res, socket) => {
      socket.destroy();
      reject(new Error('the hub upgraded a request it should have refused'));
    });
    req.on('error', reject);
    req.end();
  });
}

async function startHub(tokensText: string) {
  const dir = tempDir();
  const tokens = writeFile(dir, 'tokens', tokensText);
  const port = await freePort();
  const hub = runCli(['hub', '--listen', `127.0.0.1:${port}`, '--tokens', tokens, '--metrics-listen', 'off']);
  await hub.waitFor('hub listening');
  return { hub, port, tokens };
}

describe('rejected logins as the hub reports them', () => {
  // Regression (issue 7, item 9): every failed login was one log line (4,930 attempts, 965 KB).
  it('500 bad-token attempts write one line at once and one summary with the count by error.type', async () => {
    const { hub, port } = await startHub('rejections-token-1 w1\n');
    const token = writeFile(tempDir(), 'token', 'rejections-token-1\n');
    // A worker that logged in keeps streaming through the flood, as before.
    const worker = runCli([
      'worker',
      '--hub',
      `ws://127.0.0.1:${port}`,
      '--id',
      'w1',
      '--token-file',
      token,
      '--metrics-listen',
      'off',
      '--rate',
      '200',
    ]);
    try {
      await worker.waitFor('"msg":"link connected"');
      for (let round = 0; round < 10; round++) {
        const results = await Promise.all(
          Array.from({ length: 50 }, (_, i) =>
            upgrade(port, {
              authorization: `Bearer wrong-token-${round}-${i}`,
              'x-linkwatch-worker-id': 'w1',
            }),
          ),
        );
        expect(results.every((r) => r.status === 401)).toBe(true);
      }
      // The hub still serves while it counts.
      expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
      const during = hub.stderr().match(/"msg":"authentication failed"/g) ?? [];
      expect(during.length).toBeLessThanOrEqual(2);

      worker.child.kill('SIGTERM');
      expect((await worker.exited).code).toBe(0);
      expect(summary(worker)).toMatchObject({ reconnects: 0, unacked: 0 });
      // Its only link down is the clean one of its own shutdown.
      expect(worker.stderr()).not.toContain('"level":"warn","msg":"link down"');
      hub.child.kill('SIGTERM');
      expect((await hub.exited).code).toBe(0);
      const lines = hub
        .stderr()
        .split('\n')
        .filter((l) => l.includes('"msg":"authentication failed"'))
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(lines.length).toBeLessThanOrEqual(3);
      expect(1 + lines.slice(1).reduce((sum, l) => sum + Number(l.suppressed ?? 0), 0)).toBe(500);
      expect(lines.at(-1)).toMatchObject({ by_reason: expect.stringMatching(/^LW_ERR_AUTH=\d+$/) });
      expect(summary(hub)).toMatchObject({ role: 'hub' });
      expect(hub.stderr()).not.toContain('wrong-token');
    } finally {
      worker.child.kill('SIGKILL');
      hub.child.kill('SIGKILL');
    }
  });

  // Regression (issue 7, item 19): the 403 body named the hub's token file and line.
  it('a token claiming a worker id it may not is refused 403 with a generic reason, no file or line', async () => {
    const { hub, port, tokens } = await startHub('rejections-token-1 w1\n');
    try {
      const res = await upgrade(port, {
        authorization: 'Bearer rejections-token-1',
        'x-linkwatch-worker-id': 'w2',
      });
      expect(res).toEqual({ status: 403, body: 'this token may not claim this worker id\n' });
      expect(res.body).not.toContain(tokens);
    } finally {
      hub.child.kill('SIGKILL');
      await hub.exited;
    }
  });
});
