import { chmodSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { freePort, hubArgs, type Proc, runCli, summary, tempDir, writeFile } from '../../helpers/cli.js';

/**
 * Token files as operators write them (issue 7, items 5, 12 and 13). Each
 * test owns its processes: they run concurrently, so no shared afterEach may
 * kill another test's process.
 */
async function runToExit(args: string[], deadlineMs = 15_000): Promise<{ code: number | null; p: Proc }> {
  const p = runCli(args);
  const deadline = setTimeout(() => p.child.kill('SIGKILL'), deadlineMs);
  const { code } = await p.exited;
  clearTimeout(deadline);
  return { code, p };
}

async function stopped(p: Proc): Promise<void> {
  if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
  await p.exited;
}

const worker = (port: number, tokenFile: string, extra: string[] = []) => [
  'worker',
  '--hub',
  `ws://127.0.0.1:${port}`,
  '--id',
  'w-tok',
  '--token-file',
  tokenFile,
  '--metrics-listen',
  'off',
  ...extra,
];

const hub = (port: number, tokens: string) => [...hubArgs(`127.0.0.1:${port}`, tokens)];

describe.concurrent('token files', () => {
  // Regression: the worker logged `fatal ERR_INVALID_CHAR` at every dial and kept running.
  it.each([
    ['a control character', 'tok-\u0001-secret-1', 'contains a control character'],
    ['a non-ASCII character', 'tok-\u2603-secret-1', 'contains a character outside visible ASCII'],
  ])(
    'a worker token with %s exits 2 naming the file and line, never the token',
    async (_, token, problem) => {
      const file = writeFile(tempDir(), 'token', `# capture box\n${token}\n`);
      chmodSync(file, 0o600);
      const { code, p } = await runToExit(worker(1, file));
      expect(code, p.stderr()).toBe(2);
      expect(p.stderr()).toContain(`linkwatch: --token-file: ${file}:2: the token ${problem}`);
      expect(p.stderr()).not.toContain('secret');
      expect(p.stderr()).not.toContain('worker started');
    },
  );

  it('a hub token with a control character exits 2 naming the file and line, never the token', async () => {
    const file = writeFile(tempDir(), 'tokens', 'good-token-0001 w1\nbad-\u0007-secret-2 w2\n');
    chmodSync(file, 0o600);
    const { code, p } = await runToExit(hub(0, file));
    expect(code, p.stderr()).toBe(2);
    expect(p.stderr()).toContain(`linkwatch: --tokens: ${file}:2: the token contains a control character`);
    expect(p.stderr()).not.toContain('secret');
  });

  // Regression: both files cut the token at its first `#`, so a worker presenting only the
  // prefix authenticated. Now the whole token is the token, on both sides.
  it('a token containing # works whole; a worker presenting only its prefix is refused', async () => {
    const dir = tempDir();
    const tokens = writeFile(dir, 'tokens', '# fleet\nprefix-1234#suffix-5678 w-tok # capture box\n');
    const whole = writeFile(dir, 'token', 'prefix-1234#suffix-5678\n');
    const prefix = writeFile(dir, 'prefix', 'prefix-1234\n');
    for (const f of [tokens, whole, prefix]) chmodSync(f, 0o600);
    const port = await freePort();
    const h = runCli(hub(port, tokens));
    try {
      await h.waitFor('hub listening');
      const ok = await runToExit(worker(port, whole, ['--count', '5']), 15_000);
      expect(ok.code, ok.p.stderr()).toBe(0);
      expect(summary(ok.p)).toMatchObject({ sent: 5, acked: 5 });

      const refused = runCli(worker(port, prefix));
      try {
        await refused.waitFor(/"msg":"handshake failed".*"error.type":"LW_ERR_AUTH"/);
      } finally {
        await stopped(refused);
      }
      await h.waitFor(/"msg":"authentication failed".*"error.type":"LW_ERR_AUTH"/);
    } finally {
      await stopped(h);
    }
  });

  /** A hub and a worker whose token files have these modes, once the worker connected. */
  async function connectedWithModes(secret: string, hubMode: number, workerMode: number) {
    const dir = tempDir();
    const tokens = writeFile(dir, 'tokens', `${secret} w-tok\n`);
    const token = writeFile(dir, 'token', `${secret}\n`);
    chmodSync(tokens, hubMode);
    chmodSync(token, workerMode);
    const port = await freePort();
    const h = runCli(hub(port, tokens));
    const w = runCli(worker(port, token, ['--rate', '10']));
    try {
      await h.waitFor('hub listening');
      await w.waitFor('link connected');
    } catch (err) {
      await Promise.all([stopped(h), stopped(w)]);
      throw err;
    }
    return { h, w, tokens, token };
  }

  // Regression: no warning on either side for a token file others can read.
  it('a group- or world-readable token file is warned about on both sides, naming file and mode, never the token', async () => {
    const { h, w, tokens, token } = await connectedWithModes('loose-secret-token-1', 0o644, 0o640);
    try {
      const warning = (flag: string, file: string, mode: string) =>
        `"msg":"token file is accessible by other users","flag":"${flag}","file":"${file}","mode":"${mode}","hint":"chmod 600 ${file}"`;
      expect(h.stderr()).toContain(warning('--tokens', tokens, '0644'));
      expect(w.stderr()).toContain(warning('--token-file', token, '0640'));
      for (const p of [h, w]) expect(p.stderr() + p.stdout()).not.toContain('loose-secret');
    } finally {
      await Promise.all([stopped(h), stopped(w)]);
    }
  });

  it('an owner-only token file gets no warning', async () => {
    const { h, w } = await connectedWithModes('tight-secret-token-1', 0o600, 0o400);
    try {
      for (const p of [h, w]) expect(p.stderr()).not.toContain('token file is accessible');
    } finally {
      await Promise.all([stopped(h), stopped(w)]);
    }
  });
});
