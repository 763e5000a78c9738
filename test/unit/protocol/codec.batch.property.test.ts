import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ProtocolError } from '../../../src/errors.js';
import {
  DEFAULT_MAX_FRAME_BYTES,
  decodeFrame,
  encodeFrame,
  validateFrame,
} from '../../../src/protocol/codec.js';
import { BUFFER_FRAME_BYTES, encodeBatch, encodeDataFrame } from '../../../src/protocol/data-frames.js';
import type { BatchFrame, BatchItem, Frame, JsonValue } from '../../../src/protocol/frames.js';
import { parseJsonText } from '../../../src/protocol/json-text.js';
import { jsonEqual } from './fixtures.js';

/*
 * The batch frame through the decoder, 100,000+ generated batch frames: valid
 * ones (as the outbox encodes them, item by item) must decode to the same
 * messages in the same order; mutated ones (items dropped, reordered,
 * retyped, bytes flipped) must either decode to a batch whose seqs strictly
 * increase and whose items hold only known fields, or fail with a
 * ProtocolError carrying its close code. Nothing else may escape.
 */

const RUNS = { roundTrip: 40_000, itemMutations: 35_000, bytes: 30_000 } as const;
const ALLOWED = new Set([
  'LW_ERR_PROTOCOL/1002',
  'LW_ERR_UNSUPPORTED_VERSION/1002',
  'LW_ERR_INVALID_FRAME/1007',
  'LW_ERR_FRAME_TOO_LARGE/1009',
]);
const ITEM_FIELDS = new Set(['seq', 'tp', 'p']);

const traceparent = fc.stringMatching(/^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/);
/** Small numbers only: a byte flip in a large one could make 1e999, a known case tested elsewhere. */
const payload: fc.Arbitrary<JsonValue> = fc.letrec<{ value: JsonValue }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', maxDepth: 3 },
    fc.constant(null),
    fc.boolean(),
    fc.integer({ min: -99, max: 99 }),
    fc.string({ maxLength: 24 }),
    fc.string({ unit: 'binary', maxLength: 12 }),
    fc.array(tie('value'), { maxLength: 3 }),
    fc.dictionary(fc.string({ maxLength: 8 }), tie('value'), { maxKeys: 3 }),
  ),
})).value;

/** Now and then a payload past BUFFER_FRAME_BYTES, so frames the outbox keeps as Buffers are batched too. */
const large: fc.Arbitrary<JsonValue> = fc
  .string({ unit: 'binary', minLength: 1, maxLength: 6 })
  .map((s) => ({ big: s.repeat(Math.ceil(BUFFER_FRAME_BYTES / s.length)) }));
const itemPayload = fc.oneof({ weight: 150, arbitrary: payload }, { weight: 1, arbitrary: large });

const items: fc.Arbitrary<BatchItem[]> = fc
  .tuple(
    fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER - 1_000 }),
    fc.array(
      fc.record({
        gap: fc.integer({ min: 1, max: 4 }),
        tp: fc.option(traceparent, { nil: undefined }),
        p: itemPayload,
      }),
      { minLength: 1, maxLength: 40 },
    ),
  )
  .map(([start, raw]) => {
    let seq = start;
    return raw.map(({ gap, tp, p }) => {
      seq += gap;
      return tp === undefined ? { seq, p } : { seq, tp, p };
    });
  });

/** How the outbox writes a batch: each message encoded once as its data frame (string or Buffer by size), then joined. */
function wire(batch: BatchItem[]): string {
  const frames = batch.map((i) => {
    const json = JSON.stringify(i.p);
    return encodeDataFrame(i.seq, json, Buffer.byteLength(json), i.tp);
  });
  return encodeBatch(frames).toString();
}

function check(decode: () => Frame): { ok: true; frame: Frame } | { ok: false } {
  let frame: Frame;
  try {
    frame = decode();
  } catch (err) {
    if (!(err instanceof ProtocolError)) throw new Error(`decoder threw ${String(err)}`, { cause: err });
    if (!ALLOWED.has(`${err.code}/${err.closeCode}`))
      throw new Error(`unexpected ${err.code}/${err.closeCode}`);
    return { ok: false };
  }
  if (frame.t === 'batch') {
    let last = 0;
    for (const item of frame.m) {
      if (item.seq <= last) throw new Error('decoded batch seqs do not strictly increase');
      last = item.seq;
      for (const k of Object.keys(item)) if (!ITEM_FIELDS.has(k)) throw new Error(`item kept field ${k}`);
    }
  }
  const again = validateFrame(parseJsonText(encodeFrame(frame)));
  if (!jsonEqual(again, frame)) throw new Error('decoded frame does not survive re-validation');
  return { ok: true, frame };
}

type ItemMutation =
  | { kind: 'drop-field'; at: number; field: 'seq' | 'p' | 'tp' }
  | { kind: 'set-field'; at: number; field: 'seq' | 'p' | 'tp'; value: JsonValue }
  | { kind: 'swap'; a: number; b: number }
  | { kind: 'duplicate'; at: number }
  | { kind: 'replace-item'; at: number; value: JsonValue }
  | { kind: 'replace-m'; value: JsonValue };

const odd = fc.constantFrom<JsonValue>(null, 0, -1, 1.5, 2 ** 53, '', '1', 'x'.repeat(70), [], {}, true);
const field = fc.constantFrom('seq' as const, 'p' as const, 'tp' as const);
const mutation: fc.Arbitrary<ItemMutation> = fc.oneof(
  fc.record({ kind: fc.constant('drop-field' as const), at: fc.nat(), field }),
  fc.record({ kind: fc.constant('set-field' as const), at: fc.nat(), field, value: fc.oneof(odd, payload) }),
  fc.record({ kind: fc.constant('swap' as const), a: fc.nat(), b: fc.nat() }),
  fc.record({ kind: fc.constant('duplicate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('replace-item' as const), at: fc.nat(), value: fc.oneof(odd, payload) }),
  fc.record({ kind: fc.constant('replace-m' as const), value: fc.oneof(odd, payload) }),
);

function mutate(batch: BatchItem[], m: ItemMutation): unknown[] {
  const out: unknown[] = batch.map((i) => ({ ...i }));
  const at = (n: number) => n % out.length;
  switch (m.kind) {
    case 'drop-field':
      delete (out[at(m.at)] as Record<string, unknown>)[m.field];
      return out;
    case 'set-field':
      (out[at(m.at)] as Record<string, unknown>)[m.field] = m.value;
      return out;
    case 'swap': {
      const [a, b] = [at(m.a), at(m.b)];
      [out[a], out[b]] = [out[b], out[a]];
      return out;
    }
    case 'duplicate':
      out.splice(at(m.at), 0, out[at(m.at)]);
      return out;
    case 'replace-item':
      out[at(m.at)] = m.value;
      return out;
    case 'replace-m':
      return [m.value];
  }
}

describe('batch frames through the decoder (property-based)', () => {
  it('spends at least 100,000 generated batch frames', () => {
    expect(Object.values(RUNS).reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(100_000);
  });

  it('decodes every batch the outbox writes to the same messages, in order, from a string or a Buffer', () => {
    fc.assert(
      fc.property(items, fc.boolean(), (batch, asBuffer) => {
        const text = wire(batch);
        const outcome = check(() =>
          decodeFrame(asBuffer ? Buffer.from(text) : text, false, DEFAULT_MAX_FRAME_BYTES),
        );
        if (!outcome.ok) throw new Error(`valid batch rejected: ${text.slice(0, 200)}`);
        const expected: BatchFrame = { v: 1, t: 'batch', m: batch };
        if (!jsonEqual(outcome.frame, expected)) throw new Error('decoded batch differs from what was sent');
      }),
      { numRuns: RUNS.roundTrip },
    );
  });

  it('rejects or strictly validates batches with mutated items, with a close code', () => {
    fc.assert(
      fc.property(items, mutation, (batch, m) => {
        const mutated = mutate(batch, m);
        const raw = JSON.stringify({ v: 1, t: 'batch', m: mutated });
        const outcome = check(() => decodeFrame(raw, false, DEFAULT_MAX_FRAME_BYTES));
        // Oracles where the answer is known: order broken or a seq gone is always a rejection.
        if (m.kind === 'duplicate' || (m.kind === 'drop-field' && m.field !== 'tp'))
          expect(outcome.ok).toBe(false);
        if (m.kind === 'swap' && mutated.length > 1 && m.a % batch.length !== m.b % batch.length)
          expect(outcome.ok).toBe(false);
      }),
      { numRuns: RUNS.itemMutations },
    );
  });

  it('keeps the contract for byte flips, truncations and size limits on encoded batches', () => {
    fc.assert(
      fc.property(
        items,
        fc.nat(),
        fc.integer({ min: 1, max: 255 }),
        fc.nat(),
        fc.oneof(fc.constant(DEFAULT_MAX_FRAME_BYTES), fc.integer({ min: 24, max: 600 })),
        (batch, flipAt, xor, cutAt, max) => {
          const bytes = Buffer.from(wire(batch));
          const flipped = Buffer.from(bytes);
          flipped[flipAt % bytes.length] = flipped[flipAt % bytes.length]! ^ xor;
          check(() => decodeFrame(flipped, false, max));
          check(() => decodeFrame(bytes.subarray(0, cutAt % bytes.length), false, max));
          const whole = check(() => decodeFrame(bytes, false, max));
          expect(whole.ok).toBe(bytes.length <= max);
        },
      ),
      { numRuns: RUNS.bytes },
    );
  });
});
