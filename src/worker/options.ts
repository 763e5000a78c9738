import * as D from '../defaults.js';
import type { BackoffOptions } from '../link/backoff.js';
import { type LinkOptions, type ParsedLinkOptions, parseLinkOptions } from '../link/options.js';
import { WORKER_ID_PATTERN } from '../protocol/codec.js';
import type { Handler } from '../queue/work-queue.js';
import { functionOption, intOption, oneOf, stringOption, tokenOption, urlOption } from '../validate.js';

export interface WorkerOptions extends LinkOptions {
  /** Hub URLs (`ws://` or `wss://`), tried in order; failover rotates through them. */
  hubs: string[];
  /** This worker's id: `[A-Za-z0-9._:-]`, up to 128 chars. It is a metric label, so keep it stable. */
  workerId: string;
  /** Bearer token: visible ASCII only (it travels in an HTTP header). Never logged, never in telemetry. */
  token: string;
  /** Handles hub→worker commands. @default ignores them */
  handler?: Handler;
  /** Dial plus upgrade plus welcome must finish within this, ms. @default 5000 */
  handshakeTimeoutMs?: number;
  /**
   * Reconnect delays: exponential with full jitter, reset after a stable link.
   * While the hub's address refuses connections (a hub restarting), delays
   * stay at or below 3 s. @default 250 ms initial, 30 s max, ×2, reset after 10 s up
   */
  backoff?: BackoffOptions;
  /**
   * Supersedes in a row (another process took this worker id) before the
   * worker stops with LW_ERR_SUPERSEDED instead of flapping. A link that
   * stayed up `backoff.minUptimeMs` resets the count. @default 3
   */
  maxSupersedes?: number;
  /** Extra TLS options for `wss://` (a private CA, say). @default none */
  tls?: { ca?: string | Buffer; rejectUnauthorized?: boolean };
  /**
   * The masking key of the frames the worker sends (RFC 6455 §5.3): `zero`
   * (four zero bytes, so neither side copies or XORs the payload: at 16 KiB
   * that halved the CPU per message) or `random` (a fresh key per frame, as
   * RFC 6455 asks of clients and browsers must do). Masking keeps
   * script-controlled bytes from caching intermediaries that misread
   * WebSocket traffic; a worker runs no untrusted script, every frame is
   * JSON text (no raw CR or LF), and over `wss://` no intermediary sees it.
   * Choose `random` behind a plain-HTTP intercepting proxy you do not
   * trust. See docs/protocol.md "Masking". @default 'zero'
   */
  frameMask?: 'random' | 'zero';
}

/** See `WorkerOptions.frameMask`. */
export type FrameMask = NonNullable<WorkerOptions['frameMask']>;
export const FRAME_MASKS: readonly FrameMask[] = ['random', 'zero'];

export interface ParsedWorkerOptions extends ParsedLinkOptions {
  hubs: string[];
  workerId: string;
  token: string;
  handler: Handler;
  handshakeTimeoutMs: number;
  backoff: BackoffOptions;
  maxSupersedes: number;
  tls: WorkerOptions['tls'];
  frameMask: FrameMask;
}

export const DEFAULT_MAX_SUPERSEDES = 3;
/** Why zero by default: docs/protocol.md "Masking" (the cost measured, and what masking protects). */
export const DEFAULT_FRAME_MASK: FrameMask = 'zero';

/** Checks every worker option; each failure is a TypeError naming the option (never echoing the token). */
export function parseWorkerOptions(options: WorkerOptions): ParsedWorkerOptions {
  if (typeof options !== 'object' || options === null)
    throw new TypeError('Expected `options` to be an object');
  if (!Array.isArray(options.hubs) || options.hubs.length === 0) {
    throw new TypeError(
      `Expected \`hubs\` to be a non-empty array of ws:// or wss:// URLs, got ${typeof options.hubs}`,
    );
  }
  return {
    ...parseLinkOptions(options),
    hubs: options.hubs.map((u, i) => urlOption(`hubs[${i}]`, u)),
    workerId: stringOption(
      'workerId',
      options.workerId,
      WORKER_ID_PATTERN,
      'an id of [A-Za-z0-9._:-], 1-128 chars',
    ),
    token: tokenOption('token', options.token),
    handler: functionOption<Handler>('handler', options.handler, () => {}),
    handshakeTimeoutMs: intOption(
      'handshakeTimeoutMs',
      options.handshakeTimeoutMs,
      D.DEFAULT_HANDSHAKE_TIMEOUT_MS,
      {
        min: 1,
      },
    ),
    backoff: validateBackoff(options.backoff),
    maxSupersedes: intOption('maxSupersedes', options.maxSupersedes, DEFAULT_MAX_SUPERSEDES, { min: 1 }),
    tls: options.tls,
    frameMask: oneOf('frameMask', options.frameMask, FRAME_MASKS, DEFAULT_FRAME_MASK),
  };
}

function validateBackoff(b: BackoffOptions | undefined): BackoffOptions {
  if (b === undefined) return {};
  if (typeof b !== 'object' || b === null) throw new TypeError('Expected `backoff` to be an object');
  const out: BackoffOptions = {
    initialDelayMs: intOption('backoff.initialDelayMs', b.initialDelayMs, 250, { min: 1 }),
    maxDelayMs: intOption('backoff.maxDelayMs', b.maxDelayMs, 30_000, { min: 1 }),
    multiplier: b.multiplier === undefined ? 2 : b.multiplier,
    minUptimeMs: intOption('backoff.minUptimeMs', b.minUptimeMs, 10_000, { min: 0 }),
  };
  if (typeof out.multiplier !== 'number' || !(out.multiplier >= 1)) {
    throw new TypeError(`Expected \`backoff.multiplier\` to be a number ≥ 1, got ${String(b.multiplier)}`);
  }
  if (b.random) out.random = b.random;
  return out;
}
