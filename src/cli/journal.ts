import { closeSync, existsSync, ftruncateSync, openSync, readFileSync, writeSync } from 'node:fs';
import { crc32 } from 'node:zlib';
import type { CheckpointStore } from '../hub/hub.js';

/**
 * The CLI hub's sink: one record per processed message, appended
 * synchronously. It doubles as the dedupe checkpoint, so the handler's effect
 * and the checkpoint are one write and a SIGKILLed hub resumes without
 * delivering anything twice.
 *
 * A record is one line of JSON, `{"w":workerId,"s":stream,"q":seq,"c":crc}`,
 * with `c` the CRC-32 (hex) of `[w,s,q]` as JSON. JSON escapes every newline
 * and quote a peer may put in its stream id, so no value can start a record
 * of its own (the old `workerId stream seq` text let a peer holding worker A's
 * token write a checkpoint for worker B). Every record is keyed by the worker
 * id the hub authenticated, so a token only ever touches its own workers'
 * state. Reading checks each line; a bad one stops the hub with the file and
 * line. Only a torn last line (a crash mid-write, no newline yet) is dropped:
 * that message was not processed and will be delivered again.
 *
 * Lines of the old text format are still read when they are unambiguous
 * (ids of `[A-Za-z0-9._:-]`, a decimal seq), so an upgraded hub keeps its
 * dedupe state.
 */
export class Journal implements CheckpointStore {
  readonly #fd: number;
  // Worker id → stream → highest seq recorded. Nested maps: no separator a stream could forge.
  readonly #last = new Map<string, Map<string, number>>();

  constructor(file: string) {
    let keep: number | undefined;
    if (existsSync(file)) keep = this.#read(file, readFileSync(file));
    this.#fd = openSync(file, 'a');
    // Cut a torn tail, or the next record would be glued onto it.
    if (keep !== undefined) ftruncateSync(this.#fd, keep);
  }

  load(workerId: string, stream: string): number | undefined {
    return this.#last.get(workerId)?.get(stream);
  }

  /** The journal record itself is the checkpoint; nothing more to write. */
  commit(): void {}

  append(workerId: string, stream: string, seq: number): void {
    writeSync(this.#fd, `${encodeRecord(workerId, stream, seq)}\n`);
    // Kept current, so a session the hub expired and a peer resumed later loads its true state.
    this.#remember(workerId, stream, seq);
  }

  close(): void {
    closeSync(this.#fd);
  }

  #remember(workerId: string, stream: string, seq: number): void {
    let streams = this.#last.get(workerId);
    if (!streams) {
      streams = new Map();
      this.#last.set(workerId, streams);
    }
    streams.set(stream, Math.max(streams.get(stream) ?? 0, seq));
  }

  /** Loads every record; returns the byte length to keep when the last line is torn. */
  #read(file: string, bytes: Buffer): number | undefined {
    const text = bytes.toString('utf8');
    const lines = text.split('\n');
    const torn = lines.pop(); // '' when the file ends with a newline
    lines.forEach((line, i) => {
      const record = decodeRecord(line);
      if (typeof record === 'string') throw new Error(`${file}:${i + 1}: ${record}`);
      this.#remember(record.workerId, record.stream, record.seq);
    });
    return torn ? bytes.length - Buffer.byteLength(torn, 'utf8') : undefined;
  }
}

export interface JournalRecord {
  workerId: string;
  stream: string;
  seq: number;
}

export function encodeRecord(workerId: string, stream: string, seq: number): string {
  const body = JSON.stringify([workerId, stream, seq]);
  return `{"w":${JSON.stringify(workerId)},"s":${JSON.stringify(stream)},"q":${seq},"c":"${checksum(body)}"}`;
}

const LEGACY = /^([A-Za-z0-9._:-]{1,128}) ([A-Za-z0-9._:-]{1,128}) (\d{1,16})$/;

/** A record, or why the line is not one (never quoting the line: it came from peers). */
export function decodeRecord(line: string): JournalRecord | string {
  const legacy = LEGACY.exec(line);
  if (legacy) return { workerId: legacy[1]!, stream: legacy[2]!, seq: Number(legacy[3]) };
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return 'not a journal record (expected one JSON object per line)';
  }
  const r = value as { w?: unknown; s?: unknown; q?: unknown; c?: unknown };
  if (
    typeof value !== 'object' ||
    value === null ||
    typeof r.w !== 'string' ||
    r.w.length === 0 ||
    typeof r.s !== 'string' ||
    typeof r.q !== 'number' ||
    !Number.isSafeInteger(r.q) ||
    r.q < 1 ||
    typeof r.c !== 'string'
  ) {
    return 'not a journal record (expected {"w":workerId,"s":stream,"q":seq,"c":crc})';
  }
  if (r.c !== checksum(JSON.stringify([r.w, r.s, r.q]))) return 'checksum mismatch (the line was altered)';
  return { workerId: r.w, stream: r.s, seq: r.q };
}

function checksum(text: string): string {
  return crc32(text).toString(16).padStart(8, '0');
}
