/**
 * One error class per failure kind. `code` is stable, documented in the README
 * ("Error codes") and used as `error.type` in telemetry. Messages are for
 * people and never carry tokens or payloads.
 */
export const ERROR_CODES = {
  LW_ERR_PROTOCOL:
    'A frame broke the protocol (not a JSON object, unknown type, an ack for a seq never sent). Close 1002.',
  LW_ERR_FRAME_TOO_LARGE: 'A frame exceeded `maxFrameBytes`. Close 1009.',
  LW_ERR_INVALID_FRAME:
    'A frame parsed but a field is wrong: bad JSON, bad UTF-8, a missing or mistyped field, a payload nested too deep or holding a non-finite number. Close 1007.',
  LW_ERR_UNSUPPORTED_VERSION: 'The peer speaks another protocol version. Close 1002.',
  LW_ERR_OUT_OF_ORDER: 'A frame arrived in the wrong phase (data before hello, a second hello). Close 1002.',
  LW_ERR_AUTH: 'Missing or unknown bearer token. HTTP 401, no WebSocket.',
  LW_ERR_WORKER_ID_MISMATCH:
    'The token is not allowed to claim this worker id. HTTP 403 before the upgrade, or close 1008 after it.',
  LW_ERR_SUPERSEDED:
    'A newer connection with the same worker id replaced this one (higher epoch). Close 4001.',
  LW_ERR_EVICTED: "The hub's watchdog evicted a stalled link. Close 4002.",
  LW_ERR_HANDSHAKE_TIMEOUT:
    'Dial, upgrade and hello/welcome did not finish within `handshakeTimeoutMs`. Close 4003 on the hub.',
  LW_ERR_HEARTBEAT_TIMEOUT:
    'No round trip (a heartbeat answered, data acked or data received) for `heartbeatIntervalMs × heartbeatMisses`: the link was terminated (half-open).',
  LW_ERR_TRANSPORT_STALLED:
    'The socket buffer, once over `highWatermarkBytes`, did not drain to half of it within `sendStallTimeoutMs`: the link was terminated.',
  LW_ERR_HANDLER_TIMEOUT:
    'A handler ran past `handlerTimeoutMs`; the item is settled as failed and its slot freed.',
  LW_ERR_HANDLER_FAILED: 'A handler threw or rejected; the item is settled as failed.',
  LW_ERR_OUTBOX_FULL: 'The outbox is full and the overflow policy is `reject`.',
  LW_ERR_CLOSED: 'The worker, hub or queue was shut down while the operation was pending.',
  LW_ERR_CONNECT: 'A dial failed: connection refused, DNS, TLS, or an HTTP status other than 101.',
  LW_ERR_CONNECTION_LOST: 'The peer closed the link or the socket dropped.',
  LW_ERR_WINDOW_EXCEEDED:
    "The peer sent more unacked data than the receiver's queue capacity allows. Close 1008.",
  LW_ERR_STALLED: "The worker's watchdog tore down a stalled link to reconnect (self-heal).",
  LW_ERR_BUSY:
    'The hub had `maxConcurrentHandshakes` in progress and answered HTTP 503 with Retry-After; the worker waits that long, with jitter, and retries.',
  LW_ERR_CONNECTION_LIMIT:
    'The hub held `maxPreAuthConnections` connections that had not upgraded yet and closed a new one at once.',
  LW_ERR_REQUEST_TIMEOUT:
    'A connection sent no complete request head (or upgrade) within `handshakeTimeoutMs`; the hub closed it.',
  LW_ERR_TOO_MANY_HEARTBEATS:
    'The peer sent heartbeats faster than the agreed interval: more than 10 above the one per interval due since its link began. Close 4004.',
  LW_ERR_CHECKPOINT_FAILED:
    'The CheckpointStore threw or rejected on commit: the messages it covers are not acked as processed, and the link is closed with 4005 so the worker replays them.',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export class LinkwatchError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = 'LinkwatchError';
  }
}

/** A frame could not be decoded or broke the protocol. Carries the close code to use. */
export class ProtocolError extends LinkwatchError {
  readonly closeCode: number;
  constructor(code: ErrorCode, closeCode: number, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'ProtocolError';
    this.closeCode = closeCode;
  }
}

export class AuthError extends LinkwatchError {
  constructor(code: 'LW_ERR_AUTH' | 'LW_ERR_WORKER_ID_MISMATCH', message: string) {
    super(code, message);
    this.name = 'AuthError';
  }
}

/** A deadline expired: handshake, heartbeat, handler, shutdown or a stalled transport. */
export class DeadlineError extends LinkwatchError {
  readonly timeoutMs: number;
  constructor(
    code:
      | 'LW_ERR_HANDSHAKE_TIMEOUT'
      | 'LW_ERR_HEARTBEAT_TIMEOUT'
      | 'LW_ERR_TRANSPORT_STALLED'
      | 'LW_ERR_HANDLER_TIMEOUT',
    timeoutMs: number,
    message: string,
  ) {
    super(code, message);
    this.name = 'DeadlineError';
    this.timeoutMs = timeoutMs;
  }
}

/** The outbox is full and the policy is `reject`. */
export class OutboxFullError extends LinkwatchError {
  constructor(message: string) {
    super('LW_ERR_OUTBOX_FULL', message);
    this.name = 'OutboxFullError';
  }
}

/** The link or queue was closed while the operation was pending. */
export class ClosedError extends LinkwatchError {
  constructor(message: string) {
    super('LW_ERR_CLOSED', message);
    this.name = 'ClosedError';
  }
}

/** A link was torn down; `reason` is the stable code of why. */
export class ConnectionError extends LinkwatchError {
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'ConnectionError';
  }
}

export function errorCode(err: unknown): string {
  if (err instanceof LinkwatchError) return err.code;
  if (err && typeof err === 'object' && 'code' in err && typeof err.code === 'string') return err.code;
  return err instanceof Error ? err.name : 'unknown';
}
