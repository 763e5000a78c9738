import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { chmodSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CLI, tempDir, writeFile } from '../../helpers/cli.js';

/**
 * Issue 7, item 22: the README's CLI example, run as written on one host.
 * The hub and the worker both defaulted to metrics on 127.0.0.1:9464, so the
 * worker exited with EADDRINUSE. The commands are read from the README, so
 * the test breaks when the README does.
 *
 * The example uses fixed ports (8080 and the metrics defaults). Where the
 * machine allows (root, or unprivileged user namespaces) the commands run in
 * a network namespace of their own with just a loopback, so they never meet
 * other processes on those ports; elsewhere (a CI runner) on the host.
 */
const README = join(import.meta.dirname, '../../../README.md');
const TOKEN = 'readme-example-token-42';

/** The `linkwatch hub` and `linkwatch worker` lines of the README's CLI block, optional `[...]` parts dropped. */
function exampleCommands(): { hub: string[]; worker: string[] } {
  const text = readFileSync(README, 'utf8');
  const section = text.slice(text.indexOf('### CLI'));
  const block = /```sh\n([\s\S]*?)```/.exec(section)?.[1] ?? '';
  const command = (name: string) => {
    const line = block.split('\n').find((l) => l.startsWith(`linkwatch ${name} `));
    if (!line) throw new Error(`no "linkwatch ${name}" line in the README's CLI block`);
    return line
      .replace(/\s*\[[^\]]*\]/g, '')
      .trim()
      .split(/\s+/)
      .slice(1);
  };
  return { hub: command('hub'), worker: command('worker') };
}

interface Namespace {
  /** Prefix that runs a program inside it. */
  prefix: string[];
  release(): void;
}

/** A fresh network namespace with loopback up, or undefined where the machine allows none. */
function networkNamespace(): Namespace | undefined {
  for (const [unshare, enter] of [
    [['-n'], ['-n']],
    [['-rn'], ['-U', '-n', '--preserve-credentials']],
  ] as const) {
    const holder = spawn('unshare', [...unshare, 'sleep', '600'], { stdio: 'ignore' });
    holder.on('error', () => {});
    if (holder.pid === undefined) return undefined;
    const prefix = ['nsenter', '-t', String(holder.pid), ...enter];
    // unshare has to have entered the namespace before nsenter can join it: retry briefly, and
    // bring loopback up only once the holder is in its own namespace (not while still in ours).
    const outside = spawnSync('readlink', ['/proc/self/ns/net'], { encoding: 'utf8' }).stdout;
    for (let i = 0; i < 100 && holder.exitCode === null; i++) {
      const inside = spawnSync('readlink', [`/proc/${holder.pid}/ns/net`], { encoding: 'utf8' }).stdout;
      if (inside && inside !== outside) {
        const up = spawnSync(prefix[0]!, [...prefix.slice(1), 'ip', 'link', 'set', 'lo', 'up'], {
          stdio: 'ignore',
        });
        if (up.status === 0) return { prefix, release: () => holder.kill('SIGKILL') };
        break;
      }
      spawnSync('sleep', ['0.05']);
    }
    holder.kill('SIGKILL');
  }
  return undefined;
}

interface Run {
  child: ChildProcess;
  output: () => string;
  stdout: () => string;
  exited: Promise<number | null>;
  waitFor(text: string, timeoutMs?: number): Promise<void>;
}

function run(prefix: string[], args: string[], cwd: string): Run {
  const [cmd, ...rest] = [...prefix, process.execPath, CLI, ...args];
  const child = spawn(cmd!, rest, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let all = '';
  const waiters = new Set<() => void>();
  const onData = (isOut: boolean) => (d: Buffer) => {
    if (isOut) out += d.toString();
    all += d.toString();
    for (const w of waiters) w();
  };
  child.stdout!.on('data', onData(true));
  child.stderr!.on('data', onData(false));
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  let closed = false;
  void exited.then(() => {
    closed = true;
    for (const w of waiters) w();
  });
  return {
    child,
    output: () => all,
    stdout: () => out,
    exited,
    waitFor: (text, timeoutMs = 60_000) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => finish(new Error(`timed out waiting for ${text}\n${all.slice(-2000)}`)),
          timeoutMs,
        );
        const check = () => {
          if (all.includes(text)) finish();
          else if (closed) finish(new Error(`exited before printing ${text}\n${all.slice(-2000)}`));
        };
        const finish = (err?: Error) => {
          clearTimeout(timer);
          waiters.delete(check);
          if (err) reject(err);
          else resolve();
        };
        waiters.add(check);
        check();
      }),
  };
}

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

describe("the README's CLI example", () => {
  // Regression: both defaulted to metrics on 127.0.0.1:9464 and the worker exited with EADDRINUSE.
  it('runs as written on one host: the worker connects, both serve metrics, both stop with a summary', {
    timeout: 120_000,
  }, async () => {
    const { hub: hubArgs, worker: workerArgs } = exampleCommands();
    const dir = tempDir();
    const worker = workerArgs[workerArgs.indexOf('--id') + 1];
    chmodSync(writeFile(dir, 'tokens.txt', `${TOKEN} ${worker}\n`), 0o600);
    chmodSync(writeFile(dir, 'token.txt', `${TOKEN}\n`), 0o600);

    const ns = networkNamespace();
    if (ns) cleanups.push(ns.release);
    const prefix = ns?.prefix ?? [];
    const hub = run(prefix, hubArgs, dir);
    cleanups.push(() => hub.child.kill('SIGKILL'));
    await hub.waitFor('"msg":"hub listening"');
    const w = run(prefix, workerArgs, dir);
    cleanups.push(() => w.child.kill('SIGKILL'));
    // Generous: on a loaded machine a first dial can time out and the retry wait behind backoff.
    await w.waitFor('"msg":"link connected"');

    // With the defaults (as the README has it today) each serves metrics on its own port.
    if (!hubArgs.includes('--metrics-listen'))
      expect(hub.output()).toContain('"metrics":"http://127.0.0.1:9464/metrics"');
    if (!workerArgs.includes('--metrics-listen'))
      expect(w.output()).toContain('"metrics":"http://127.0.0.1:9465/metrics"');
    expect(w.output()).not.toContain('EADDRINUSE');

    w.child.kill('SIGTERM');
    expect(await w.exited, w.output()).toBe(0);
    expect(JSON.parse(w.stdout().trim())).toMatchObject({ role: 'worker', workerId: worker });
    hub.child.kill('SIGTERM');
    expect(await hub.exited, hub.output()).toBe(0);
    expect(JSON.parse(hub.stdout().trim())).toMatchObject({ role: 'hub', workers: 1 });
  });
});
