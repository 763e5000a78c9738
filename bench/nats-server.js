/**
 * The NATS broker for the NATS baselines: Debian's `nats-server` on
 * 127.0.0.1, a free port, JetStream on with its store in a temp directory.
 * If the binary is missing, the benchmark installs it with apt-get when it
 * runs as root, or says how to and skips the NATS rows.
 */
import { execFileSync, spawn } from 'node:child_process';
import { accessSync, constants, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from './free-port.js';

const INSTALL_HINT = 'sudo apt-get install -y nats-server';

function which(cmd) {
  for (const dir of (process.env.PATH ?? '').split(':').concat(['/usr/sbin', '/usr/bin'])) {
    try {
      accessSync(join(dir, cmd), constants.X_OK);
      return join(dir, cmd);
    } catch {}
  }
  return undefined;
}

/** The nats-server binary, installing it if we may; undefined (with `why`) if not available. */
export function findNatsServer(log) {
  let bin = which('nats-server');
  if (bin) return { bin };
  if (process.getuid?.() === 0 && which('apt-get')) {
    log('nats-server is missing: apt-get install -y nats-server');
    try {
      execFileSync('apt-get', ['install', '-y', 'nats-server'], { stdio: 'ignore', timeout: 300_000 });
    } catch {
      try {
        execFileSync('apt-get', ['update'], { stdio: 'ignore', timeout: 300_000 });
        execFileSync('apt-get', ['install', '-y', 'nats-server'], { stdio: 'ignore', timeout: 300_000 });
      } catch {}
    }
    bin = which('nats-server');
    if (bin) return { bin };
  }
  return { why: `nats-server is not installed (${INSTALL_HINT}); the NATS rows are skipped` };
}

async function waitForPort(port, timeoutMs) {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise((resolve) => {
      const s = new Socket();
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
      s.connect(port, '127.0.0.1');
    });
    if (ok) return;
    if (performance.now() > deadline) throw new Error(`nats-server did not listen on ${port}`);
    await sleep(20);
  }
}

/** CPU time of a process (user + system) in µs, from /proc (clock ticks, usually 10 ms). */
function procCpuUs(pid, ticksPerSecond) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // After the command name: state is field 3, utime 14, stime 15 (1-based, man 5 proc).
  return ((Number(fields[11]) + Number(fields[12])) / ticksPerSecond) * 1e6;
}

export async function startNatsServer(bin) {
  const dir = mkdtempSync(join(tmpdir(), 'linkwatch-bench-nats-'));
  const port = await freePort();
  const child = spawn(bin, ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', dir], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => {
    stderr = (stderr + d).slice(-4000);
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  try {
    await Promise.race([
      waitForPort(port, 10_000),
      exited.then((code) => {
        throw new Error(`nats-server exited with ${code}: ${stderr}`);
      }),
    ]);
  } catch (err) {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const ticks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  const version = execFileSync(bin, ['--version'], { encoding: 'utf8' }).trim();
  return {
    url: `nats://127.0.0.1:${port}`,
    version,
    cpuUs: () => procCpuUs(child.pid, ticks),
    async stop() {
      child.kill('SIGTERM');
      await Promise.race([exited, sleep(3000)]);
      child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
