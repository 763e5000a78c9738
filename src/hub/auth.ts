import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { stripComment, tokenProblem } from '../validate.js';

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
  | {
      ok: false;
      status: 401 | 403;
      errorType: 'LW_ERR_AUTH' | 'LW_ERR_WORKER_ID_MISMATCH';
      /** Safe to send to the client: says what to fix, never where the hub keeps its tokens. */
      reason: string;
      /** For the hub's own log only: which token entry (file and line) refused which id. */
      detail: string;
    };

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
      // A token no worker can send in a header could never match: say so now, not at every 401.
      const problem = tokenProblem(e.token);
      if (problem) {
        throw new TypeError(
          `Expected \`tokens[${i}].token\` to be a string that can be sent in an HTTP header, got a string that ${problem}`,
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
    if (!m) return refused(401, 'LW_ERR_AUTH', 'missing bearer token', 'missing bearer token');
    const candidate = digest(m[1]!);
    let match: Digested | undefined;
    for (const entry of this.#entries) {
      if (timingSafeEqual(candidate, entry.digest) && !match) match = entry;
    }
    if (!match) return refused(401, 'LW_ERR_AUTH', 'unknown token', 'unknown token');
    const workerId = req.headers['x-linkwatch-worker-id'];
    if (typeof workerId !== 'string' || workerId.length === 0) {
      const reason = 'missing x-linkwatch-worker-id header';
      return refused(401, 'LW_ERR_AUTH', reason, `${reason} (token ${match.name})`);
    }
    if (match.workerIds && !match.workerIds.has(workerId)) {
      return refused(
        403,
        'LW_ERR_WORKER_ID_MISMATCH',
        'this token may not claim this worker id',
        `token ${match.name} may not claim worker id ${JSON.stringify(workerId.slice(0, 64))}`,
      );
    }
    return { ok: true, workerId, tokenName: match.name };
  }
}

function refused(
  status: 401 | 403,
  errorType: 'LW_ERR_AUTH' | 'LW_ERR_WORKER_ID_MISMATCH',
  reason: string,
  detail: string,
): AuthResult {
  return { ok: false, status, errorType, reason, detail };
}

function digest(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

/**
 * Token file format: JSON, an array of `{ "token": "...", "workerIds": ["w1"] }`,
 * or plain text with one `token [workerId,workerId...]` per line. A `#` starts
 * a comment at the start of a line or after whitespace; inside a token it is
 * part of the token. Errors name the file and line (or entry), never a token.
 */
export function parseTokenFile(raw: string, file: string): TokenEntry[] {
  // An editor's byte-order mark is not part of the first token.
  const text = raw.replace(/^\uFEFF/, '');
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
      const problem = tokenProblem(entry.token);
      if (problem) throw new Error(`${file}: entry [${i}].token ${problem}`);
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
  // Line numbers count from the file's first line, so split the text as read, not trimmed.
  text.split('\n').forEach((asRead, i) => {
    const line = stripComment(asRead).trim();
    if (!line) return;
    const [token, ids, extra] = line.split(/\s+/);
    if (extra !== undefined) throw new Error(`${file}:${i + 1}: expected "token [workerId,...]"`);
    if (token!.length < MIN_TOKEN_LENGTH) {
      throw new Error(`${file}:${i + 1}: the token must be at least ${MIN_TOKEN_LENGTH} chars`);
    }
    const problem = tokenProblem(token!);
    if (problem) throw new Error(`${file}:${i + 1}: the token ${problem}`);
    entries.push({ token: token!, ...(ids ? { workerIds: ids.split(',') } : {}), name: `${file}:${i + 1}` });
  });
  if (entries.length === 0) throw new Error(`${file}: no tokens found`);
  return entries;
}
