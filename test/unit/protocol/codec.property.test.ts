import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ProtocolError } from '../../../src/errors.js';
import {
  DEFAULT_MAX_FRAME_BYTES,
  decodeFrame,
  encodeFrame,
  validateFrame,
} from '../../../src/protocol/codec.js';
import { FRAME_TYPES, type Frame, type JsonValue } from '../../../src/protocol/frames.js';
import { parseJsonText } from '../../../src/protocol/json-text.js';
import { jsonEqual, KNOWN_FIELDS } from './fixtures.js';

/*
 * The decoder's contract, checked against 100,000+ generated inputs: decodeFrame
 * either returns a frame that survives encode → parse → validate unchanged and
 * holds only known fields, or throws a ProtocolError carrying a close code this
 * side can send (1002, 1007, 1008, 1009) and the error code that goes with it.
 * Nothing else may escape.
 *
 * Payload numbers in the frames that get mutated byte by byte are small
 * (|n| < 100, a few fixed fractions): one byte flip then cannot turn them into
 * an exponent of 309 or more, which JSON.parse reads as Infinity. That case is a
 * known bug with its own failing test in codec.test.ts; without this limit it
 * would turn up at random here.
 */

const CLOSE_CODE_OF: Record<string, number> = {
  LW_ERR_PROTOCOL: 1002,
  LW_ERR_UNSUPPORTED_VERSION: 1002,
  LW_ERR_INVALID_FRAME: 1007,
  LW_ERR_FRAME_TOO_LARGE: 1009,
};
const ALLOWED_CLOSE_CODES = new Set([1002, 1007, 1008, 1009]);

/** Runs per property; the total is checked below so a later edit cannot quietly shrink it. */
const RUNS = {
  roundTrip: 15_000,
  strings: 20_000,
  jsonValues: 20_000,
  bytes: 15_000,
  structural: 15_000,
  text: 20_000,
} as const;

type Outcome = { ok: true; frame: Frame } | { ok: false; error: ProtocolError };

/** Calls the decoder and checks the contract; returns what happened for stronger oracles. */
function checkContract(decode: () => Frame): Outcome {
  let frame: Frame;
  try {
    frame = decode();
  } catch (err) {
    if (!(err instanceof ProtocolError)) {
      throw new Error(`decoder threw a non-ProtocolError: ${String(err)}`, { cause: err });
    }
    if (!ALLOWED_CLOSE_CODES.has(err.closeCode) || CLOSE_CODE_OF[err.code] !== err.closeCode) {
      throw new Error(`unexpected code/closeCode pair ${err.code}/${err.closeCode}`);
    }
    return { ok: false, error: err };
  }
  const known = KNOWN_FIELDS[frame.t];
  for (const key of Object.keys(frame)) {
    if (!known.includes(key)) throw new Error(`decoded ${frame.t} frame kept unknown field ${key}`);
  }
  const again = validateFrame(parseJsonText(encodeFrame(frame)));
  if (!jsonEqual(again, frame)) {
    throw new Error(`frame does not survive re-validation: ${encodeFrame(frame)} → ${encodeFrame(again)}`);
  }
  return { ok: true, frame };
}

// ---------------------------------------------------------------- arbitraries

const nat = fc.maxSafeNat();
const positive = fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER });
/** Up to 32 code points: at most 64 UTF-16 units, inside every string limit. */
const shortString = fc.oneof(
  fc.string({ maxLength: 32 }),
  fc.string({ unit: 'binary', maxLength: 32 }),
  fc.constantFrom('\ud800', 'a\udfff', '"\\', '\u0000'),
);
const workerId = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/);
const stream = fc.stringMatching(/^[A-Za-z0-9_-]{1,64}$/);
const traceparent = fc.stringMatching(/^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/);

/** A JSON payload whose numbers stay small (see the note at the top). */
const smallPayload: fc.Arbitrary<JsonValue> = fc.letrec<{ value: JsonValue }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', maxDepth: 4 },
    fc.constant(null),
    fc.boolean(),
    fc.integer({ min: -99, max: 99 }),
    fc.constantFrom(0.5, -1.25, 3.75),
    shortString,
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(shortString, tie('value'), { maxKeys: 4 }),
  ),
})).value;

/** 1-20 batch items with strictly increasing seqs, some with a traceparent. */
function batchItems(payload: fc.Arbitrary<JsonValue>) {
  return fc
    .array(
      fc.record(
        { gap: fc.integer({ min: 1, max: 3 }), tp: traceparent, p: payload },
        { requiredKeys: ['gap', 'p'] },
      ),
      { minLength: 1, maxLength: 20 },
    )
    .chain((raw) =>
      fc.integer({ min: 0, max: 1_000_000 }).map((start) => {
        let seq = start;
        return raw.map(({ gap, tp, p }) => {
          seq += gap;
          return tp === undefined ? { seq, p } : { seq, tp, p };
        });
      }),
    );
}

function validFrames(payload: fc.Arbitrary<JsonValue>): fc.Arbitrary<Frame> {
  const v = fc.constant(1 as const);
  return fc.oneof(
    fc.record(
      {
        v,
        t: fc.constant('hello' as const),
        workerId,
        stream,
        peerStream: fc.oneof(stream, fc.constant('')),
        processed: nat,
        window: positive,
        rev: positive,
      },
      { requiredKeys: ['v', 't', 'workerId', 'stream', 'peerStream', 'processed', 'window'] },
    ),
    fc.record(
      {
        v,
        t: fc.constant('welcome' as const),
        hubId: shortString,
        stream,
        epoch: nat,
        processed: nat,
        heartbeatIntervalMs: positive,
        heartbeatMisses: positive,
        window: positive,
        maxFrameBytes: positive,
        rev: positive,
      },
      {
        requiredKeys: [
          'v',
          't',
          'hubId',
          'stream',
          'epoch',
          'processed',
          'heartbeatIntervalMs',
          'heartbeatMisses',
          'window',
          'maxFrameBytes',
        ],
      },
    ),
    fc.record(
      { v, t: fc.constant('data' as const), seq: positive, tp: traceparent, p: payload },
      { requiredKeys: ['v', 't', 'seq', 'p'] },
    ),
    fc.record({ v, t: fc.constant('batch' as const), m: batchItems(payload) }),
    fc.record({ v, t: fc.constant('ack' as const), seq: nat }),
    fc.record({
      v,
      t: fc.constant('hb' as const),
      id: nat,
      ts: nat,
      progress: fc.record({ sent: nat, acked: nat, processed: nat, depth: nat }),
    }),
    fc.record({ v, t: fc.constant('hb-ack' as const), id: nat, ts: nat }),
    // Revision 3: a held answer says for how long.
    fc.record({ v, t: fc.constant('hb-ack' as const), id: nat, ts: nat, held: nat }),
    fc.record({
      v,
      t: fc.constant('close' as const),
      code: nat,
      reason: fc.string({ unit: 'binary', maxLength: 61 }),
    }),
  ) as fc.Arbitrary<Frame>;
}

/** Values that are wrong in interesting ways for some field. */
const oddValue: fc.Arbitrary<JsonValue> = fc.oneof(
  fc.constantFrom<JsonValue>(
    null,
    true,
    false,
    0,
    -1,
    1.5,
    2 ** 53,
    Number.MAX_SAFE_INTEGER,
    '',
    '1',
    'hello',
    'x'.repeat(200),
    [],
    [1],
    {},
    { v: 1 },
  ),
  smallPayload,
);

/** Sets an own property, even for keys like `__proto__` that assignment would treat specially. */
function put(o: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(o, key, { value, enumerable: true, writable: true, configurable: true });
}

function clone<T>(v: T): T {
  return parseJsonText(JSON.stringify(v)) as T;
}

/** Every field path of a frame: top-level keys, and one level into objects (hb.progress, payloads). */
function paths(frame: Record<string, unknown>): string[][] {
  const out: string[][] = [];
  for (const [k, v] of Object.entries(frame)) {
    out.push([k]);
    if (v && typeof v === 'object' && !Array.isArray(v)) for (const k2 of Object.keys(v)) out.push([k, k2]);
  }
  return out;
}

function parentOf(o: Record<string, unknown>, path: string[]): Record<string, unknown> {
  let cur = o;
  for (const k of path.slice(0, -1)) cur = cur[k] as Record<string, unknown>;
  return cur;
}

function retype(v: unknown, pick: number): unknown {
  switch (typeof v) {
    case 'number':
      return [String(v), [v], { n: v }, v + 0.5, -v - 1, null][pick % 6];
    case 'string':
      return [v.length, [v], null, Number(v), { s: v }][pick % 5];
    case 'boolean':
      return [String(v), Number(v)][pick % 2];
    default:
      if (v === null) return [0, '', false][pick % 3];
      if (Array.isArray(v)) return [{ ...v }, v.length, JSON.stringify(v)][pick % 3];
      return [Object.values(v as object), JSON.stringify(v), 1][pick % 3];
  }
}

type StructuralMutation =
  | { kind: 'delete'; at: number }
  | { kind: 'replace'; at: number; value: JsonValue }
  | { kind: 'retype'; at: number; pick: number }
  | { kind: 'extra'; key: string; value: JsonValue; nested: boolean };

const structuralMutation: fc.Arbitrary<StructuralMutation> = fc.oneof(
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('replace' as const), at: fc.nat(), value: oddValue }),
  fc.record({ kind: fc.constant('retype' as const), at: fc.nat(), pick: fc.nat() }),
  fc.record({
    kind: fc.constant('extra' as const),
    key: fc.oneof(shortString, fc.constantFrom('__proto__', 'constructor', 'toString', 'hasOwnProperty')),
    value: oddValue,
    nested: fc.boolean(),
  }),
);

type TextMutation =
  | { kind: 'truncate'; at: number }
  | { kind: 'flip'; at: number; xor: number }
  | { kind: 'insert'; at: number; text: string }
  | { kind: 'remove'; at: number; length: number };

const textMutation: fc.Arbitrary<TextMutation> = fc.oneof(
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), xor: fc.integer({ min: 1, max: 255 }) }),
  fc.record({
    kind: fc.constant('insert' as const),
    at: fc.nat(),
    text: fc.oneof(
      fc.string({ maxLength: 4 }),
      fc.constantFrom('{', '}', '[', ']', ',', ':', '"', '\\', '-', '0'),
    ),
  }),
  fc.record({ kind: fc.constant('remove' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 8 }) }),
);

function applyText(bytes: Buffer, m: TextMutation): Buffer {
  const at = m.at % (bytes.length + 1);
  switch (m.kind) {
    case 'truncate':
      return bytes.subarray(0, Math.min(at, bytes.length - 1));
    case 'flip': {
      const out = Buffer.from(bytes);
      const i = m.at % bytes.length;
      out[i] = out[i]! ^ m.xor;
      return out;
    }
    case 'insert':
      return Buffer.concat([bytes.subarray(0, at), Buffer.from(m.text, 'utf8'), bytes.subarray(at)]);
    case 'remove':
      return Buffer.concat([bytes.subarray(0, at), bytes.subarray(at + m.length)]);
  }
}

/** The same bytes in one of the shapes `ws` hands over. */
type Shape = 'string' | 'buffer' | 'arraybuffer' | 'fragments';
const shape = fc.constantFrom<Shape>('string', 'buffer', 'arraybuffer', 'fragments');
function asShape(bytes: Buffer, s: Shape, cut: number): Parameters<typeof decodeFrame>[0] {
  switch (s) {
    case 'string':
      return bytes.toString('utf8');
    case 'buffer':
      return bytes;
    case 'arraybuffer':
      return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length) as ArrayBuffer;
    case 'fragments': {
      const i = cut % (bytes.length + 1);
      return [bytes.subarray(0, i), bytes.subarray(i)];
    }
  }
}

/** Mostly the default limit, sometimes one small enough to trip 1009. */
const maxBytes = fc.oneof(
  { weight: 4, arbitrary: fc.constant(DEFAULT_MAX_FRAME_BYTES) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 200 }) },
);

// --------------------------------------------------------------------- tests

describe('decodeFrame contract (property-based)', () => {
  it('spends at least 100,000 generated inputs in total', () => {
    expect(Object.values(RUNS).reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(100_000);
  });

  it('round-trips every generated valid frame, whatever shape the bytes arrive in', () => {
    fc.assert(
      fc.property(
        validFrames(fc.jsonValue({ maxDepth: 4 }) as fc.Arbitrary<JsonValue>),
        shape,
        fc.nat(),
        (frame, s, cut) => {
          const raw = asShape(Buffer.from(encodeFrame(frame), 'utf8'), s, cut);
          const outcome = checkContract(() => decodeFrame(raw, false, DEFAULT_MAX_FRAME_BYTES));
          expect(outcome.ok).toBe(true);
          if (outcome.ok && !jsonEqual(outcome.frame, frame))
            throw new Error('decoded frame differs from the original');
        },
      ),
      { numRuns: RUNS.roundTrip },
    );
  });

  it('holds for arbitrary strings', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ maxLength: 200 }),
          fc.string({ unit: 'binary', maxLength: 100 }),
          fc.string({
            unit: fc.constantFrom('{', '}', '[', ']', '"', ':', ',', 'v', 't', '1', 'a', ' '),
            maxLength: 60,
          }),
          fc.json({ maxDepth: 3 }),
        ),
        maxBytes,
        fc.boolean(),
        (raw, max, binary) => {
          const outcome = checkContract(() => decodeFrame(raw, binary, max));
          if (binary) expect(outcome.ok).toBe(false);
        },
      ),
      { numRuns: RUNS.strings },
    );
  });

  it('holds for arbitrary JSON values, raw and frame-shaped', () => {
    const frameShaped = fc
      .record({
        v: fc.oneof({ weight: 5, arbitrary: fc.constant<JsonValue>(1) }, { weight: 1, arbitrary: oddValue }),
        t: fc.oneof(
          { weight: 5, arbitrary: fc.constantFrom<JsonValue>(...FRAME_TYPES) },
          { weight: 1, arbitrary: oddValue },
        ),
        fields: fc.array(
          fc.tuple(
            fc.constantFrom(...new Set(Object.values(KNOWN_FIELDS).flat()), 'progress', 'extra'),
            fc.oneof(oddValue, nat, positive, traceparent, workerId),
          ),
          { maxLength: 12 },
        ),
      })
      .map(({ v, t, fields }) => {
        const o: Record<string, unknown> = {};
        put(o, 'v', v);
        put(o, 't', t);
        for (const [k, value] of fields) put(o, k, value);
        return o as JsonValue;
      });
    fc.assert(
      fc.property(
        fc.oneof(fc.jsonValue({ maxDepth: 4 }) as fc.Arbitrary<JsonValue>, frameShaped),
        maxBytes,
        (value, max) => {
          checkContract(() => validateFrame(value));
          checkContract(() => decodeFrame(JSON.stringify(value), false, max));
        },
      ),
      { numRuns: RUNS.jsonValues },
    );
  });

  it('holds for arbitrary byte buffers, in every shape', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 300 }),
          fc.uint8Array({ maxLength: 40, min: 0x20, max: 0x7e }),
          fc.uint8Array({ maxLength: 40, min: 0x80, max: 0xff }),
        ),
        shape,
        fc.nat(),
        maxBytes,
        fc.boolean(),
        (bytes, s, cut, max, binary) => {
          const buf = Buffer.from(bytes);
          const outcome = checkContract(() => decodeFrame(asShape(buf, s, cut), binary, max));
          if (binary) expect(outcome.ok).toBe(false);
        },
      ),
      { numRuns: RUNS.bytes },
    );
  });

  it('holds for structural mutations of valid frames, and strips or rejects exactly as expected', () => {
    fc.assert(
      fc.property(validFrames(smallPayload), structuralMutation, maxBytes, (frame, m, max) => {
        const o = clone(frame) as unknown as Record<string, unknown>;
        const all = paths(o);
        let target: string[] | undefined;
        switch (m.kind) {
          case 'delete':
            target = all[m.at % all.length]!;
            delete parentOf(o, target)[target.at(-1)!];
            break;
          case 'replace':
            target = all[m.at % all.length]!;
            put(parentOf(o, target), target.at(-1)!, m.value);
            break;
          case 'retype':
            target = all[m.at % all.length]!;
            put(parentOf(o, target), target.at(-1)!, retype(parentOf(o, target)[target.at(-1)!], m.pick));
            break;
          case 'extra': {
            const host = m.nested && frame.t === 'hb' ? (o.progress as Record<string, unknown>) : o;
            // A field the frame has, or an optional one it lacks (data.tp), is not "extra".
            if (Object.hasOwn(host, m.key) || (host === o && KNOWN_FIELDS[frame.t].includes(m.key))) return;
            put(host, m.key, m.value);
            break;
          }
        }
        const raw = JSON.stringify(o);
        const outcome = checkContract(() => decodeFrame(raw, false, max));
        const fits = Buffer.byteLength(raw, 'utf8') <= max;

        // Stronger oracles where the right answer is known.
        if (!fits) {
          expect(outcome.ok).toBe(false);
          if (!outcome.ok) expect(outcome.error.code).toBe('LW_ERR_FRAME_TOO_LARGE');
        } else if (m.kind === 'extra') {
          if (!outcome.ok) throw outcome.error;
          expect(jsonEqual(outcome.frame, frame)).toBe(true);
        } else if (m.kind === 'delete' && target) {
          const [top, inner] = target;
          if (top === 'tp' || top === 'rev' || top === 'held') {
            // Optional fields: a frame without them is still valid.
            if (!outcome.ok) throw outcome.error;
            expect(top in outcome.frame).toBe(false);
          } else if (top === 'p' && inner !== undefined) {
            expect(outcome.ok).toBe(true); // payload contents are the app's business
          } else {
            expect(outcome.ok).toBe(false);
            if (!outcome.ok) {
              const code =
                top === 'v'
                  ? 'LW_ERR_UNSUPPORTED_VERSION'
                  : top === 't'
                    ? 'LW_ERR_PROTOCOL'
                    : 'LW_ERR_INVALID_FRAME';
              expect(outcome.error.code).toBe(code);
            }
          }
        }
      }),
      { numRuns: RUNS.structural },
    );
  });

  it('holds for truncations, byte flips, insertions and deletions in encoded valid frames', () => {
    fc.assert(
      fc.property(
        validFrames(smallPayload),
        textMutation,
        shape,
        fc.nat(),
        maxBytes,
        (frame, mutation, s, cut, max) => {
          // One mutation per frame: two could join small payload numbers into an exponent of
          // 309 or more (see the note at the top).
          const bytes = applyText(Buffer.from(encodeFrame(frame), 'utf8'), mutation);
          const outcome = checkContract(() => decodeFrame(asShape(bytes, s, cut), false, max));
          // A proper prefix of a JSON object lacks its closing brace, so it can never decode.
          if (mutation.kind === 'truncate' && outcome.ok) {
            throw new Error(`a truncated frame decoded: ${bytes.toString('utf8')}`);
          }
        },
      ),
      { numRuns: RUNS.text },
    );
  });
});

describe('regressions (property-based)', () => {
  // Deep values in v, t or p once escaped decodeFrame as a RangeError or yielded a frame that
  // could not be re-encoded. See the matching tests in codec.test.ts.
  it('deeply nested values keep the contract', () => {
    fc.assert(
      fc.property(fc.integer({ min: 5_000, max: 60_000 }), fc.constantFrom('v', 't', 'p'), (depth, field) => {
        const deep = `${'['.repeat(depth)}${']'.repeat(depth)}`;
        const raw =
          field === 'v'
            ? `{"v":${deep}}`
            : field === 't'
              ? `{"v":1,"t":${deep}}`
              : `{"v":1,"t":"data","seq":1,"p":${deep}}`;
        checkContract(() => decodeFrame(raw, false, DEFAULT_MAX_FRAME_BYTES));
      }),
      { numRuns: 20 },
    );
  });
});
