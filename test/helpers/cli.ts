import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';

export const CLI = join(import.meta.dirname, '../../dist/cli/main.js');

/** A free loopback port (bound, then released). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export function tempDir(prefix = 'linkwatch-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function writeFile(dir: string, name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

export interface Proc {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves when stderr or stdout contains `text`; rejects at the deadline or on exit. */
  waitFor(text: string | RegExp, timeoutMs?: number): Promise<void>;
}

export interface RunOptions {
  /**
   * Open-file limit of the process (`ulimit -n` in a shell that then execs
   * node, so the pid and signals are node's). A hub of 10,000 workers needs
   * a descriptor per socket; see fd-limit.ts for what the machine allows.
   */
  fdLimit?: number;
}

export function runCli(args: string[], env: NodeJS.ProcessEnv = {}, options: RunOptions = {}): Proc {
  const [command, argv] =
    options.fdLimit === undefined
      ? [process.execPath, [CLI, ...args]]
      : ['sh', ['-c', `ulimit -n ${options.fdLimit} && exec "$0" "$@"`, process.execPath, CLI, ...args]];
  const child = spawn(command, argv, {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  const waiters = new Set<() => void>();
  child.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
    for (const w of waiters) w();
  });
  child.stderr!.on('data', (d: Buffer) => {
    err += d.toString();
    for (const w of waiters) w();
  });
  // 'close', not 'exit': 'exit' can come before the last of stdout and stderr has been read, and a
  // test that reads the output right after the exit would then see it cut short (or empty).
  let closed = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('close', (code, signal) => {
      closed = true;
      resolve({ code, signal });
      for (const w of waiters) w();
    }),
  );
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    waitFor(text, timeoutMs = 10_000) {
      const has = () => (typeof text === 'string' ? (out + err).includes(text) : text.test(out + err));
      return new Promise((resolve, reject) => {
        const check = () => {
          if (has()) done(resolve);
          else if (closed) {
            done(() => reject(new Error(`process exited before printing ${text}\n${err.slice(-2000)}`)));
          }
        };
        const timer = setTimeout(
          () => done(() => reject(new Error(`timed out waiting for ${text}\n${err.slice(-2000)}`))),
          timeoutMs,
        );
        const done = (fn: () => void) => {
          clearTimeout(timer);
          waiters.delete(check);
          fn();
        };
        waiters.add(check);
        check();
      });
    },
  };
}

/** The last JSON line a CLI printed on stdout (its summary). */
export function summary(proc: Proc): Record<string, unknown> {
  const lines = proc.stdout().trim().split('\n').filter(Boolean);
  return JSON.parse(lines.at(-1) ?? '{}') as Record<string, unknown>;
}

/** `linkwatch hub` on `listen` with `tokens`, metrics off, then `extra` flags. */
export function hubArgs(listen: string, tokens: string, ...extra: string[]): string[] {
  return ['hub', '--listen', listen, '--tokens', tokens, '--metrics-listen', 'off', ...extra];
}

/**
 * A runCli whose processes are killed (and awaited) after each test, whatever
 * the test left running. Call it at a test file's top level.
 */
export function cliPerTest(): (args: string[], env?: NodeJS.ProcessEnv) => Proc {
  const procs: Proc[] = [];
  afterEach(async () => {
    const running = procs.splice(0);
    for (const p of running)
      if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
    await Promise.all(running.map((p) => p.exited));
  });
  return (args, env = {}) => {
    const p = runCli(args, env);
    procs.push(p);
    return p;
  };
}
