import { execFileSync } from 'node:child_process';

/**
 * Real services the e2e and rules tests start. In CI (`CI` set, as `.ci/run`
 * does) a missing binary fails the run; on a laptop the tests skip and say
 * how to install it.
 */
export const INSTALL_HINT =
  'install them with: sudo apt-get install prometheus prometheus-alertmanager (Debian/Ubuntu)';

export interface Binary {
  name: string;
  path: string | undefined;
}

export function findBinary(name: string): string | undefined {
  try {
    return execFileSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
}

export const inCi = (): boolean => Boolean(process.env.CI);

/**
 * Resolves the binaries a suite needs. Returns `skip: true` with a message
 * when one is missing outside CI; throws in CI so the run fails.
 */
export function requireBinaries(...names: string[]): {
  skip: boolean;
  reason: string;
  paths: Record<string, string>;
} {
  const paths: Record<string, string> = {};
  const missing: string[] = [];
  for (const name of names) {
    const path = findBinary(name);
    if (path) paths[name] = path;
    else missing.push(name);
  }
  if (missing.length === 0) return { skip: false, reason: '', paths };
  const reason = `missing ${missing.join(', ')}; ${INSTALL_HINT}`;
  if (inCi()) throw new Error(`CI requires ${missing.join(', ')}: ${reason}`);
  process.stderr.write(`skipping: ${reason}\n`);
  return { skip: true, reason, paths };
}
