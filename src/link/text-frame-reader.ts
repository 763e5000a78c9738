import { isUtf8 } from 'node:buffer';
import { Writable } from 'node:stream';
import type { WebSocket } from 'ws';

/**
 * The read side of text-frames.ts: whole text frames in a socket chunk are
 * read here, and each goes to `ws`'s Receiver 'message' event as `ws` itself
 * would emit it (a Buffer over the chunk's bytes, isBinary false).
 *
 * `ws` passes every chunk through its Receiver, a Writable stream: `write()`,
 * the stream's buffering and callback bookkeeping, a state machine of five
 * steps per frame, a fragment array, and a `process.nextTick` after each
 * chunk. A link's chunks are nearly all whole small data frames, and on a
 * hub at 2,000 msg/s that path, run on caches the worker had just used, was
 * about 5 % of the p50 from `send()` to the handler (bench/results/
 * latency-slices.md). So the Receiver's `write()` is replaced, per socket,
 * by one that reads such frames itself while the Receiver stands between
 * frames, and hands it everything else from the first byte it does not
 * take: control frames (ping, pong, close), fragments, binary or compressed
 * frames, frames split across chunks, 64-bit lengths, a frame over
 * `maxPayload`, a mask bit on the wrong side, and text that is not UTF-8.
 * The Receiver then does what it always did with those bytes, errors and
 * close codes included; it never sees a byte twice or out of order.
 *
 * Installed only on a Receiver shaped as `ws` 8's (the fields read below);
 * anything else is left alone and keeps working.
 */

// ws's Receiver state between frames (GET_INFO in lib/receiver.js).
const GET_INFO = 0;
// FIN set, RSV1-3 clear (not compressed), opcode 1 (text): the first byte of every frame read here.
const WHOLE_TEXT = 0x81;
const MASK_BIT = 0x80;

// The Receiver's own write(), from Writable; called with the arguments it was given.
const writableWrite = Writable.prototype.write as (
  this: unknown,
  chunk: unknown,
  encoding?: unknown,
  cb?: unknown,
) => boolean;

/** The Receiver fields read here (ws 8). */
interface ReceiverInternals {
  _state: number;
  _bufferedBytes: number;
  _fragmented: number;
  _errored: boolean;
  _isServer: boolean;
  _maxPayload: number;
  _skipUTF8Validation: boolean;
  _allowSynchronousEvents: boolean;
  // length counts the chunk a write is still working on (an inflate, a deferred event) too.
  _writableState: { length: number; ending: boolean; destroyed: boolean };
  write: (this: ReceiverInternals, chunk: unknown, encoding?: unknown, cb?: unknown) => boolean;
  emit(event: 'message', data: Buffer, isBinary: boolean): boolean;
}

/** Reads whole text frames off `ws`'s socket chunks directly; true when installed. */
export function readTextFramesDirectly(ws: WebSocket): boolean {
  const receiver = (ws as unknown as { _receiver?: unknown })._receiver;
  if (!isWs8Receiver(receiver)) return false;
  receiver.write = directWrite;
  return true;
}

function isWs8Receiver(r: unknown): r is ReceiverInternals {
  if (!(r instanceof Writable) || r.write !== writableWrite) return false;
  const o = r as unknown as Record<string, unknown>;
  return (
    typeof o._state === 'number' &&
    typeof o._bufferedBytes === 'number' &&
    typeof o._fragmented === 'number' &&
    typeof o._errored === 'boolean' &&
    typeof o._isServer === 'boolean' &&
    typeof o._maxPayload === 'number' &&
    typeof o._skipUTF8Validation === 'boolean' &&
    typeof o._allowSynchronousEvents === 'boolean'
  );
}

/** The Receiver's write(): the frames read here first, the rest of the chunk to the Receiver's own. */
function directWrite(this: ReceiverInternals, chunk: unknown, encoding?: unknown, cb?: unknown): boolean {
  // ws's socket listener writes a Buffer and nothing else; anything unusual takes the usual path.
  if (encoding !== undefined || cb !== undefined || !Buffer.isBuffer(chunk) || !betweenFrames(this))
    return writableWrite.call(this, chunk, encoding, cb);
  const read = readWholeTextFrames(this, chunk);
  if (read === chunk.length) return true;
  return writableWrite.call(this, read === 0 ? chunk : chunk.subarray(read));
}

/**
 * Nothing of an earlier chunk is pending: no partial frame or fragmented
 * message, no error, no write buffered or in progress (a deferred event or
 * an inflate), not ended (a close frame ends it), and events are emitted
 * synchronously.
 */
function betweenFrames(r: ReceiverInternals): boolean {
  const w = r._writableState;
  return (
    r._state === GET_INFO &&
    r._bufferedBytes === 0 &&
    r._fragmented === 0 &&
    !r._errored &&
    r._allowSynchronousEvents &&
    w.length === 0 &&
    !w.ending &&
    !w.destroyed
  );
}

/** Emits each whole text frame from the chunk's start; returns the bytes read (where the Receiver takes over). */
function readWholeTextFrames(r: ReceiverInternals, chunk: Buffer): number {
  const n = chunk.length;
  const masked = r._isServer;
  const max = r._maxPayload;
  let at = 0;
  while (n - at >= 2) {
    const second = chunk[at + 1]!;
    // A client's frames are masked, a server's are not; ws closes with 1002 on the other.
    if (chunk[at] !== WHOLE_TEXT || (second & MASK_BIT) !== (masked ? MASK_BIT : 0)) break;
    let length = second & 0x7f;
    let start = at + 2;
    if (length === 126) {
      if (n - at < 4) break;
      length = (chunk[at + 2]! << 8) | chunk[at + 3]!;
      start = at + 4;
    } else if (length === 127) break;
    // ws closes with 1009 past maxPayload (0: no limit).
    if (max > 0 && length > max) break;
    const key = start;
    if (masked) start += 4;
    const end = start + length;
    if (end > n) break;
    const unmasked = masked && xorKey(chunk, key, start, end);
    const payload = chunk.subarray(start, end);
    if (!r._skipUTF8Validation && !isUtf8(payload)) {
      // Back as it came, for the Receiver to read and close with 1007.
      if (unmasked) xorKey(chunk, key, start, end);
      break;
    }
    at = end;
    r.emit('message', payload, false);
  }
  return at;
}

/**
 * XORs chunk[start, end) with the 4-byte masking key at `key` (RFC 6455
 * 5.3), in place as ws does; twice restores the bytes. False, and nothing
 * done, for the zero key a linkwatch worker sends by default.
 */
function xorKey(chunk: Buffer, key: number, start: number, end: number): boolean {
  if ((chunk[key]! | chunk[key + 1]! | chunk[key + 2]! | chunk[key + 3]!) === 0) return false;
  for (let i = start; i < end; i++) chunk[i] = chunk[i]! ^ chunk[key + ((i - start) & 3)]!;
  return true;
}
