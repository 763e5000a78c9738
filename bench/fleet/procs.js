/**
 * Process plumbing for the fleet benchmark: the CLI hub and the load tool as
 * real processes, their CPU and RSS read from /proc, their JSON lines parsed.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const CLI = join(dirname(fileURLToPath(import.meta.url)), '../../dist/cli/main.js');
const CLK_TCK = 100;

/** A free loopback port (bound, then released). */
export async function freePort() {
  const server = createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** CPU seconds (user + system) and RSS in bytes of a live process. */
export function procSample(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name, which may hold spaces: state is field 3, utime 14, stime 15.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const cpuS = (Number(rest[11]) + Number(rest[12])) / CLK_TCK;
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return { at: performance.now(), cpuS, rss: rssKb * 1024 };
}

/** CPU use between two samples, in % of one core. */
export function cpuPercent(a, b) {
  return Math.round(((b.cpuS - a.cpuS) / ((b.at - a.at) / 1000)) * 1000) / 10;
}

const live = new Set();

/** SIGKILLs every CLI process this benchmark started that still runs (after a failure). */
export function killLeftovers() {
  for (const child of live) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}

/**
 * Spawns the CLI. `onLine` sees every stdout line parsed as JSON (others are
 * ignored); stderr is kept (last 64 KB) for error messages.
 */
export function runCli(args, { env = {}, onLine, cpus } = {}) {
  // With `cpus`, taskset pins the process (it execs node, so the pid is node's).
  const [cmd, argv] = cpus
    ? ['taskset', ['-c', cpus, process.execPath, CLI, ...args]]
    : [process.execPath, [CLI, ...args]];
  const child = spawn(cmd, argv, {
    env: { ...process.env, LINKWATCH_LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  let partial = '';
  const lines = [];
  child.stdout.on('data', (d) => {
    partial += d.toString();
    const parts = partial.split('\n');
    partial = parts.pop();
    for (const line of parts) {
      if (!line.trim()) continue;
      try {
        const obj = JSON.parse(line);
        lines.push(obj);
        onLine?.(obj);
      } catch {}
    }
  });
  child.stderr.on('data', (d) => {
    err = (err + d.toString()).slice(-65536);
  });
  live.add(child);
  const exited = new Promise((resolve) =>
    child.once('close', (code, signal) => {
      live.delete(child);
      resolve({ code, signal });
    }),
  );
  return { child, lines, stderr: () => err, exited };
}

/** Polls `predicate` every 50 ms until it holds; rejects at the deadline. */
export async function waitUntil(predicate, timeoutMs, what) {
  const start = performance.now();
  while (!(await predicate())) {
    if (performance.now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return performance.now() - start;
}

/** Resolves once the hub answers /healthz. */
export async function hubUp(httpUrl, timeoutMs = 15_000) {
  return waitUntil(
    () =>
      fetch(`${httpUrl}/healthz`, { signal: AbortSignal.timeout(1000) }).then(
        (r) => r.ok,
        () => false,
      ),
    timeoutMs,
    `hub at ${httpUrl}`,
  );
}

export function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}
