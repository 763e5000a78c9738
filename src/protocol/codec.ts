import { isUtf8 } from 'node:buffer';
import { ProtocolError } from '../errors.js';
import { CloseCode } from './close-codes.js';
import { type BatchItem, type Frame, type JsonValue, PROTOCOL_VERSION, type Progress } from './frames.js';
import { parseJsonText } from './json-text.js';

/** Default maximum size of one encoded frame, in bytes. */
export const DEFAULT_MAX_FRAME_BYTES = 1024 * 1024;
/** Worker ids are labels in metrics: short and printable. */
export const WORKER_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;
/**
 * Stream ids are random UUIDs today. They reach checkpoint stores and the
 * `--journal` file, so nothing but a short run of [A-Za-z0-9_-] gets in (no
 * newlines, no separators a line format could be tricked with).
 */
export const STREAM_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
const MAX_REASON = 123;
/** Deepest nesting of arrays and objects accepted in a data payload. */
export const MAX_PAYLOAD_DEPTH = 64;

export function encodeFrame(frame: Frame): string {
  return JSON.stringify(frame);
}

/**
 * Pure decoder: bytes in, a validated frame or a ProtocolError out. It never
 * throws anything else (a property test feeds it 100,000+ random frames).
 * `utf8Checked`: the bytes are a text message `ws` already validated as
 * UTF-8 (it closes with 1007 otherwise), so they are not scanned again.
 */
export function decodeFrame(
  raw: Buffer | ArrayBuffer | Buffer[] | string,
  isBinary: boolean,
  maxBytes: number,
  utf8Checked = false,
): Frame {
  if (isBinary) {
    throw new ProtocolError(
      'LW_ERR_INVALID_FRAME',
      CloseCode.invalidData,
      'binary frames are not part of protocol v1',
    );
  }
  let text: string;
  if (typeof raw === 'string') {
    if (Buffer.byteLength(raw, 'utf8') > maxBytes) throw tooLarge(Buffer.byteLength(raw, 'utf8'), maxBytes);
    text = raw;
  } else {
    // ws hands over one Buffer per message (an array only for a fragmented one).
    const buf = Buffer.isBuffer(raw) ? raw : Array.isArray(raw) ? Buffer.concat(raw) : Buffer.from(raw);
    if (buf.length > maxBytes) throw tooLarge(buf.length, maxBytes);
    if (!utf8Checked && !isUtf8(buf))
      throw new ProtocolError('LW_ERR_INVALID_FRAME', CloseCode.invalidData, 'frame is not valid UTF-8');
    // No argument: Buffer's own fast path to utf8Slice, skipping its encoding lookup.
    text = buf.toString();
  }
  let value: unknown;
  try {
    value = parseJsonText(text);
  } catch (cause) {
    throw new ProtocolError('LW_ERR_INVALID_FRAME', CloseCode.invalidData, 'frame is not valid JSON', {
      cause,
    });
  }
  return validateFrame(value);
}

function tooLarge(size: number, max: number): ProtocolError {
  return new ProtocolError(
    'LW_ERR_FRAME_TOO_LARGE',
    CloseCode.messageTooBig,
    `frame of ${size} bytes exceeds ${max}`,
  );
}

function invalid(message: string): ProtocolError {
  return new ProtocolError('LW_ERR_INVALID_FRAME', CloseCode.invalidData, message);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function seqField(o: Record<string, unknown>, key: string, type: string): number {
  const v = o[key];
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
    throw invalid(`${type}.${key} must be a non-negative safe integer`);
  }
  return v;
}

function positiveInt(o: Record<string, unknown>, key: string, type: string): number {
  const v = seqField(o, key, type);
  if (v === 0) throw invalid(`${type}.${key} must be positive`);
  return v;
}

function stringField(o: Record<string, unknown>, key: string, type: string, max: number): string {
  const v = o[key];
  if (typeof v !== 'string' || v.length > max)
    throw invalid(`${type}.${key} must be a string of at most ${max} chars`);
  return v;
}

function streamField(o: Record<string, unknown>, key: string, type: string, allowEmpty = false): string {
  const v = o[key];
  if (typeof v !== 'string' || !(STREAM_PATTERN.test(v) || (allowEmpty && v === '')))
    throw invalid(`${type}.${key} must be 1-64 chars of [A-Za-z0-9_-]${allowEmpty ? ' or empty' : ''}`);
  return v;
}

/** Optional protocol revision: absent means 1. */
function revField(o: Record<string, unknown>, type: string): { rev?: number } {
  return o.rev === undefined ? {} : { rev: positiveInt(o, 'rev', type) };
}

/** A data item's seq: positiveInt with the key spelled out, since it runs for every message. */
function itemSeq(o: Record<string, unknown>, type: string): number {
  const seq = o.seq;
  return typeof seq === 'number' && seq > 0 && Number.isSafeInteger(seq) ? seq : positiveInt(o, 'seq', type);
}

function dataItem(o: Record<string, unknown>, type: string): BatchItem {
  const seq = itemSeq(o, type);
  const p = dataPayload(o, type);
  const tp = traceparentField(o, type);
  return tp === undefined ? { seq, p } : { seq, p, tp };
}

/**
 * A data frame, built in one literal rather than spread from its item: it
 * runs for every message the hub reads on its own, and a spread copies
 * through a generic path.
 */
function dataFrame(o: Record<string, unknown>): Frame {
  const seq = itemSeq(o, 'data');
  const p = dataPayload(o, 'data');
  const tp = traceparentField(o, 'data');
  return tp === undefined ? { v: 1, t: 'data', seq, p } : { v: 1, t: 'data', seq, p, tp };
}

function dataPayload(o: Record<string, unknown>, type: string): JsonValue {
  const p = o.p;
  if (p === undefined && !('p' in o)) throw invalid(`${type}.p is missing`);
  const problem = payloadProblem(p);
  if (problem) throw invalid(`${type}.p ${problem}`);
  return p as JsonValue;
}

function traceparentField(o: Record<string, unknown>, type: string): string | undefined {
  const tp = o.tp;
  if (tp === undefined) return undefined;
  if (typeof tp !== 'string' || !TRACEPARENT.test(tp)) throw invalid(`${type}.tp must be a W3C traceparent`);
  return tp;
}

function batchItems(value: Record<string, unknown>): BatchItem[] {
  const m = value.m;
  if (!Array.isArray(m) || m.length === 0) throw invalid('batch.m must be a non-empty array');
  const items: BatchItem[] = new Array(m.length);
  let last = 0;
  for (let i = 0; i < m.length; i++) {
    const o = m[i];
    if (!isObject(o)) throw invalid('batch.m items must be objects');
    const item = dataItem(o, 'batch.m[]');
    if (item.seq <= last) throw invalid('batch.m seqs must strictly increase');
    last = item.seq;
    items[i] = item;
  }
  return items;
}

function progressField(o: Record<string, unknown>): Progress {
  const p = o.progress;
  if (!isObject(p)) throw invalid('hb.progress must be an object');
  return {
    sent: seqField(p, 'sent', 'hb.progress'),
    acked: seqField(p, 'acked', 'hb.progress'),
    processed: seqField(p, 'processed', 'hb.progress'),
    depth: seqField(p, 'depth', 'hb.progress'),
  };
}

/**
 * A short, safe rendering of an untrusted value for an error message. Never
 * JSON.stringify it: a deeply nested value would overflow the stack.
 */
function show(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 24 ? `${v.slice(0, 24)}...` : v);
  if (typeof v === 'number' || typeof v === 'boolean' || v === null || v === undefined) return String(v);
  return Array.isArray(v) ? 'an array' : 'an object';
}

/**
 * A payload must survive a re-encode unchanged: bounded nesting (JSON.stringify
 * of a deeper value overflows the stack) and finite numbers (JSON.parse turns
 * 1e999 into Infinity, which re-encodes as null). Walks containers only, so
 * strings cost nothing; it runs per message on both sides, so it allocates
 * nothing (recursion is bounded by MAX_PAYLOAD_DEPTH).
 */
export function payloadProblem(root: unknown): string | undefined {
  return problemAt(root, 0);
}

function problemAt(v: unknown, depth: number): string | undefined {
  if (typeof v === 'number') return Number.isFinite(v) ? undefined : NOT_FINITE;
  if (typeof v !== 'object' || v === null) return undefined;
  if (depth >= MAX_PAYLOAD_DEPTH) return `nests deeper than ${MAX_PAYLOAD_DEPTH} levels`;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const c: unknown = v[i];
      // Numbers are checked here rather than by a call each: most payloads are flat.
      if (typeof c === 'number') {
        if (!Number.isFinite(c)) return NOT_FINITE;
      } else if (typeof c === 'object' && c !== null) {
        const p = problemAt(c, depth + 1);
        if (p) return p;
      }
    }
    return undefined;
  }
  const o = v as Record<string, unknown>;
  for (const k in o) {
    if (!Object.hasOwn(o, k)) continue;
    const c = o[k];
    if (typeof c === 'number') {
      if (!Number.isFinite(c)) return NOT_FINITE;
    } else if (typeof c === 'object' && c !== null) {
      const p = problemAt(c, depth + 1);
      if (p) return p;
    }
  }
  return undefined;
}

const NOT_FINITE = 'holds a number that is not finite';

/** A W3C traceparent, as data items carry it. */
export const TRACEPARENT = /^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;

/** Checks shape and types, and returns a frame holding only known fields. */
export function validateFrame(value: unknown): Frame {
  if (!isObject(value)) {
    throw new ProtocolError('LW_ERR_PROTOCOL', CloseCode.protocolError, 'frame must be a JSON object');
  }
  if (value.v !== PROTOCOL_VERSION) {
    throw new ProtocolError(
      'LW_ERR_UNSUPPORTED_VERSION',
      CloseCode.protocolError,
      `unsupported protocol version ${show(value.v)}; this side speaks ${PROTOCOL_VERSION}`,
    );
  }
  const t = value.t;
  switch (t) {
    // The per-message types first.
    case 'data':
      return dataFrame(value);
    case 'batch':
      return { v: 1, t, m: batchItems(value) };
    case 'hello': {
      const workerId = stringField(value, 'workerId', 'hello', 128);
      if (!WORKER_ID_PATTERN.test(workerId))
        throw invalid('hello.workerId has characters outside [A-Za-z0-9._:-]');
      return {
        v: 1,
        t,
        workerId,
        stream: streamField(value, 'stream', 'hello'),
        peerStream: streamField(value, 'peerStream', 'hello', true),
        processed: seqField(value, 'processed', 'hello'),
        window: positiveInt(value, 'window', 'hello'),
        ...revField(value, 'hello'),
      };
    }
    case 'welcome':
      return {
        v: 1,
        t,
        hubId: stringField(value, 'hubId', 'welcome', 128),
        stream: streamField(value, 'stream', 'welcome'),
        epoch: seqField(value, 'epoch', 'welcome'),
        processed: seqField(value, 'processed', 'welcome'),
        heartbeatIntervalMs: positiveInt(value, 'heartbeatIntervalMs', 'welcome'),
        heartbeatMisses: positiveInt(value, 'heartbeatMisses', 'welcome'),
        window: positiveInt(value, 'window', 'welcome'),
        maxFrameBytes: positiveInt(value, 'maxFrameBytes', 'welcome'),
        ...revField(value, 'welcome'),
      };
    case 'ack':
      return { v: 1, t, seq: seqField(value, 'seq', 'ack') };
    case 'hb':
      return {
        v: 1,
        t,
        id: seqField(value, 'id', 'hb'),
        ts: seqField(value, 'ts', 'hb'),
        progress: progressField(value),
      };
    case 'hb-ack':
      return {
        v: 1,
        t,
        id: seqField(value, 'id', 'hb-ack'),
        ts: seqField(value, 'ts', 'hb-ack'),
        ...(value.held === undefined ? {} : { held: seqField(value, 'held', 'hb-ack') }),
      };
    case 'close':
      return {
        v: 1,
        t,
        code: seqField(value, 'code', 'close'),
        reason: stringField(value, 'reason', 'close', MAX_REASON),
      };
    default:
      throw new ProtocolError('LW_ERR_PROTOCOL', CloseCode.protocolError, `unknown frame type ${show(t)}`);
  }
}
