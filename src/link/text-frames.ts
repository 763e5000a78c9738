/**
 * Small text frames written straight to the socket under a `ws` WebSocket,
 * header and payload in one buffer and one `write()`, instead of through
 * `ws.send()`. `ws` spreads two option objects per call, scans the string
 * for its UTF-8 length (which the outbox already knows), allocates the
 * header apart and writes both with `cork()`/`uncork()` as a two-part
 * `writev`. At a moderate rate each message finds both processes just woken,
 * on caches the other process used, and that work showed in the latency:
 * side by side at 2,000 msg/s (four runs of 56 alternating turns) the p50
 * was about 5 % lower with the direct write (bench/results/latency-slices.md).
 *
 * The bytes on the wire are the ones `ws` writes: FIN and the text opcode,
 * the length, and for a client the mask bit and a masking key of four zero
 * bytes, which leaves the payload as it is (RFC 6455 5.3 lets a client pick
 * any key; with a random key, the `frameMask: 'random'` option, frames go
 * through `ws`). Anything else goes through `ws` as well: a socket that is
 * not open, a `ws` Sender with work queued (it only queues while
 * compressing, which links never do, or reading a Blob), and frames of
 * MAX_DIRECT_BYTES or more (Node's buffer pool serves smaller allocations).
 * Direct writes count in `bufferedAmount` (the socket's buffer) like any.
 */

/** The masking key a worker's `ws` client is given (frameMask 'zero'); writeText recognizes it. */
export function zeroMask(mask: Buffer): void {
  mask[0] = 0;
  mask[1] = 0;
  mask[2] = 0;
  mask[3] = 0;
}

/** Frames this large and larger go through `ws` (Node's pool serves allocations up to 4 KiB). */
export const MAX_DIRECT_BYTES = 4000;

const OPEN = 1;

/** The `ws` internals writeText relies on; a transport without them is written through `send()`. */
interface WsInternals {
  readyState: number;
  _isServer: boolean;
  _socket?: { writable: boolean; write(chunk: Buffer): boolean };
  _sender?: { _state: number; _queue: unknown[]; _generateMask?: unknown };
}

/**
 * Writes `frame` (exactly `bytes` of UTF-8) as one text frame straight to
 * the socket under `ws`. False when it wrote nothing: the caller sends it
 * through `ws` instead.
 */
export function writeText(ws: unknown, frame: string, bytes: number): boolean {
  if (bytes >= MAX_DIRECT_BYTES) return false;
  const w = ws as WsInternals;
  const socket = w._socket;
  const sender = w._sender;
  if (
    w.readyState !== OPEN ||
    !socket?.writable ||
    !sender ||
    sender._state !== 0 ||
    sender._queue.length > 0
  )
    return false;
  const masked = !w._isServer;
  if (masked && sender._generateMask !== zeroMask) return false;
  const headBytes = (bytes > 125 ? 4 : 2) + (masked ? 4 : 0);
  // Four bytes to spare: a frame longer than `bytes` then writes at least one more character.
  const out = Buffer.allocUnsafe(headBytes + bytes + 4);
  out[0] = 0x81;
  let at = 2;
  if (bytes > 125) {
    out[1] = 126;
    out.writeUInt16BE(bytes, 2);
    at = 4;
  } else {
    out[1] = bytes;
  }
  if (masked) {
    out[1] |= 0x80;
    out.writeUInt32BE(0, at);
    at += 4;
  }
  // A frame whose UTF-8 is not `bytes` long would corrupt the stream: then nothing is written.
  if (out.write(frame, at) !== bytes) return false;
  socket.write(out.subarray(0, headBytes + bytes));
  return true;
}
