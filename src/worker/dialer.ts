import type { IncomingMessage } from 'node:http';
import { WebSocket } from 'ws';
import { AuthError, ConnectionError, DeadlineError, type LinkwatchError, ProtocolError } from '../errors.js';
import { zeroMask } from '../link/text-frames.js';
import { CloseCode, clampReason } from '../protocol/close-codes.js';
import { decodeFrame, encodeFrame } from '../protocol/codec.js';
import type { HelloFrame, WelcomeFrame } from '../protocol/frames.js';
import type { FrameMask } from './options.js';

export interface DialOptions {
  url: string;
  token: string;
  workerId: string;
  handshakeTimeoutMs: number;
  maxFrameBytes: number;
  tls: { ca?: string | Buffer; rejectUnauthorized?: boolean } | undefined;
  /** `zero`: every frame is masked with four zero bytes (see WorkerOptions.frameMask). */
  frameMask: FrameMask;
  /** Built when the socket opens, so it carries the latest progress. */
  hello(): HelloFrame;
}

export type DialResult =
  | { ok: true; ws: WebSocket; welcome: WelcomeFrame }
  | {
      ok: false;
      error: LinkwatchError;
      /** The hub said it is busy and when to come back (HTTP 503 Retry-After), ms. */
      retryAfterMs: number | undefined;
    };

/**
 * One attempt: connect, upgrade with the token, send hello, wait for welcome,
 * all within `handshakeTimeoutMs`. Calls `done` exactly once. On success the
 * socket is handed over with no listeners of the dialer left on it.
 */
export function dial(o: DialOptions, done: (result: DialResult) => void): { abort(): void } {
  const ws = new WebSocket(o.url, {
    headers: { authorization: `Bearer ${o.token}`, 'x-linkwatch-worker-id': o.workerId },
    handshakeTimeout: o.handshakeTimeoutMs,
    // The codec enforces maxFrameBytes with a close reason; ws stops anything past twice that unread.
    maxPayload: o.maxFrameBytes * 2,
    perMessageDeflate: false,
    // A masking key of four zero bytes: ws then writes the payload as it is instead of copying and
    // XOR-ing it in JavaScript (no bufferutil here), and the hub's ws skips unmasking it. At 16 KiB
    // that copy and XOR was a quarter of the worker's CPU (bench/README.md).
    ...(o.frameMask === 'zero' ? { generateMask: zeroMask } : {}),
    ...(o.tls ?? {}),
  });
  let failure: LinkwatchError | undefined;
  let retryAfterMs: number | undefined;
  let finished = false;
  const timer = setTimeout(() => {
    failure ??= new DeadlineError(
      'LW_ERR_HANDSHAKE_TIMEOUT',
      o.handshakeTimeoutMs,
      `no welcome within ${o.handshakeTimeoutMs} ms`,
    );
    ws.terminate();
  }, o.handshakeTimeoutMs);

  ws.on('unexpected-response', (_req: unknown, res: IncomingMessage) => {
    failure ??= responseError(res.statusCode ?? 0);
    if (res.statusCode === 503) retryAfterMs = parseRetryAfter(res.headers['retry-after']);
    res.resume();
    ws.terminate();
  });
  ws.on('open', () => ws.send(encodeFrame(o.hello())));
  ws.on('message', (raw: Buffer, isBinary: boolean) => {
    if (finished) return;
    try {
      const frame = decodeFrame(raw, isBinary, o.maxFrameBytes);
      if (frame.t !== 'welcome') {
        throw new ProtocolError(
          'LW_ERR_OUT_OF_ORDER',
          CloseCode.protocolError,
          `expected welcome, got ${frame.t}`,
        );
      }
      finished = true;
      clearTimeout(timer);
      ws.removeAllListeners();
      done({ ok: true, ws, welcome: frame });
    } catch (err) {
      failure ??= err instanceof ProtocolError ? err : new ConnectionError('LW_ERR_PROTOCOL', String(err));
      const code = err instanceof ProtocolError ? err.closeCode : CloseCode.protocolError;
      // The hub chose the bytes that made this error; the reason must still fit a close frame.
      ws.close(code, clampReason(failure.message));
    }
  });
  ws.on('error', (err: Error) => {
    failure ??= classifyDialError(err);
  });
  ws.on('close', (code: number, reason: Buffer) => {
    clearTimeout(timer);
    ws.removeAllListeners();
    if (finished) return;
    finished = true;
    done({
      ok: false,
      error:
        failure ??
        new ConnectionError(
          'LW_ERR_CONNECT',
          `closed during handshake: ${code} ${clampReason(reason.toString())}`,
        ),
      retryAfterMs,
    });
  });
  return { abort: () => ws.terminate() };
}

function responseError(status: number): LinkwatchError {
  if (status === 401) return new AuthError('LW_ERR_AUTH', 'hub rejected the token (HTTP 401)');
  if (status === 403)
    return new AuthError('LW_ERR_WORKER_ID_MISMATCH', 'hub refused this worker id for the token (HTTP 403)');
  if (status === 503) return new ConnectionError('LW_ERR_BUSY', 'hub is busy (HTTP 503)');
  return new ConnectionError('LW_ERR_CONNECT', `hub answered HTTP ${status}`);
}

/** Retry-After in seconds (the HTTP-date form is not used by hubs), capped at 5 minutes. */
export function parseRetryAfter(value: string | string[] | undefined): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (v === undefined || !/^\d{1,6}$/.test(v.trim())) return undefined;
  return Math.min(Number(v.trim()), 300) * 1000;
}

function classifyDialError(err: Error): LinkwatchError {
  const m = /Unexpected server response: (\d+)/.exec(err.message);
  if (m) return responseError(Number(m[1]));
  // Connection errors: keep the errno code only, never the message (it may carry the URL).
  const code = (err as NodeJS.ErrnoException).code;
  return new ConnectionError('LW_ERR_CONNECT', `dial failed: ${code ?? err.name}`, { cause: err });
}
