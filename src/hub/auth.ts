import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/** Shorter tokens are refused: they can be guessed. */
export const MIN_TOKEN_LENGTH = 8;

/** One accepted token, optionally bound to the worker ids that may use it. */
export interface TokenEntry {
  token: string;
  /** Worker ids this token may claim. Omit to allow any id. */
  workerIds?: string[];
  /** A name for logs (never the token itself). */
  name?: string;
}

export type AuthResult =
  | { ok: true; workerId: string; tokenName: string }
  | { ok: false; status: 401 | 403; errorType: 'LW_ERR_AUTH' | 'LW_ERR_WORKER_ID_MISMATCH'; reason: string };

interface Digested {
  digest: Buffer;
  workerIds: Set<string> | undefined;
  name: string;
}

/**
 * Checks `Authorization: Bearer <token>` and the claimed worker id before the
 * WebSocket upgrade. Tokens are compared as SHA-256 digests with
 * timingSafeEqual, against every entry without an early exit, so timing says
 * nothing about which bytes or which entry matched.
 */
export class TokenAuthenticator {
  readonly #entries: Digested[];

  constructor(entries: TokenEntry[]) {
    if (!Array.isArray(entries) || entries.length === 0) {
      throw new TypeError('Expected `tokens` to be a non-empty array of { token, workerIds? }');
    }
    this.#entries = entries.map((e, i) => {
      if (typeof e?.token !== 'string' || e.token.length < MIN_TOKEN_LENGTH) {
        throw new TypeError(
          `Expected \`tokens[${i}].token\` to be a string of at least ${MIN_TOKEN_LENGTH} chars`,
        );
      }
      if (e.workerIds !== undefined && !Array.isArray(e.workerIds)) {
        throw new TypeError(`Expected \`tokens[${i}].workerIds\` to be an array of worker ids`);
      }
      return {
        digest: digest(e.token),
        workerIds: e.workerIds && new Set(e.workerIds),
        name: e.name ?? `token#${i}`,
      };
    });
  }

  authenticate(req: IncomingMessage): AuthResult {
    const header = req.headers.authorization;
    const m = typeof header === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
    if (!m) return { ok: false, status: 401, errorType: 'LW_ERR_AUTH', reason: 'missing bearer token' };
    const candidate = digest(m[1]!);
    let match: Digested | undefined;
    for (const entry of this.#entries) {
      if (timingSafeEqual(candidate, entry.digest) && !match) match = entry;
    }
    if (!match) return { ok: false, status: 401, errorType: 'LW_ERR_AUTH', reason: 'unknown token' };
    const workerId = req.headers['x-linkwatch-worker-id'];
    if (typeof workerId !== 'string' || workerId.length === 0) {
      return {
        ok: false,
        status: 401,
        errorType: 'LW_ERR_AUTH',
        reason: 'missing x-linkwatch-worker-id header',
      };
    }
    if (match.workerIds && !match.workerIds.has(workerId)) {
      return {
        ok: false,
        status: 403,
        errorType: 'LW_ERR_WORKER_ID_MISMATCH',
        reason: `token ${match.name} may not claim worker id ${workerId.slice(0, 64)}`,
      };
    }
    return { ok: true, workerId, tokenName: match.name };
  }
}

function digest(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

/**
 * Token file format: JSON, an array of `{ "token": "...", "workerIds": ["w1"] }`,
 * or plain text with one `token [workerId,workerId...]` per line (# comments).
 */
export function parseTokenFile(text: string, file: string): TokenEntry[] {
  const trimmed = text.trim();
  if (trimmed.startsWith('[')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(trimmed);
    } catch {
      // JSON.parse quotes the text around the error, which may be a token: say only that it failed.
      throw new Error(`${file}: not valid JSON`);
    }
    if (!Array.isArray(parsed)) throw new Error(`${file}: expected an array of { token, workerIds? }`);
    return parsed.map((e: unknown, i) => {
      if (typeof e !== 'object' || e === null || typeof (e as TokenEntry).token !== 'string') {
        throw new Error(`${file}: entry [${i}].token must be a string`);
      }
      const entry = e as TokenEntry;
      if (entry.token.length < MIN_TOKEN_LENGTH) {
        throw new Error(`${file}: entry [${i}].token must be at least ${MIN_TOKEN_LENGTH} chars`);
      }
      if (entry.workerIds !== undefined && !Array.isArray(entry.workerIds)) {
        throw new Error(`${file}: entry [${i}].workerIds must be an array of strings`);
      }
      return {
        token: entry.token,
        ...(entry.workerIds ? { workerIds: entry.workerIds } : {}),
        name: `${file}[${i}]`,
      };
    });
  }
  const entries: TokenEntry[] = [];
  trimmed.split('\n').forEach((raw, i) => {
    const line = raw.replace(/#.*/, '').trim();
    if (!line) return;
    const [token, ids, extra] = line.split(/\s+/);
    if (extra !== undefined) throw new Error(`${file}:${i + 1}: expected "token [workerId,...]"`);
    if (token!.length < MIN_TOKEN_LENGTH) {
      throw new Error(`${file}:${i + 1}: the token must be at least ${MIN_TOKEN_LENGTH} chars`);
    }
    entries.push({ token: token!, ...(ids ? { workerIds: ids.split(',') } : {}), name: `${file}:${i + 1}` });
  });
  if (entries.length === 0) throw new Error(`${file}: no tokens found`);
  return entries;
}
