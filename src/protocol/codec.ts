import { isUtf8 } from 'node:buffer';
import { ProtocolError } from '../errors.js';
import { CloseCode } from './close-codes.js';
import { type Frame, type JsonValue, PROTOCOL_VERSION, type Progress } from './frames.js';

/** Default maximum size of one encoded frame, in bytes. */
export const DEFAULT_MAX_FRAME_BYTES = 1024 * 1024;
/** Worker ids are labels in metrics: short and printable. */
export const WORKER_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;
const MAX_REASON = 123;
/** Deepest nesting of arrays and objects accepted in a data payload. */
export const MAX_PAYLOAD_DEPTH = 64;

export function encodeFrame(frame: Frame): string {
  return JSON.stringify(frame);
}

/**
 * A data frame around a payload the sender already serialised (it needed the
 * JSON for the size check), so the payload is not stringified twice per
 * message. Byte for byte what `encodeFrame` writes for the same frame.
 */
export function encodeDataFrame(seq: number, payloadJson: string, traceparent?: string): string {
  const tp = traceparent ? `,"tp":${JSON.stringify(traceparent)}` : '';
  return `{"v":1,"t":"data","seq":${seq},"p":${payloadJson}${tp}}`;
}

/**
 * Pure decoder: bytes in, a validated frame or a ProtocolError out. It never
 * throws anything else (a property test feeds it 100,000+ random frames).
 */
export function decodeFrame(
  raw: Buffer | ArrayBuffer | Buffer[] | string,
  isBinary: boolean,
  maxBytes: number,
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
    const buf = Array.isArray(raw) ? Buffer.concat(raw) : Buffer.isBuffer(raw) ? raw : Buffer.from(raw);
    if (buf.length > maxBytes) throw tooLarge(buf.length, maxBytes);
    if (!isUtf8(buf))
      throw new ProtocolError('LW_ERR_INVALID_FRAME', CloseCode.invalidData, 'frame is not valid UTF-8');
    text = buf.toString('utf8');
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
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
 * strings cost nothing.
 */
export function payloadProblem(root: unknown): string | undefined {
  const stack: [unknown, number][] = [[root, 0]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (typeof v === 'number') {
      if (!Number.isFinite(v)) return 'holds a number that is not finite';
    } else if (typeof v === 'object' && v !== null) {
      if (depth >= MAX_PAYLOAD_DEPTH) return `nests deeper than ${MAX_PAYLOAD_DEPTH} levels`;
      const children = Array.isArray(v) ? v : Object.values(v);
      for (const c of children)
        if (typeof c === 'object' || typeof c === 'number') stack.push([c, depth + 1]);
    }
  }
  return undefined;
}

const TRACEPARENT = /^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;

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
    case 'hello': {
      const workerId = stringField(value, 'workerId', 'hello', 128);
      if (!WORKER_ID_PATTERN.test(workerId))
        throw invalid('hello.workerId has characters outside [A-Za-z0-9._:-]');
      return {
        v: 1,
        t,
        workerId,
        stream: stringField(value, 'stream', 'hello', 64),
        peerStream: stringField(value, 'peerStream', 'hello', 64),
        processed: seqField(value, 'processed', 'hello'),
        window: positiveInt(value, 'window', 'hello'),
      };
    }
    case 'welcome':
      return {
        v: 1,
        t,
        hubId: stringField(value, 'hubId', 'welcome', 128),
        stream: stringField(value, 'stream', 'welcome', 64),
        epoch: seqField(value, 'epoch', 'welcome'),
        processed: seqField(value, 'processed', 'welcome'),
        heartbeatIntervalMs: positiveInt(value, 'heartbeatIntervalMs', 'welcome'),
        heartbeatMisses: positiveInt(value, 'heartbeatMisses', 'welcome'),
        window: positiveInt(value, 'window', 'welcome'),
        maxFrameBytes: positiveInt(value, 'maxFrameBytes', 'welcome'),
      };
    case 'data': {
      const seq = positiveInt(value, 'seq', 'data');
      if (!('p' in value)) throw invalid('data.p is missing');
      const problem = payloadProblem(value.p);
      if (problem) throw invalid(`data.p ${problem}`);
      const frame: Frame = { v: 1, t, seq, p: value.p as JsonValue };
      if (value.tp !== undefined) {
        if (typeof value.tp !== 'string' || !TRACEPARENT.test(value.tp))
          throw invalid('data.tp must be a W3C traceparent');
        frame.tp = value.tp;
      }
      return frame;
    }
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
      return { v: 1, t, id: seqField(value, 'id', 'hb-ack'), ts: seqField(value, 'ts', 'hb-ack') };
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
