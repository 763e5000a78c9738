import { execFileSync } from 'node:child_process';
import { inCi } from './binaries.js';

/**
 * Whether processes started here may open `n` files (`ulimit -n n` in a
 * shell: root may raise the hard limit too, others up to it). Tests that
 * run a real fleet of thousands of links need it: each socket is a
 * descriptor. In CI (`.ci/run` runs as root) a refusal fails the run;
 * elsewhere the suite skips and says why.
 */
export function requireFdLimit(n: number): { skip: boolean; reason: string } {
  try {
    execFileSync('sh', ['-c', `ulimit -n ${n}`], { stdio: 'ignore' });
    return { skip: false, reason: '' };
  } catch {
    let hard = 'unknown';
    try {
      hard = execFileSync('sh', ['-c', 'ulimit -Hn'], { encoding: 'utf8' }).trim();
    } catch {}
    const reason = `cannot raise the open-file limit to ${n} (hard limit ${hard}); run as root or raise it`;
    if (inCi()) throw new Error(`CI requires ${reason}`);
    process.stderr.write(`skipping: ${reason}\n`);
    return { skip: true, reason };
  }
}
