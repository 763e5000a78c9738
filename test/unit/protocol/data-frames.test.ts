import { describe, expect, it } from 'vitest';
import { DEFAULT_MAX_FRAME_BYTES, decodeFrame, encodeFrame } from '../../../src/protocol/codec.js';
import {
  BATCH_ENVELOPE_BYTES,
  BATCH_SEPARATOR_BYTES,
  BUFFER_FRAME_BYTES,
  DATA_ENVELOPE_BYTES,
  encodeBatch,
  encodeDataFrame,
  FrameSlab,
  slabDataFrame,
} from '../../../src/protocol/data-frames.js';
import type { BatchItem, JsonValue } from '../../../src/protocol/frames.js';
import { TRACEPARENT } from './fixtures.js';

/*
 * The sender's encoding of data and batch frames: byte for byte what
 * encodeFrame writes, with the sizes the outbox and the pump account.
 */

const MAX = DEFAULT_MAX_FRAME_BYTES;

describe('encodeDataFrame', () => {
  const payloads: JsonValue[] = [
    null,
    0,
    -1.5e-7,
    'x"\\\u2028',
    [1, [2, { a: 'b' }]],
    { n: 1, s: 'é', e: {} },
    // Past BUFFER_FRAME_BYTES the payload is written straight into a Buffer: ASCII, 2-, 3- and 4-byte characters.
    { pad: 'x'.repeat(9000) },
    { pad: 'é😀€'.repeat(1000), n: [1, 2] },
  ];
  const frameOf = (seq: number, p: JsonValue, tp?: string) => {
    const json = JSON.stringify(p);
    return encodeDataFrame(seq, json, Buffer.byteLength(json), tp);
  };
  it('writes byte for byte what encodeFrame writes, with and without a traceparent, and says its size', () => {
    for (const p of payloads) {
      for (const tp of [undefined, TRACEPARENT]) {
        const expected = encodeFrame(
          tp ? { v: 1, t: 'data', seq: 7, p, tp } : { v: 1, t: 'data', seq: 7, p },
        );
        const { frame, bytes } = frameOf(7, p, tp);
        expect(frame.toString()).toBe(expected);
        expect(bytes).toBe(Buffer.byteLength(expected));
      }
    }
  });

  it('keeps a small payload as a string and a large one as its UTF-8 bytes', () => {
    expect(typeof frameOf(1, 'x'.repeat(BUFFER_FRAME_BYTES - 3)).frame).toBe('string');
    expect(Buffer.isBuffer(frameOf(1, 'x'.repeat(BUFFER_FRAME_BYTES - 2)).frame)).toBe(true);
  });
});

describe('encodeBatch', () => {
  const TP2 = TRACEPARENT;
  const small: BatchItem[] = [
    { seq: 3, p: { a: 1 }, tp: TP2 },
    { seq: 4, p: 'x' },
    { seq: 9, p: null },
    { seq: 10, p: { s: 'é😀' } },
  ];
  const large: BatchItem[] = [
    { seq: 11, p: { pad: 'é'.repeat(4500) } },
    { seq: 12, p: 'y'.repeat(9000), tp: TP2 },
  ];
  const encodeAll = (items: BatchItem[]) =>
    items.map((i) => {
      const json = JSON.stringify(i.p);
      return encodeDataFrame(i.seq, json, Buffer.byteLength(json), i.tp);
    });

  for (const [name, items] of [
    ['small items (strings)', small],
    ['large items (Buffers)', large],
    ['small and large items mixed', [...small, ...large]],
  ] as const) {
    it(`writes byte for byte what encodeFrame writes for the same batch frame: ${name}`, () => {
      const frames = encodeAll([...items]);
      const expected = encodeFrame({ v: 1, t: 'batch', m: [...items] });
      const batch = encodeBatch(frames);
      expect(batch.toString()).toBe(expected);
      expect(Buffer.byteLength(expected)).toBe(
        frames.reduce((n, f) => n + f.bytes - DATA_ENVELOPE_BYTES + BATCH_SEPARATOR_BYTES, 0) -
          BATCH_SEPARATOR_BYTES +
          BATCH_ENVELOPE_BYTES,
      );
      expect(decodeFrame(batch, false, MAX)).toEqual({ v: 1, t: 'batch', m: items });
    });
  }
});

describe('FrameSlab', () => {
  const json = (p: JsonValue) => JSON.stringify(p);

  it('frames a payload in place, byte for byte what encodeFrame writes, with and without a traceparent', () => {
    const slab = new FrameSlab();
    const payloads: JsonValue[] = [{ pad: 'x'.repeat(9000) }, { pad: 'é😀€'.repeat(2000), n: [1] }];
    for (const p of payloads) {
      for (const tp of [undefined, TRACEPARENT]) {
        const written = slab.write(json(p));
        expect(written).toBeDefined();
        const { frame, bytes } = slabDataFrame(written!, 123_456, tp);
        const expected = encodeFrame(
          tp ? { v: 1, t: 'data', seq: 123_456, p, tp } : { v: 1, t: 'data', seq: 123_456, p },
        );
        expect(frame.toString()).toBe(expected);
        expect(bytes).toBe(Buffer.byteLength(expected));
      }
    }
  });

  it('keeps frames written earlier intact while later ones fill the same slab and the next', () => {
    const slab = new FrameSlab();
    const frames = Array.from({ length: 20 }, (_, i) => {
      const p = { i, pad: String.fromCharCode(97 + i).repeat(9000 + i) };
      return { p, encoded: slabDataFrame(slab.write(json(p))!, i + 1, i % 2 ? TRACEPARENT : undefined) };
    });
    frames.forEach(({ p, encoded }, i) => {
      const frame =
        i % 2 ? { v: 1, t: 'data', seq: i + 1, p, tp: TRACEPARENT } : { v: 1, t: 'data', seq: i + 1, p };
      expect(encoded.frame.toString()).toBe(encodeFrame(frame as never));
    });
    // The largest seq fits the head room.
    const last = slabDataFrame(slab.write(json('z'.repeat(9000)))!, Number.MAX_SAFE_INTEGER);
    expect(last.frame.toString()).toBe(
      encodeFrame({ v: 1, t: 'data', seq: Number.MAX_SAFE_INTEGER, p: 'z'.repeat(9000) }),
    );
  });

  it('leaves a payload over a quarter slab, or one that did not fit where it landed, to the caller', () => {
    const slab = new FrameSlab();
    expect(slab.write(json('x'.repeat(40_000)))).toBeUndefined();
    // Three bytes a character: room was kept for its length only.
    slab.write(json('a'.repeat(30_000)));
    slab.write(json('b'.repeat(30_000)));
    slab.write(json('c'.repeat(30_000)));
    expect(slab.write(json('€'.repeat(30_000)))).toBeUndefined();
  });

  it('undo gives the space back; release starts the next write in a new slab', () => {
    const slab = new FrameSlab();
    const a = slab.write(json('a'.repeat(9000)))!;
    slab.undo(a);
    const b = slab.write(json('b'.repeat(9000)))!;
    expect(b.slab).toBe(a.slab);
    expect(b.start).toBe(a.start);
    slab.release();
    expect(slab.write(json('c'.repeat(9000)))!.slab).not.toBe(a.slab);
  });

  describe('reuse (a busy sender allocates no slab)', () => {
    // 20 KB payloads: six fill a 128 KiB slab, the seventh starts the next.
    const big = (i: number) => json({ i, pad: 'p'.repeat(20_000) });
    function sender() {
      const slab = new FrameSlab();
      let seq = 0;
      /** Writes n payloads and gives each its seq; returns the slab buffers they landed in. */
      const send = (n: number) =>
        Array.from({ length: n }, () => {
          const w = slab.write(big(seq))!;
          slabDataFrame(w, ++seq);
          return w.slab;
        });
      return { slab, send };
    }

    it('reuses a slab once its last frame is acked, not before, and keeps later frames intact', () => {
      const { slab, send } = sender();
      const a = send(6)[0]!; // seqs 1-6
      const b = send(6)[0]!; // 7-12
      expect(b).not.toBe(a);
      slab.acked(5);
      const c = send(6)[0]!; // 13-18: A still holds seq 6
      expect([a, b]).not.toContain(c);
      const inD = slabDataFrame(slab.write(big(99))!, 99); // a fourth slab: A is not free yet
      slab.acked(6);
      const [, ...rest] = send(6);
      const d = rest.at(-1)!;
      expect(d).toBe(a);
      // Reusing A left the other slabs alone.
      expect(inD.frame.toString()).toBe(encodeFrame({ v: 1, t: 'data', seq: 99, p: JSON.parse(big(99)) }));
    });

    it('keeps a slab while a payload in it waits for its seq (a producer blocked by the window)', () => {
      const slab = new FrameSlab();
      const waiting = slab.write(big(0))!;
      for (let i = 1; i < 6; i++) slabDataFrame(slab.write(big(i))!, i);
      slabDataFrame(slab.write(big(6))!, 6); // the next slab
      slab.acked(Number.MAX_SAFE_INTEGER);
      for (let i = 7; i < 13; i++) expect(slab.write(big(i))!.slab).not.toBe(waiting.slab);
    });

    it('never reuses a slab that held frames when a drop policy discarded a message', () => {
      const { slab, send } = sender();
      const first = send(12);
      slab.dropped();
      slab.acked(12);
      const later = send(18);
      for (const buf of later) expect(first).not.toContain(buf);
    });

    it('an idle sender keeps at most two free slabs', () => {
      const { slab, send } = sender();
      const used = new Set(send(24)); // four slabs
      slab.acked(24);
      slab.release();
      const next = [...new Set(send(18))]; // three slabs
      expect(next.filter((b) => used.has(b))).toHaveLength(2);
    });
  });
});
