import { readFileSync, statSync } from 'node:fs';
import type { Logger } from '../log/logger.js';
import { stripComment, tokenProblem } from '../validate.js';

/** A bad flag or file: printed with usage, exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** Parses `500ms`, `5s`, `2m`, `1h` or a bare number of ms. */
export function parseDuration(flag: string, value: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(value.trim());
  if (!m)
    throw new UsageError(`--${flag}: expected a duration like 500ms, 5s or 2m, got ${JSON.stringify(value)}`);
  const n = Number(m[1]);
  const unit = m[2] ?? 'ms';
  return Math.round(n * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[unit]!);
}

export function parseInteger(flag: string, value: string, min = 0): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min) {
    throw new UsageError(`--${flag}: expected an integer ≥ ${min}, got ${JSON.stringify(value)}`);
  }
  return n;
}

/** `HOST:PORT`, `[::1]:PORT` or `:PORT` (loopback). */
export function parseHostPort(flag: string, value: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(value.trim());
  if (!m) throw new UsageError(`--${flag}: expected HOST:PORT, got ${JSON.stringify(value)}`);
  const port = Number(m[3]);
  if (port > 65535) throw new UsageError(`--${flag}: port ${port} is out of range`);
  return { host: m[1] ?? (m[2] || '127.0.0.1'), port };
}

export function readTextFile(flag: string, file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(
      `--${flag}: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    );
  }
}

/**
 * Reads a worker's token file: the first non-empty, non-comment line is the
 * token. A token that cannot travel in an HTTP header is a usage error naming
 * the file and line, never the token.
 */
export function readTokenFile(flag: string, file: string): string {
  // An editor's byte-order mark is not part of the token.
  const lines = readTextFile(flag, file)
    .replace(/^\uFEFF/, '')
    .split('\n');
  for (let i = 0; i < lines.length; i++) {
    const token = stripComment(lines[i]!).trim();
    if (token.length === 0) continue;
    const problem = tokenProblem(token);
    if (problem) throw new UsageError(`--${flag}: ${file}:${i + 1}: the token ${problem}`);
    return token;
  }
  throw new UsageError(`--${flag}: ${file} holds no token`);
}

/**
 * The permission bits of a token file when group or others may read or write
 * it (as ssh checks private keys), e.g. `0644`; undefined when only the owner
 * can, or on Windows where the bits mean nothing.
 */
export function looseTokenFileMode(file: string): string | undefined {
  if (process.platform === 'win32') return undefined;
  let mode: number;
  try {
    mode = statSync(file).mode & 0o777;
  } catch {
    return undefined; // reading it already failed or will fail with a clearer message
  }
  return (mode & 0o077) === 0 ? undefined : `0${mode.toString(8).padStart(3, '0')}`;
}

/** Logs the ssh-style warning for a token file others can read: file and mode, never content. */
export function warnIfTokenFileLoose(logger: Logger, flag: string, file: string): void {
  const mode = looseTokenFileMode(file);
  if (mode === undefined) return;
  logger.warn('token file is accessible by other users', {
    flag: `--${flag}`,
    file,
    mode,
    hint: `chmod 600 ${file}`,
  });
}
