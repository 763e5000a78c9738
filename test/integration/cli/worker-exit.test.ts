import { describe, expect, it } from 'vitest';
import { freePort, hubArgs, runCli, summary, tempDir, writeFile } from '../../helpers/cli.js';

/**
 * Issue 7, item 4: `linkwatch worker` whose producer fails must exit by
 * itself with a message: code 2 for what the flags already tell (a --size
 * no frame can hold), code 1 for what shows only while running.
 */
/**
 * Runs the CLI to its exit, SIGKILLing it at the deadline (a hang then fails the test). Each test
 * owns its processes: these tests run concurrently, so no shared afterEach may kill them.
 */
async function runToExit(args: string[], deadlineMs: number) {
  const p = runCli(args);
  const deadline = setTimeout(() => p.child.kill('SIGKILL'), deadlineMs);
  const exit = await p.exited;
  clearTimeout(deadline);
  return { ...exit, p };
}

function workerArgs(port: number, extra: string[]): string[] {
  const token = writeFile(tempDir(), 'token', 'worker-exit-token-123\n');
  return [
    'worker',
    '--hub',
    `ws://127.0.0.1:${port}`,
    '--id',
    'w-exit',
    '--token-file',
    token,
    '--metrics-listen',
    'off',
    ...extra,
  ];
}

describe.concurrent('a worker whose synthetic traffic cannot go on', () => {
  // Regression: the producer threw "exceeds maxFrameBytes", the command gave up, and the
  // reconnect loop plus a leftover SIGTERM listener kept the process running until SIGKILL.
  it('--size over the frame limit exits 2 before starting, naming --size and the limit', async () => {
    const { code, signal, p } = await runToExit(workerArgs(1, ['--size', '2000000']), 15_000);
    expect({ code, signal }, p.stderr()).toEqual({ code: 2, signal: null });
    expect(p.stderr()).toMatch(
      /linkwatch: --size: 2000000 bytes do not fit in one frame: at most \d+ bytes fit the 1048576-byte frame limit/,
    );
    expect(p.stderr()).not.toContain('worker started');
  });

  it('the largest --size that fits is accepted: a hub acks three such messages', async () => {
    const { p } = await runToExit(workerArgs(1, ['--size', '2000000']), 15_000);
    const max = Number(/at most (\d+) bytes/.exec(p.stderr())?.[1]);
    expect(max).toBeGreaterThan(1_000_000);
    const port = await freePort();
    const tokens = writeFile(tempDir(), 'tokens', 'worker-exit-token-123 w-exit\n');
    const hub = runCli([...hubArgs(`127.0.0.1:${port}`, tokens)]);
    try {
      await hub.waitFor('hub listening', 8000);
      const worker = await runToExit(workerArgs(port, ['--size', String(max), '--count', '3']), 20_000);
      expect(worker.code, worker.p.stderr()).toBe(0);
      expect(summary(worker.p)).toMatchObject({ sent: 3, acked: 3, unacked: 0 });
    } finally {
      hub.child.kill('SIGKILL');
      await hub.exited;
    }
  });

  // Regression: `--overflow reject` with the hub down: the first full outbox rejected a send, and
  // the process hung, ignoring SIGTERM.
  it('--overflow reject on a full outbox exits 1 by itself with the reason and a summary', async () => {
    const nobody = await freePort();
    const { code, signal, p } = await runToExit(
      workerArgs(nobody, [
        '--overflow',
        'reject',
        '--outbox-max-messages',
        '5',
        '--rate',
        '1000',
        '--shutdown-timeout',
        '200ms',
      ]),
      10_000,
    );
    expect({ code, signal }, p.stderr()).toEqual({ code: 1, signal: null });
    expect(p.stderr()).toContain('"msg":"synthetic traffic failed: stopping the worker"');
    expect(p.stderr()).toContain('"error.type":"LW_ERR_OUTBOX_FULL"');
    expect(p.stderr()).toMatch(/\nlinkwatch: worker stopped: synthetic traffic failed: /);
    expect(summary(p)).toMatchObject({ role: 'worker', workerId: 'w-exit', sent: 0, unacked: 5 });
  });
});

describe('two workers with the same id', () => {
  // Issue 7, item 17 as the CLI shows it: the superseded side gives up and exits 1 saying so.
  it('the one that gives up exits 1 by itself, saying it gave up and why', async () => {
    const port = await freePort();
    const tokens = writeFile(tempDir(), 'tokens', 'worker-exit-token-123 w-exit\n');
    const hub = runCli([...hubArgs(`127.0.0.1:${port}`, tokens)]);
    const args = workerArgs(port, ['--rate', '50', '--backoff-initial', '20ms', '--backoff-max', '100ms']);
    const a = runCli(args);
    const b = runCli(args);
    try {
      await hub.waitFor('hub listening', 8000);
      const first = await Promise.race([a.exited.then(() => a), b.exited.then(() => b)]);
      expect(first.child.exitCode, first.stderr().slice(-2000)).toBe(1);
      expect(first.stderr()).toContain('"msg":"worker gave up"');
      expect(first.stderr()).toMatch(/\nlinkwatch: worker stopped: worker gave up: /);
    } finally {
      for (const p of [a, b, hub]) p.child.kill('SIGKILL');
      await Promise.all([a.exited, b.exited, hub.exited]);
    }
  }, 60_000);
});
