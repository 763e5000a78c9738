/**
 * The sender's side of data: a data frame encoded once from a payload the
 * sender already serialised, and batch frames built from those. The outbox
 * keeps what `encodeDataFrame` returns until the peer acks it. Decoding and
 * validation are in codec.ts; both write and read the same bytes as
 * `encodeFrame`, which the tests check byte for byte.
 */
const DATA_HEAD = '{"v":1,"t":"data",';
const BATCH_HEAD = '{"v":1,"t":"batch","m":[{';
const BATCH_SEPARATOR = '},{';
const BATCH_TAIL = '}]}';
/** Bytes a data frame adds around its item (`"seq":N,"p":…,"tp":…`): the head and the closing brace. */
export const DATA_ENVELOPE_BYTES = DATA_HEAD.length + 1;
/** Bytes a batch frame adds around its items. */
export const BATCH_ENVELOPE_BYTES = BATCH_HEAD.length + BATCH_TAIL.length;
/** Bytes between two items of a batch, `},{`. */
export const BATCH_SEPARATOR_BYTES = BATCH_SEPARATOR.length;
/**
 * From this many payload bytes a data frame is kept as a Buffer (written
 * into a FrameSlab when it fits one, else by `encodeDataFrame`), below as a
 * string. ws then writes the outbox's bytes as they are, or a batch copies
 * them (memcpy): no flattening copy of a joined string, no UTF-8 scan of it
 * in ws, no encode at the write, and the bytes wait for their ack off the V8
 * heap. Small frames stay strings: a batch of them is one join, where
 * Buffers cost 50-150 ns more per message (made, then copied into the batch).
 */
export const BUFFER_FRAME_BYTES = 8192;

/** Bytes kept before a payload in a slab for the longest data-frame head (a 16-digit seq). */
const HEAD_ROOM = DATA_HEAD.length + '"seq":,"p":'.length + 16;
/** Bytes kept after it for the longest tail, `,"tp":"<55-char traceparent>"}`. */
const TAIL_ROOM = 64;
const SLAB_BYTES = 128 * 1024;

/** A payload's UTF-8 bytes in a FrameSlab, with room before and after for its frame's head and tail. */
export interface SlabPayload {
  readonly slab: Buffer;
  readonly start: number;
  readonly bytes: number;
}

/**
 * Where one sender writes large payloads: each is encoded once, straight
 * from the JSON string into a shared 128 KiB slab, with room around it for
 * the data frame's head and tail, which `slabDataFrame` adds once the outbox
 * assigns its seq. That is one UTF-8 pass over the payload instead of a size
 * scan and a copy into a Buffer of its own, and one allocation per slab
 * instead of one per frame: measured at 16 KiB, 12.4 against 15.4 µs per
 * message for stringify and encode together. A slab lives while a frame in
 * it waits for its ack; `release()` (the outbox is empty) lets go of the
 * one being filled, so an idle sender holds none.
 */
export class FrameSlab {
  // The slab being filled; frames in it and in earlier ones keep those alive until acked.
  #slab: Buffer | undefined;
  #used = 0;

  /**
   * Writes `json`; undefined when it is too large to share a slab (over a
   * quarter) or did not fit where it landed (many multi-byte characters):
   * the caller then encodes it on its own.
   */
  write(json: string): SlabPayload | undefined {
    const least = HEAD_ROOM + json.length + TAIL_ROOM;
    if (least > SLAB_BYTES / 4) return undefined;
    if (!this.#slab || this.#used + least > SLAB_BYTES) {
      this.#slab = Buffer.allocUnsafeSlow(SLAB_BYTES);
      this.#used = 0;
    }
    const start = this.#used + HEAD_ROOM;
    const room = SLAB_BYTES - TAIL_ROOM - start;
    const bytes = this.#slab.write(json, start, room, 'utf8');
    // Node writes whole characters only: this close to the end, one may not have fit.
    if (bytes > room - 4) return undefined;
    this.#used = (start + bytes + TAIL_ROOM + 7) & ~7;
    return { slab: this.#slab, start, bytes };
  }

  /** Gives back the space of the latest write (its message was refused). */
  undo(p: SlabPayload): void {
    if (p.slab === this.#slab) this.#used = p.start - HEAD_ROOM;
  }

  /** Starts the next write in a new slab, so this one is freed once its frames are acked. */
  release(): void {
    this.#slab = undefined;
    this.#used = 0;
  }
}

/** The data frame around a slab payload, written in place: its head just before, its tail just after. */
export function slabDataFrame(p: SlabPayload, seq: number, traceparent?: string): EncodedFrame {
  const head = `${DATA_HEAD}"seq":${seq},"p":`;
  const tail = traceparent ? `,"tp":"${traceparent}"}` : '}';
  const from = p.start - head.length;
  p.slab.write(head, from, 'latin1');
  p.slab.write(tail, p.start + p.bytes, 'latin1');
  const frame = p.slab.subarray(from, p.start + p.bytes + tail.length);
  return { frame, bytes: frame.length };
}

/** An encoded data frame and its size in UTF-8 bytes. */
export interface EncodedFrame {
  readonly frame: string | Buffer;
  readonly bytes: number;
}

/**
 * A data frame around a payload the sender already serialised and measured
 * (it needed both for the size check), so nothing is stringified or scanned
 * twice: a string for a small payload, its UTF-8 bytes from
 * BUFFER_FRAME_BYTES on. The outbox keeps it as it is: written alone as is,
 * joined or copied into a batch frame (`encodeBatch`), reused on replay.
 * Byte for byte what `encodeFrame` writes for the same frame. `traceparent`
 * must be ASCII (a W3C traceparent).
 */
export function encodeDataFrame(
  seq: number,
  payloadJson: string,
  payloadBytes: number,
  traceparent?: string,
): EncodedFrame {
  const head = `${DATA_HEAD}"seq":${seq},"p":`;
  const tail = traceparent ? `,"tp":"${traceparent}"}` : '}';
  const bytes = head.length + payloadBytes + tail.length;
  if (payloadBytes < BUFFER_FRAME_BYTES) return { frame: head + payloadJson + tail, bytes };
  // Encoded straight into the frame: no joined copy of the payload first.
  const out = Buffer.allocUnsafe(bytes);
  let at = out.write(head, 0, 'latin1');
  at += out.write(payloadJson, at, 'utf8');
  out.write(tail, at, 'latin1');
  return { frame: out, bytes };
}

/**
 * One batch frame of data frames from `encodeDataFrame`, in seq order: each
 * one's item between the batch's head, separators and tail. A string when
 * every frame is one (small messages: one join), else a Buffer. Its size is
 * `batchBytes(frames)`.
 */
export function encodeBatch(frames: readonly EncodedFrame[]): string | Buffer {
  let strings = true;
  for (let i = 0; i < frames.length; i++) if (typeof frames[i]!.frame !== 'string') strings = false;
  if (strings) {
    const items: string[] = new Array(frames.length);
    for (let i = 0; i < frames.length; i++)
      items[i] = (frames[i]!.frame as string).slice(DATA_HEAD.length, -1);
    return BATCH_HEAD + items.join(BATCH_SEPARATOR) + BATCH_TAIL;
  }
  const out = Buffer.allocUnsafe(batchBytes(frames));
  let at = out.write(BATCH_HEAD, 0, 'latin1');
  for (let i = 0; i < frames.length; i++) {
    if (i > 0) at += out.write(BATCH_SEPARATOR, at, 'latin1');
    const f = frames[i]!.frame;
    if (typeof f === 'string') at += out.write(f.slice(DATA_HEAD.length, -1), at, 'utf8');
    else at += f.copy(out, at, DATA_HEAD.length, f.length - 1);
  }
  out.write(BATCH_TAIL, at, 'latin1');
  return out;
}

/** The size in bytes of the batch frame `encodeBatch` writes for these frames. */
export function batchBytes(frames: readonly EncodedFrame[]): number {
  let size = BATCH_ENVELOPE_BYTES - BATCH_SEPARATOR_BYTES;
  for (let i = 0; i < frames.length; i++)
    size += frames[i]!.bytes - DATA_ENVELOPE_BYTES + BATCH_SEPARATOR_BYTES;
  return size;
}
