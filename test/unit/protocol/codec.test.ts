import { describe, expect, it } from 'vitest';
import { LinkwatchError, ProtocolError } from '../../../src/errors.js';
import { CloseCode, clampReason } from '../../../src/protocol/close-codes.js';
import {
  DEFAULT_MAX_FRAME_BYTES,
  decodeFrame,
  encodeFrame,
  validateFrame,
  WORKER_ID_PATTERN,
} from '../../../src/protocol/codec.js';
import { FRAME_TYPES, type Frame, type JsonValue, PROTOCOL_VERSION } from '../../../src/protocol/frames.js';
import { expectProtocolError, KNOWN_FIELDS, TRACEPARENT, thrown, VALID_FRAMES } from './fixtures.js';

const MAX = DEFAULT_MAX_FRAME_BYTES;

/** The JSON text of `frame` with `patch` applied on top (undefined deletes a field). */
function text(type: keyof typeof VALID_FRAMES, patch: Record<string, unknown> = {}): string {
  const o: Record<string, unknown> = { ...VALID_FRAMES[type] };
  for (const [k, v] of Object.entries(patch)) {
    if (v === undefined) delete o[k];
    else o[k] = v;
  }
  return JSON.stringify(o);
}

function decodeError(
  raw: Parameters<typeof decodeFrame>[0],
  isBinary = false,
  max = MAX,
  utf8Checked = false,
): unknown {
  return thrown(() => decodeFrame(raw, isBinary, max, utf8Checked));
}

describe('encodeFrame / decodeFrame round trip', () => {
  it('has a fixture for every frame type', () => {
    expect(Object.keys(VALID_FRAMES).sort()).toEqual([...FRAME_TYPES].sort());
    expect(PROTOCOL_VERSION).toBe(1);
  });

  for (const type of FRAME_TYPES) {
    const frame = VALID_FRAMES[type];
    const encoded = encodeFrame(frame);
    const bytes = Buffer.from(encoded, 'utf8');

    it(`round-trips a ${type} frame from a string`, () => {
      expect(encoded).toBe(JSON.stringify(frame));
      expect(decodeFrame(encoded, false, MAX)).toStrictEqual(frame);
    });

    it(`round-trips a ${type} frame from a Buffer, an ArrayBuffer and Buffer fragments`, () => {
      expect(decodeFrame(bytes, false, MAX)).toStrictEqual(frame);
      const arrayBuffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length);
      expect(decodeFrame(arrayBuffer, false, MAX)).toStrictEqual(frame);
      const cut = Math.floor(bytes.length / 3);
      const fragments = [bytes.subarray(0, cut), bytes.subarray(cut, 2 * cut), bytes.subarray(2 * cut)];
      expect(decodeFrame(fragments, false, MAX)).toStrictEqual(frame);
    });
  }

  it('round-trips a data frame without a traceparent and does not invent one', () => {
    const frame: Frame = { v: 1, t: 'data', seq: 1, p: null };
    const decoded = decodeFrame(encodeFrame(frame), false, MAX);
    expect(decoded).toStrictEqual(frame);
    expect('tp' in decoded).toBe(false);
  });

  it('keeps every JSON payload shape, including unknown keys inside the payload', () => {
    const payloads: JsonValue[] = [
      null,
      true,
      false,
      0,
      -12.5,
      '',
      'héllo ✓',
      [],
      {},
      [1, [2, [3]]],
      { extra: { deep: [1] } },
    ];
    for (const p of payloads) {
      const frame: Frame = { v: 1, t: 'data', seq: 2, p };
      expect(decodeFrame(encodeFrame(frame), false, MAX)).toStrictEqual(frame);
    }
  });

  it('accepts the largest safe integer in seq fields', () => {
    const frame: Frame = { v: 1, t: 'ack', seq: Number.MAX_SAFE_INTEGER };
    expect(decodeFrame(encodeFrame(frame), false, MAX)).toStrictEqual(frame);
  });
});

describe('batch frames', () => {
  it('strips unknown fields inside batch items', () => {
    const frame = decodeFrame('{"v":1,"t":"batch","m":[{"seq":1,"p":1,"x":2}]}', false, MAX);
    expect(frame).toEqual({ v: 1, t: 'batch', m: [{ seq: 1, p: 1 }] });
  });
});

describe('unknown fields', () => {
  for (const type of FRAME_TYPES) {
    it(`strips unknown top-level fields from a ${type} frame`, () => {
      const decoded = decodeFrame(
        text(type, { extra: 1, token: 'secret', constructor: 'x', nested: { a: 1 } }),
        false,
        MAX,
      );
      expect(decoded).toStrictEqual(VALID_FRAMES[type]);
      expect(Object.keys(decoded).sort()).toEqual(
        KNOWN_FIELDS[type].filter((k) => k in VALID_FRAMES[type]).sort(),
      );
    });
  }

  it('strips unknown fields inside hb.progress', () => {
    const hb = VALID_FRAMES.hb as Extract<Frame, { t: 'hb' }>;
    const decoded = decodeFrame(text('hb', { progress: { ...hb.progress, extra: 9 } }), false, MAX);
    expect(decoded).toStrictEqual(hb);
  });

  it('does not let a __proto__ key in the text change the decoded frame', () => {
    const raw = `{"__proto__":{"polluted":true},${text('ack').slice(1)}`;
    const decoded = decodeFrame(raw, false, MAX);
    expect(decoded).toStrictEqual(VALID_FRAMES.ack);
    expect(Object.getPrototypeOf(decoded)).toBe(Object.prototype);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('transport-level rejections', () => {
  it('rejects binary frames with 1007, even when they hold a valid frame', () => {
    const err = decodeError(Buffer.from(encodeFrame(VALID_FRAMES.ack)), true);
    expectProtocolError(err, 'LW_ERR_INVALID_FRAME', CloseCode.invalidData);
    expect(err).toBeInstanceOf(LinkwatchError);
    expect((err as Error).message).toBe('binary frames are not part of protocol v1');
  });

  it.each([
    ['a lone continuation byte', [0x7b, 0x80, 0x7d]],
    ['an invalid lead byte', [0x7b, 0xff, 0x7d]],
    ['a truncated multi-byte sequence', [0x22, 0xe2, 0x82, 0x22]],
    ['an overlong encoding', [0x22, 0xc0, 0xaf, 0x22]],
    ['an encoded surrogate', [0x22, 0xed, 0xa0, 0x80, 0x22]],
  ])('rejects a Buffer with %s as invalid UTF-8 (1007)', (_name, bytes) => {
    for (const raw of [Buffer.from(bytes), [Buffer.from(bytes.slice(0, 1)), Buffer.from(bytes.slice(1))]]) {
      const err = expectProtocolError(decodeError(raw), 'LW_ERR_INVALID_FRAME', CloseCode.invalidData);
      expect(err.message).toBe('frame is not valid UTF-8');
    }
    const ab = new Uint8Array(bytes).buffer;
    expectProtocolError(decodeError(ab), 'LW_ERR_INVALID_FRAME', CloseCode.invalidData);
  });

  it('with utf8Checked (ws validated the text message) decodes the same frames without scanning the bytes again', () => {
    for (const frame of Object.values(VALID_FRAMES)) {
      const bytes = Buffer.from(encodeFrame(frame));
      expect(decodeFrame(bytes, false, MAX, true)).toStrictEqual(decodeFrame(bytes, false, MAX));
    }
    // Only the UTF-8 scan is skipped: size, JSON and shape are still checked.
    expectProtocolError(
      decodeError(Buffer.from('{"v":1,"t":"nope"}'), false, MAX, true),
      'LW_ERR_PROTOCOL',
      CloseCode.protocolError,
    );
  });

  it('rejects text that is not JSON with 1007 and keeps the SyntaxError as cause', () => {
    for (const raw of ['', ' ', '{"v":1', "{'v':1}", '{"v":1,}', 'undefined', 'NaN', '{"v":1}x']) {
      const err = expectProtocolError(decodeError(raw), 'LW_ERR_INVALID_FRAME', CloseCode.invalidData);
      expect(err.message).toBe('frame is not valid JSON');
      expect(err.cause).toBeInstanceOf(SyntaxError);
    }
    expectProtocolError(decodeError(Buffer.from('{"v":')), 'LW_ERR_INVALID_FRAME', CloseCode.invalidData);
  });

  it('rejects JSON that is not an object with 1002', () => {
    for (const raw of ['[]', '[{"v":1,"t":"ack","seq":1}]', '1', 'null', 'true', '"ack"']) {
      const err = expectProtocolError(decodeError(raw), 'LW_ERR_PROTOCOL', CloseCode.protocolError);
      expect(err.message).toBe('frame must be a JSON object');
    }
  });

  it('rejects a frame over maxBytes with 1009, counting UTF-8 bytes rather than characters', () => {
    const frame = encodeFrame({ v: 1, t: 'data', seq: 1, p: 'ééééé' });
    const size = Buffer.byteLength(frame, 'utf8');
    expect(size).toBe(frame.length + 5);
    expect(decodeFrame(frame, false, size)).toMatchObject({ p: 'ééééé' });
    for (const raw of [
      frame,
      Buffer.from(frame),
      [Buffer.from(frame.slice(0, 4)), Buffer.from(frame.slice(4))],
    ]) {
      const err = expectProtocolError(
        decodeError(raw, false, size - 1),
        'LW_ERR_FRAME_TOO_LARGE',
        CloseCode.messageTooBig,
      );
      expect(err.message).toBe(`frame of ${size} bytes exceeds ${size - 1}`);
    }
  });

  it('checks the size before UTF-8 and JSON, so oversized garbage is 1009', () => {
    expectProtocolError(
      decodeError(Buffer.from([0xff, 0xff, 0xff]), false, 2),
      'LW_ERR_FRAME_TOO_LARGE',
      CloseCode.messageTooBig,
    );
    expectProtocolError(decodeError('{{{{', false, 3), 'LW_ERR_FRAME_TOO_LARGE', CloseCode.messageTooBig);
  });
});

describe('frame validation', () => {
  it.each([
    ['v is 2', { v: 2 }, '2'],
    ['v is "1"', { v: '1' }, '"1"'],
    ['v is 0', { v: 0 }, '0'],
    ['v is missing', { v: undefined }, 'undefined'],
  ])('rejects a frame whose %s as LW_ERR_UNSUPPORTED_VERSION (1002)', (_name, patch, shown) => {
    const err = expectProtocolError(
      decodeError(text('ack', patch)),
      'LW_ERR_UNSUPPORTED_VERSION',
      CloseCode.protocolError,
    );
    expect(err.message).toBe(`unsupported protocol version ${shown}; this side speaks 1`);
  });

  it('checks the version before the type', () => {
    expectProtocolError(
      decodeError('{"v":2,"t":"whatever"}'),
      'LW_ERR_UNSUPPORTED_VERSION',
      CloseCode.protocolError,
    );
  });

  it.each([
    ['an unknown name', { t: 'nope' }, 'unknown frame type "nope"'],
    ['a number', { t: 1 }, 'unknown frame type 1'],
    ['missing', { t: undefined }, 'unknown frame type undefined'],
    ['null', { t: null }, 'unknown frame type null'],
    ['a different case', { t: 'ACK' }, 'unknown frame type "ACK"'],
    ['a prototype key', { t: 'toString' }, 'unknown frame type "toString"'],
  ])('rejects a type that is %s with LW_ERR_PROTOCOL (1002)', (_name, patch, message) => {
    const err = expectProtocolError(
      decodeError(text('ack', patch)),
      'LW_ERR_PROTOCOL',
      CloseCode.protocolError,
    );
    expect(err.message).toBe(message);
  });

  it('truncates a long unknown type in the message', () => {
    const err = decodeError(text('ack', { t: 'x'.repeat(1000) })) as Error;
    expect(err.message).toBe(`unknown frame type "${'x'.repeat(24)}..."`);
  });

  const badFields: [string, keyof typeof VALID_FRAMES, Record<string, unknown>, string][] = [
    [
      'hello.workerId a number',
      'hello',
      { workerId: 1 },
      'hello.workerId must be a string of at most 128 chars',
    ],
    ['hello.workerId too long', 'hello', { workerId: 'a'.repeat(129) }, 'hello.workerId must be a string'],
    [
      'hello.stream too long',
      'hello',
      { stream: 's'.repeat(65) },
      'hello.stream must be 1-64 chars of [A-Za-z0-9_-]',
    ],
    ['hello.peerStream null', 'hello', { peerStream: null }, 'hello.peerStream must be 1-64 chars'],
    ['hello.stream empty', 'hello', { stream: '' }, 'hello.stream must be 1-64 chars of [A-Za-z0-9_-]'],
    [
      'hello.stream with a newline (journal injection)',
      'hello',
      { stream: 'a\nw2 s2 999' },
      'hello.stream must be 1-64 chars of [A-Za-z0-9_-]',
    ],
    ['hello.stream with a space', 'hello', { stream: 'a b' }, 'hello.stream must be 1-64 chars'],
    ['hello.peerStream with a newline', 'hello', { peerStream: 'x\ny' }, 'hello.peerStream must be 1-64'],
    ['welcome.stream with a newline', 'welcome', { stream: 'x\r\n' }, 'welcome.stream must be 1-64'],
    ['welcome.stream empty', 'welcome', { stream: '' }, 'welcome.stream must be 1-64'],
    ['hello.rev zero', 'hello', { rev: 0 }, 'hello.rev must be positive'],
    ['welcome.rev a string', 'welcome', { rev: '2' }, 'welcome.rev must be a non-negative safe integer'],
    ['batch.m missing', 'batch', { m: undefined }, 'batch.m must be a non-empty array'],
    ['batch.m empty', 'batch', { m: [] }, 'batch.m must be a non-empty array'],
    ['batch.m an object', 'batch', { m: { seq: 1, p: 1 } }, 'batch.m must be a non-empty array'],
    ['batch.m with a null item', 'batch', { m: [null] }, 'batch.m items must be objects'],
    ['batch.m item seq 0', 'batch', { m: [{ seq: 0, p: 1 }] }, 'batch.m[].seq must be positive'],
    ['batch.m item without p', 'batch', { m: [{ seq: 1 }] }, 'batch.m[].p is missing'],
    [
      'batch.m item with a bad traceparent',
      'batch',
      { m: [{ seq: 1, p: 1, tp: 'x' }] },
      'batch.m[].tp must be a W3C traceparent',
    ],
    [
      'batch.m seqs repeating',
      'batch',
      {
        m: [
          { seq: 2, p: 1 },
          { seq: 2, p: 1 },
        ],
      },
      'batch.m seqs must strictly increase',
    ],
    [
      'batch.m seqs going down',
      'batch',
      {
        m: [
          { seq: 3, p: 1 },
          { seq: 2, p: 1 },
        ],
      },
      'batch.m seqs must strictly increase',
    ],
    [
      'batch.m item payload too deep',
      'batch',
      { m: [{ seq: 1, p: JSON.parse(`${'['.repeat(70)}${']'.repeat(70)}`) }] },
      'batch.m[].p nests deeper than 64',
    ],
    [
      'hello.processed negative',
      'hello',
      { processed: -1 },
      'hello.processed must be a non-negative safe integer',
    ],
    ['hello.window zero', 'hello', { window: 0 }, 'hello.window must be positive'],
    ['hello.window fractional', 'hello', { window: 1.5 }, 'hello.window must be a non-negative safe integer'],
    ['welcome.hubId missing', 'welcome', { hubId: undefined }, 'welcome.hubId must be a string'],
    [
      'welcome.epoch a string',
      'welcome',
      { epoch: '3' },
      'welcome.epoch must be a non-negative safe integer',
    ],
    [
      'welcome.heartbeatIntervalMs 0',
      'welcome',
      { heartbeatIntervalMs: 0 },
      'welcome.heartbeatIntervalMs must be positive',
    ],
    [
      'welcome.heartbeatMisses 0',
      'welcome',
      { heartbeatMisses: 0 },
      'welcome.heartbeatMisses must be positive',
    ],
    [
      'welcome.maxFrameBytes a bool',
      'welcome',
      { maxFrameBytes: true },
      'welcome.maxFrameBytes must be a non-negative',
    ],
    ['data.seq 0', 'data', { seq: 0 }, 'data.seq must be positive'],
    ['data.seq 2^53', 'data', { seq: 2 ** 53 }, 'data.seq must be a non-negative safe integer'],
    ['data.seq a float', 'data', { seq: 1.0000001 }, 'data.seq must be a non-negative safe integer'],
    ['data.p missing', 'data', { p: undefined }, 'data.p is missing'],
    ['ack.seq negative', 'ack', { seq: -1 }, 'ack.seq must be a non-negative safe integer'],
    ['ack.seq a numeric string', 'ack', { seq: '1' }, 'ack.seq must be a non-negative safe integer'],
    ['hb.id an array', 'hb', { id: [1] }, 'hb.id must be a non-negative safe integer'],
    ['hb.progress missing', 'hb', { progress: undefined }, 'hb.progress must be an object'],
    ['hb.progress an array', 'hb', { progress: [1, 2, 3, 4] }, 'hb.progress must be an object'],
    ['hb.progress null', 'hb', { progress: null }, 'hb.progress must be an object'],
    [
      'hb.progress.depth negative',
      'hb',
      { progress: { sent: 1, acked: 1, processed: 1, depth: -1 } },
      'hb.progress.depth must be a non-negative safe integer',
    ],
    [
      'hb.progress.acked missing',
      'hb',
      { progress: { sent: 1, processed: 1, depth: 1 } },
      'hb.progress.acked must be a non-negative safe integer',
    ],
    ['hb-ack.ts fractional', 'hb-ack', { ts: 1.5 }, 'hb-ack.ts must be a non-negative safe integer'],
    ['hb-ack.held negative', 'hb-ack', { held: -1 }, 'hb-ack.held must be a non-negative safe integer'],
    ['hb-ack.held a string', 'hb-ack', { held: '5' }, 'hb-ack.held must be a non-negative safe integer'],
    ['close.code null', 'close', { code: null }, 'close.code must be a non-negative safe integer'],
    [
      'close.reason too long',
      'close',
      { reason: 'r'.repeat(124) },
      'close.reason must be a string of at most 123',
    ],
  ];
  it.each(badFields)('rejects %s with LW_ERR_INVALID_FRAME (1007)', (_name, type, patch, message) => {
    const err = expectProtocolError(
      decodeError(text(type, patch)),
      'LW_ERR_INVALID_FRAME',
      CloseCode.invalidData,
    );
    expect(err.message).toContain(message);
  });

  it('accepts string fields exactly at their limits', () => {
    const hello = decodeFrame(
      text('hello', { workerId: 'w'.repeat(128), stream: 's'.repeat(64), peerStream: 'p'.repeat(64) }),
      false,
      MAX,
    );
    expect(hello).toMatchObject({ workerId: 'w'.repeat(128), stream: 's'.repeat(64) });
    expect(decodeFrame(text('close', { reason: 'r'.repeat(123) }), false, MAX)).toMatchObject({
      reason: 'r'.repeat(123),
    });
  });

  it.each([
    ['uppercase hex', TRACEPARENT.toUpperCase()],
    ['a short trace id', '00-0af7651916cd43dd8448eb211c8031-b7ad6b7169203331-01'],
    ['a missing flags field', '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331'],
    ['trailing text', `${TRACEPARENT}-extra`],
    ['a number', 123],
    ['null', null],
    ['an empty string', ''],
  ])('rejects a data.tp with %s (1007)', (_name, tp) => {
    const err = expectProtocolError(
      decodeError(text('data', { tp })),
      'LW_ERR_INVALID_FRAME',
      CloseCode.invalidData,
    );
    expect(err.message).toBe('data.tp must be a W3C traceparent');
  });

  it.each(['worker 1', 'wörker', '-leading-dash', '.leading-dot', 'a/b', '', 'tab\there', 'line\nbreak'])(
    'rejects the workerId %j: characters outside the label set (1007)',
    (workerId) => {
      const err = expectProtocolError(
        decodeError(text('hello', { workerId })),
        'LW_ERR_INVALID_FRAME',
        CloseCode.invalidData,
      );
      expect(err.message).toBe('hello.workerId has characters outside [A-Za-z0-9._:-]');
    },
  );

  it.each(['a', '0', 'Worker_1.eu-west:7', `A${'-'.repeat(127)}`])('accepts the workerId %j', (workerId) => {
    expect(WORKER_ID_PATTERN.test(workerId)).toBe(true);
    expect(decodeFrame(text('hello', { workerId }), false, MAX)).toMatchObject({ workerId });
  });

  it('validateFrame rejects values that never came from JSON the same way', () => {
    expectProtocolError(
      thrown(() => validateFrame(undefined)),
      'LW_ERR_PROTOCOL',
      CloseCode.protocolError,
    );
    expectProtocolError(
      thrown(() => validateFrame(new Map())),
      'LW_ERR_UNSUPPORTED_VERSION',
      1002,
    );
    expectProtocolError(
      thrown(() => validateFrame({ v: 1, t: 'ack', seq: Number.NaN })),
      'LW_ERR_INVALID_FRAME',
      1007,
    );
    expectProtocolError(
      thrown(() => validateFrame({ v: 1, t: 'ack', seq: Number.POSITIVE_INFINITY })),
      'LW_ERR_INVALID_FRAME',
      1007,
    );
  });
});

describe('regressions', () => {
  // JSON.parse turns an out-of-range number into Infinity, which JSON.stringify writes as null,
  // so the frame the app received was not the frame that could be re-sent, stored or compared.
  it('a data payload number that overflows to Infinity (1e999) is rejected with 1007', () => {
    const raw = '{"v":1,"t":"data","seq":1,"p":{"n":1e999}}';
    let frame: Frame;
    try {
      frame = decodeFrame(raw, false, MAX);
    } catch (err) {
      // The fix may reject it instead: that is fine, as long as it is a 1007.
      expectProtocolError(err, 'LW_ERR_INVALID_FRAME', CloseCode.invalidData);
      return;
    }
    expect(validateFrame(JSON.parse(encodeFrame(frame)))).toStrictEqual(frame);
  });

  // The error message once JSON.stringify-ed the untrusted `v` / `t`: 10,000 nested arrays
  // overflowed the stack and a RangeError escaped decodeFrame instead of a ProtocolError.
  it('a deeply nested v or t is a ProtocolError with 1002, not a RangeError', () => {
    const deep = `${'['.repeat(10_000)}${']'.repeat(10_000)}`;
    for (const raw of [`{"v":${deep}}`, `{"v":1,"t":${deep}}`]) {
      const err = decodeError(raw);
      expect(err).toBeInstanceOf(ProtocolError);
      expect((err as ProtocolError).closeCode).toBe(CloseCode.protocolError);
    }
  });

  // No nesting limit on `p` once let a payload through that JSON.stringify could not re-encode.
  it('a data payload nested deeper than the limit is rejected with 1007', () => {
    const raw = `{"v":1,"t":"data","seq":1,"p":${'['.repeat(10_000)}${']'.repeat(10_000)}}`;
    let frame: Frame;
    try {
      frame = decodeFrame(raw, false, MAX);
    } catch (err) {
      expectProtocolError(err, 'LW_ERR_INVALID_FRAME', CloseCode.invalidData);
      return;
    }
    expect(encodeFrame(frame)).toBe(raw);
  });
});

describe('clampReason', () => {
  it('keeps reasons of up to 123 UTF-8 bytes', () => {
    expect(clampReason('')).toBe('');
    expect(clampReason('r'.repeat(123))).toBe('r'.repeat(123));
  });

  it('cuts longer reasons to at most 123 bytes without splitting a character', () => {
    expect(clampReason('r'.repeat(124))).toBe(`${'r'.repeat(120)}...`);
    const cut = clampReason('é'.repeat(100));
    expect(cut).toBe(`${'é'.repeat(60)}...`);
    const odd = clampReason(`r${'é'.repeat(100)}`);
    expect(odd).toBe(`r${'é'.repeat(59)}...`);
    expect(Buffer.byteLength(odd, 'utf8')).toBeLessThanOrEqual(123);
  });
});
