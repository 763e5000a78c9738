/**
 * WebSocket close codes used by linkwatch. 1000-1011 are RFC 6455; 4000-4999
 * are ours. Every code is documented in the README ("Close codes").
 */
export const CloseCode = {
  /** Clean shutdown requested by the app. */
  normal: 1000,
  /** The process is shutting down. */
  goingAway: 1001,
  /** Malformed, unknown-version or out-of-order frame. */
  protocolError: 1002,
  /** A frame that parsed but carried invalid data (bad JSON, bad field type). */
  invalidData: 1007,
  /** Policy violation: worker id not allowed for this token, flow-control window exceeded. */
  policyViolation: 1008,
  /** A frame larger than the negotiated maximum. */
  messageTooBig: 1009,
  /** The hub failed internally. */
  internalError: 1011,
  /** A newer connection with the same worker id replaced this one (epoch fence). */
  superseded: 4001,
  /** The hub's watchdog evicted this link. */
  evicted: 4002,
  /** The handshake did not complete in time. */
  handshakeTimeout: 4003,
  /** The peer sent heartbeats far faster than the agreed interval (gRPC's too_many_pings). */
  tooManyHeartbeats: 4004,
  /** The hub's CheckpointStore failed; what it did not record is replayed on the next link. */
  checkpointFailed: 4005,
} as const;

export type CloseCodeName = keyof typeof CloseCode;

/** What each close code means, for the README table (a test keeps them in step). */
export const CLOSE_CODE_MEANINGS: Record<CloseCodeName, string> = {
  normal: 'Clean shutdown requested by the app (`worker.stop()`).',
  goingAway: 'The hub is shutting down (`hub.close()`); workers reconnect, to another hub if listed.',
  protocolError: 'Malformed, unknown-version or out-of-order frame, or an ack for a seq never sent.',
  invalidData:
    'A frame that parsed but carried invalid data: bad JSON or UTF-8, a bad field, a payload too deep.',
  policyViolation: 'The token may not claim this worker id, or the peer overran the flow-control window.',
  messageTooBig: 'A frame larger than the negotiated `maxFrameBytes`.',
  internalError: 'The hub failed internally.',
  superseded:
    'A newer connection with the same worker id replaced this one (epoch fence). Do not retry both.',
  evicted: "The hub's watchdog evicted this stalled link; the worker reconnects and replays.",
  handshakeTimeout: 'No hello within `handshakeTimeoutMs` after the upgrade.',
  tooManyHeartbeats:
    'The peer sent heartbeats faster than the agreed `heartbeatIntervalMs`: more than 10 above those due since its link began (like gRPC `too_many_pings`). Fix the peer; it may reconnect.',
  checkpointFailed:
    "The hub's `CheckpointStore` threw or rejected. Messages it did not record were not acked; the worker reconnects and replays them.",
};
export type CloseCodeValue = (typeof CloseCode)[CloseCodeName];

/** RFC 6455 limits a close reason to 123 bytes of UTF-8. */
export function clampReason(reason: string): string {
  const buf = Buffer.from(reason, 'utf8');
  if (buf.length <= 123) return reason;
  return `${buf
    .subarray(0, 120)
    .toString('utf8')
    .replace(/\uFFFD+$/, '')}...`;
}
