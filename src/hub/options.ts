import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { hostname } from 'node:os';
import * as D from '../defaults.js';
import { type LinkOptions, type ParsedLinkOptions, parseLinkOptions } from '../link/options.js';
import type { Handler } from '../queue/work-queue.js';
import { functionOption, intOption, stringOption } from '../validate.js';
import type { TokenEntry } from './auth.js';

/** Durable "processed up to" per worker stream, so dedupe survives a hub restart. */
export interface CheckpointStore {
  load(workerId: string, stream: string): number | undefined;
  /**
   * Records that every seq ≤ `processed` of this stream was processed. The hub
   * acks only what this recorded (returned, or its promise resolved). A throw
   * or rejection is a `checkpoint-failed` event and closes the link with 4005,
   * so the worker replays what was not recorded.
   */
  commit(workerId: string, stream: string, processed: number): void | Promise<void>;
}

/** An extra HTTP route on the hub's port. */
export type HubRoute = (req: IncomingMessage, res: ServerResponse) => void;

export interface HubOptions extends LinkOptions {
  /** Where to listen. @default '127.0.0.1' */
  host?: string;
  /** Where to listen; 0 picks a free port. @default 0 */
  port?: number;
  /**
   * This hub in telemetry and alerts; keep it stable across restarts so
   * alerts and silences follow it.
   * @default `<hostname>:<port>` for a fixed port, else 'hub-' + 8 random hex chars
   */
  hubId?: string;
  /** Accepted tokens, `{ token, workerIds?, name? }[]`: which token may claim which worker ids. */
  tokens: TokenEntry[];
  /**
   * Processes every worker message, one worker's messages in order:
   * `(message, { signal }) => void | Promise<void>`. The ack goes out after
   * it settles. A call that throws or times out is counted
   * (`LW_ERR_HANDLER_FAILED`, `LW_ERR_HANDLER_TIMEOUT`) and acked, not
   * retried, so one poison message cannot loop; retry inside the handler if
   * you need to. A call cut short by shutdown is not acked and is replayed.
   */
  handler: Handler;
  /** Heartbeat interval both sides use, agreed in the handshake, ms. @default 5000 */
  heartbeatIntervalMs?: number;
  /** Intervals without a round trip before the link is declared dead. @default 3 */
  heartbeatMisses?: number;
  /** The request head, then upgrade to hello, must each finish within this, ms. @default 5000 */
  handshakeTimeoutMs?: number;
  /** Handshakes (upgrade to hello) in progress at once; beyond it, HTTP 503 with Retry-After. @default 1024 */
  maxConcurrentHandshakes?: number;
  /** Connections not yet upgraded (pre-auth) held at once; beyond it, new ones are closed at once. @default 4096 */
  maxPreAuthConnections?: number;
  /**
   * The least Retry-After a busy hub answers with, s. In a storm it asks for
   * more: refusals over handshakes served in the last second, up to 5 s.
   * Workers wait that long plus 0-100 % jitter. @default 1
   */
  busyRetryAfterSeconds?: number;
  /** Forget a disconnected worker's session after this, ms. @default 600000 */
  sessionTtlMs?: number;
  /** Where processed seqs are kept, so dedupe survives a hub restart. @default none (in memory) */
  checkpoint?: CheckpointStore;
  /** Extra HTTP routes on the hub's port, keyed `'METHOD /path'` (the CLI's fault drills). @default none */
  routes?: Record<string, HubRoute>;
  /** Serve `wss://` with this PEM cert and key. @default none (plain ws://) */
  tls?: { cert: string | Buffer; key: string | Buffer };
}

export interface ParsedHubOptions extends ParsedLinkOptions {
  host: string;
  port: number;
  hubId: string;
  handler: Handler;
  heartbeatIntervalMs: number;
  heartbeatMisses: number;
  handshakeTimeoutMs: number;
  maxConcurrentHandshakes: number;
  maxPreAuthConnections: number;
  busyRetryAfterSeconds: number;
  sessionTtlMs: number;
  checkpoint: CheckpointStore | undefined;
  routes: Record<string, HubRoute> | undefined;
  tls: HubOptions['tls'];
}

/**
 * 1024, not 256: at 256 a cold start of 1,000 workers answered 456 of them busy and took 10.1 s to connect
 * them all (Retry-After plus jitter); at 1024, 0.5 s, and 5,000 in 6.6 s instead of 10.9 s, while the
 * 10,000 storm still had 0 handshake timeouts (bench/results/fleet-final.md against fleet-hs256.md).
 */
export const DEFAULT_MAX_CONCURRENT_HANDSHAKES = 1024;
export const DEFAULT_MAX_PRE_AUTH_CONNECTIONS = 4096;
export const DEFAULT_BUSY_RETRY_AFTER_SECONDS = 1;

const ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;

/** Checks every hub option (tokens are checked by the authenticator); TypeErrors name the option. */
export function parseHubOptions(options: HubOptions): ParsedHubOptions {
  if (typeof options !== 'object' || options === null)
    throw new TypeError('Expected `options` to be an object');
  const hubId =
    options.hubId === undefined
      ? defaultHubId(options.port)
      : stringOption('hubId', options.hubId, ID_PATTERN, 'an id of [A-Za-z0-9._:-], 1-128 chars');
  if (options.routes !== undefined) {
    if (typeof options.routes !== 'object' || options.routes === null)
      throw new TypeError(
        `Expected \`routes\` to be an object of 'METHOD /path' handlers, got ${typeof options.routes}`,
      );
    for (const [key, fn] of Object.entries(options.routes)) functionOption(`routes['${key}']`, fn);
  }
  return {
    ...parseLinkOptions(options),
    host: options.host === undefined ? '127.0.0.1' : stringOption('host', options.host),
    port: intOption('port', options.port, 0, { max: 65535 }),
    hubId,
    handler: functionOption<Handler>('handler', options.handler),
    heartbeatIntervalMs: intOption(
      'heartbeatIntervalMs',
      options.heartbeatIntervalMs,
      D.DEFAULT_HEARTBEAT_INTERVAL_MS,
      {
        min: 10,
      },
    ),
    heartbeatMisses: intOption('heartbeatMisses', options.heartbeatMisses, D.DEFAULT_HEARTBEAT_MISSES, {
      min: 1,
    }),
    handshakeTimeoutMs: intOption(
      'handshakeTimeoutMs',
      options.handshakeTimeoutMs,
      D.DEFAULT_HANDSHAKE_TIMEOUT_MS,
      {
        min: 1,
      },
    ),
    maxConcurrentHandshakes: intOption(
      'maxConcurrentHandshakes',
      options.maxConcurrentHandshakes,
      DEFAULT_MAX_CONCURRENT_HANDSHAKES,
      { min: 1 },
    ),
    maxPreAuthConnections: intOption(
      'maxPreAuthConnections',
      options.maxPreAuthConnections,
      DEFAULT_MAX_PRE_AUTH_CONNECTIONS,
      { min: 1 },
    ),
    busyRetryAfterSeconds: intOption(
      'busyRetryAfterSeconds',
      options.busyRetryAfterSeconds,
      DEFAULT_BUSY_RETRY_AFTER_SECONDS,
      { min: 1, max: 3600 },
    ),
    sessionTtlMs: intOption('sessionTtlMs', options.sessionTtlMs, D.DEFAULT_SESSION_TTL_MS, { min: 0 }),
    checkpoint: options.checkpoint,
    routes: options.routes,
    tls: options.tls,
  };
}

/**
 * `host:port` when the port is fixed, so a restarted hub keeps its id (and its
 * series, alerts and silences); a random id when the OS picks the port.
 */
function defaultHubId(port: unknown): string {
  const host =
    hostname()
      .replace(/[^A-Za-z0-9._-]/g, '-')
      .slice(0, 100) || 'hub';
  return typeof port === 'number' && port > 0 ? `${host}:${port}` : `hub-${randomUUID().slice(0, 8)}`;
}
