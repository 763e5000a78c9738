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
  /** The slab's bookkeeping (see FrameSlab): `slabDataFrame` gives the payload its seq there. */
  readonly state: { lastSeq: number; waiting: number };
}

/**
 * Where one sender writes large payloads: each is encoded once, straight
 * from the JSON string into a shared 128 KiB slab, with room around it for
 * the data frame's head and tail, which `slabDataFrame` adds once the outbox
 * assigns its seq. That is one UTF-8 pass over the payload instead of a size
 * scan and a copy into a Buffer of its own, and one allocation per slab
 * instead of one per frame: measured at 16 KiB, 12.4 against 15.4 µs per
 * message for stringify and encode together.
 *
 * A slab is reused once every frame in it was acked: `acked(seq)` passes
 * its highest seq and no payload in it waits for one. A new 128 KiB
 * ArrayBuffer every seven 16 KiB messages was 640 MB a second of external
 * memory for a sender at 34,000 msg/s, and V8 answers external memory with
 * full collections: a mark-compact every 60 ms. A busy sender thus keeps
 * the slabs its window needs and allocates none. Only acks free a slab for
 * reuse: a frame a drop policy discarded may still sit in the socket's
 * buffer, so `dropped()` marks every slab holding frames as never to reuse
 * (the collector takes them). `release()` (the outbox is empty) lets go of
 * the one being filled and keeps at most SPARE_SLABS free ones, so an idle
 * sender holds at most that many.
 */
export class FrameSlab {
  // The slab being filled, and the ones filled before it whose frames are not all acked, oldest first.
  #slab: SlabState | undefined;
  #used = 0;
  readonly #filled: SlabState[] = [];
  // Slabs whose frames were all acked, for the next writes.
  readonly #free: Buffer[] = [];

  /**
   * Writes `json`; undefined when it is too large to share a slab (over a
   * quarter) or did not fit where it landed (many multi-byte characters):
   * the caller then encodes it on its own.
   */
  write(json: string): SlabPayload | undefined {
    const least = HEAD_ROOM + json.length + TAIL_ROOM;
    if (least > SLAB_BYTES / 4) return undefined;
    if (!this.#slab || this.#used + least > SLAB_BYTES) {
      this.#retire();
      const buffer = this.#free.pop() ?? Buffer.allocUnsafeSlow(SLAB_BYTES);
      this.#slab = { buffer, lastSeq: 0, waiting: 0, reusable: true };
      this.#used = 0;
    }
    const slab = this.#slab;
    const start = this.#used + HEAD_ROOM;
    const room = SLAB_BYTES - TAIL_ROOM - start;
    const bytes = slab.buffer.write(json, start, room, 'utf8');
    // Node writes whole characters only: this close to the end, one may not have fit.
    if (bytes > room - 4) return undefined;
    this.#used = (start + bytes + TAIL_ROOM + 7) & ~7;
    slab.waiting++;
    return { slab: slab.buffer, start, bytes, state: slab };
  }

  /** Gives back the space of the latest write (its message was refused). */
  undo(p: SlabPayload): void {
    p.state.waiting--;
    if (p.state === this.#slab) this.#used = p.start - HEAD_ROOM;
  }

  /** The peer acked every seq up to `seq`: slabs whose frames are all acked are free for reuse. */
  acked(seq: number): void {
    const filled = this.#filled;
    let n = 0;
    while (n < filled.length && filled[n]!.waiting === 0 && filled[n]!.lastSeq <= seq) {
      const s = filled[n++]!;
      if (s.reusable) this.#free.push(s.buffer);
    }
    if (n > 0) filled.splice(0, n);
  }

  /** A drop policy discarded a message: no slab that holds frames now is reused. */
  dropped(): void {
    for (const s of this.#filled) s.reusable = false;
    if (this.#slab) this.#slab.reusable = false;
  }

  /** The outbox is empty: the next write starts a new slab, and this one is reused once free. */
  release(): void {
    this.#retire();
    this.#slab = undefined;
    this.#used = 0;
    // Every frame was acked (or dropped, which made its slab unusable): only waiting payloads hold one.
    this.acked(Number.MAX_SAFE_INTEGER);
    if (this.#free.length > SPARE_SLABS) this.#free.length = SPARE_SLABS;
  }

  #retire(): void {
    if (this.#slab) this.#filled.push(this.#slab);
  }
}

/** A slab and what decides its reuse: its highest seq, payloads written but not yet given one, drops. */
interface SlabState {
  readonly buffer: Buffer;
  lastSeq: number;
  waiting: number;
  reusable: boolean;
}

/** Free slabs an idle sender keeps (256 KiB). */
const SPARE_SLABS = 2;

/** The data frame around a slab payload, written in place: its head just before, its tail just after. */
export function slabDataFrame(p: SlabPayload, seq: number, traceparent?: string): EncodedFrame {
  p.state.waiting--;
  p.state.lastSeq = seq;
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
 * every frame is one (small messages: one join, see `batchIsText`), else a
 * Buffer: written into `into` when it is large enough (the caller reuses it
 * once the frame is written), else into a new one. Its size is
 * `batchBytes(frames)`.
 */
export function encodeBatch(frames: readonly EncodedFrame[], into?: Buffer): string | Buffer {
  return batchIsText(frames) ? encodeTextBatch(frames) : encodeBufferBatch(frames, batchBytes(frames), into);
}

/** encodeBatch for frames that are all strings (`batchIsText`): one join. */
export function encodeTextBatch(frames: readonly EncodedFrame[]): string {
  const items: string[] = new Array(frames.length);
  for (let i = 0; i < frames.length; i++) items[i] = (frames[i]!.frame as string).slice(DATA_HEAD.length, -1);
  return BATCH_HEAD + items.join(BATCH_SEPARATOR) + BATCH_TAIL;
}

/** encodeBatch into a Buffer of `size` (`batchBytes(frames)`): `into` when it is large enough, else a new one. */
export function encodeBufferBatch(frames: readonly EncodedFrame[], size: number, into?: Buffer): Buffer {
  const out = into !== undefined && into.length >= size ? into.subarray(0, size) : Buffer.allocUnsafe(size);
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

/** Whether `encodeBatch` joins these frames into a string (every one is a string). */
export function batchIsText(frames: readonly EncodedFrame[]): boolean {
  for (let i = 0; i < frames.length; i++) if (typeof frames[i]!.frame !== 'string') return false;
  return true;
}

/** The size in bytes of the batch frame `encodeBatch` writes for these frames. */
export function batchBytes(frames: readonly EncodedFrame[]): number {
  let size = BATCH_ENVELOPE_BYTES - BATCH_SEPARATOR_BYTES;
  for (let i = 0; i < frames.length; i++)
    size += frames[i]!.bytes - DATA_ENVELOPE_BYTES + BATCH_SEPARATOR_BYTES;
  return size;
}
