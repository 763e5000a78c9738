import { expect } from 'vitest';
import { ProtocolError } from '../../../src/errors.js';
import type { Frame, FrameType } from '../../../src/protocol/frames.js';

export const TRACEPARENT = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';

/** One valid frame of every type, with every optional field present. */
export const VALID_FRAMES: Record<FrameType, Frame> = {
  hello: {
    v: 1,
    t: 'hello',
    workerId: 'worker-1',
    stream: 'w-stream',
    peerStream: '',
    processed: 0,
    window: 64,
    rev: 2,
  },
  welcome: {
    v: 1,
    t: 'welcome',
    hubId: 'hub-a',
    stream: 'h-stream',
    epoch: 3,
    processed: 10,
    heartbeatIntervalMs: 1000,
    heartbeatMisses: 3,
    window: 64,
    maxFrameBytes: 1024 * 1024,
    rev: 2,
  },
  data: { v: 1, t: 'data', seq: 7, tp: TRACEPARENT, p: { a: [1, 'x', null, true, { b: 2.5 }] } },
  batch: {
    v: 1,
    t: 'batch',
    m: [
      { seq: 8, tp: TRACEPARENT, p: { a: 1 } },
      { seq: 9, p: 'x' },
      { seq: 12, p: [null, true] },
    ],
  },
  ack: { v: 1, t: 'ack', seq: 0 },
  hb: {
    v: 1,
    t: 'hb',
    id: 1,
    ts: 1_700_000_000_000,
    progress: { sent: 5, acked: 4, processed: 3, depth: 2 },
  },
  'hb-ack': { v: 1, t: 'hb-ack', id: 1, ts: 1_700_000_000_000 },
  close: { v: 1, t: 'close', code: 1000, reason: 'bye' },
};

/** The fields validateFrame keeps, per type; anything else must be stripped. */
export const KNOWN_FIELDS: Record<FrameType, readonly string[]> = {
  hello: ['v', 't', 'workerId', 'stream', 'peerStream', 'processed', 'window', 'rev'],
  welcome: [
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
    'rev',
  ],
  data: ['v', 't', 'seq', 'tp', 'p'],
  batch: ['v', 't', 'm'],
  ack: ['v', 't', 'seq'],
  hb: ['v', 't', 'id', 'ts', 'progress'],
  'hb-ack': ['v', 't', 'id', 'ts', 'held'],
  close: ['v', 't', 'code', 'reason'],
};

/** Runs `fn` and returns what it threw; fails the test when it returns normally. */
export function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected the call to throw, but it returned');
}

export function expectProtocolError(err: unknown, code: string, closeCode: number): ProtocolError {
  expect(err).toBeInstanceOf(ProtocolError);
  expect(err).toMatchObject({ name: 'ProtocolError', code, closeCode });
  return err as ProtocolError;
}

/**
 * Deep equality in the JSON data model: like a strict deep-equal, except that
 * numbers compare with `===`, because JSON text cannot carry -0 (JSON.stringify
 * writes it as 0). Infinity still differs from null, which is what
 * JSON.stringify turns it into.
 */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (typeof a === 'number' && typeof b === 'number') return a === b;
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return a === b;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a) && Array.isArray(b)) {
    if (a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!jsonEqual(a[i], b[i])) return false;
    return true;
  }
  const ra = a as Record<string, unknown>;
  const rb = b as Record<string, unknown>;
  const keys = Object.keys(ra);
  if (keys.length !== Object.keys(rb).length) return false;
  for (const k of keys) if (!Object.hasOwn(rb, k) || !jsonEqual(ra[k], rb[k])) return false;
  return true;
}
