/**
 * One error class per failure kind. `code` is stable, documented in the README
 * ("Error codes") and used as `error.type` in telemetry. Messages are for
 * people and never carry tokens or payloads.
 */
export type ErrorCode =
  | 'LW_ERR_PROTOCOL'
  | 'LW_ERR_FRAME_TOO_LARGE'
  | 'LW_ERR_INVALID_FRAME'
  | 'LW_ERR_UNSUPPORTED_VERSION'
  | 'LW_ERR_OUT_OF_ORDER'
  | 'LW_ERR_AUTH'
  | 'LW_ERR_WORKER_ID_MISMATCH'
  | 'LW_ERR_SUPERSEDED'
  | 'LW_ERR_EVICTED'
  | 'LW_ERR_HANDSHAKE_TIMEOUT'
  | 'LW_ERR_HEARTBEAT_TIMEOUT'
  | 'LW_ERR_TRANSPORT_STALLED'
  | 'LW_ERR_HANDLER_TIMEOUT'
  | 'LW_ERR_HANDLER_FAILED'
  | 'LW_ERR_QUEUE_FULL'
  | 'LW_ERR_OUTBOX_FULL'
  | 'LW_ERR_CLOSED'
  | 'LW_ERR_SHUTDOWN_TIMEOUT'
  | 'LW_ERR_CONNECT'
  | 'LW_ERR_CONNECTION_LOST'
  | 'LW_ERR_WINDOW_EXCEEDED'
  | 'LW_ERR_STALLED';

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
      | 'LW_ERR_HANDLER_TIMEOUT'
      | 'LW_ERR_SHUTDOWN_TIMEOUT',
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
