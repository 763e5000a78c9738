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
 * with `c` the CRC-32 (hex) of the line before it (`"p"` instead of `"q"`
 * marks a commit record, see {@link JournalOptions}). JSON escapes every newline
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
export interface JournalOptions {
  /**
   * Also write a commit record (`"p"`, the highest seq processed in order)
   * at every advance. Needed when handler calls overlap (`--queue-concurrency`
   * above 1): seq 5 can be recorded while 4 still runs, so the highest seq
   * recorded is not where to resume. @default false
   */
  commitEveryAdvance?: boolean;
}

interface StreamState {
  // Highest seq with an effect record.
  lastEffect: number;
  // Highest commit record; undefined while the stream has none (then lastEffect is the checkpoint).
  committed: number | undefined;
  // Effect seqs above `committed`: processed before a restart, to be skipped when replayed.
  done: Set<number>;
  // An effect record up to its seq (`{"w":…,"s":…,"q":`) and that text's CRC-32, made once per
  // stream: a record is then this head, the seq, and the CRC carried on over the seq's digits.
  head: string;
  headCrc: number;
}

export class Journal implements CheckpointStore {
  readonly #fd: number;
  readonly #commitEveryAdvance: boolean;
  // Worker id → stream → state. Nested maps: no separator a stream id could forge.
  readonly #streams = new Map<string, Map<string, StreamState>>();
  // Seqs in every stream's `done` together: none outside a restart's replay, so the handler's
  // alreadyProcessed() check is then one comparison instead of two map lookups per message.
  #done = 0;
  // Streams with a commit record.
  #committedStreams = 0;
  // Records appendSoon() collected this turn of the loop, and the promise their callers wait on.
  #batch: { st: StreamState; seq: number }[] = [];
  #written: Promise<void> | undefined;
  #settle: { resolve: () => void; reject: (err: unknown) => void } | undefined;
  // performance.now() of the batch's first record.
  #batchAt = 0;

  constructor(file: string, options: JournalOptions = {}) {
    this.#commitEveryAdvance = options.commitEveryAdvance ?? false;
    let keep: number | undefined;
    if (existsSync(file)) keep = this.#read(file, readFileSync(file));
    this.#fd = openSync(file, 'a');
    // Cut a torn tail, or the next record would be glued onto it.
    if (keep !== undefined) ftruncateSync(this.#fd, keep);
  }

  load(workerId: string, stream: string): number | undefined {
    const st = this.#streams.get(workerId)?.get(stream);
    // A state appendSoon() made for a batch whose write failed holds no record yet (seqs start at 1).
    if (st === undefined || (st.committed === undefined && st.lastEffect === 0)) return undefined;
    return st.committed ?? st.lastEffect;
  }

  /**
   * Whether this message's record is already in the journal (it was processed
   * above the last commit before a restart): the handler then skips it.
   */
  alreadyProcessed(workerId: string, stream: string, seq: number): boolean {
    if (this.#done === 0) return false;
    const done = this.#streams.get(workerId)?.get(stream)?.done.delete(seq) ?? false;
    if (done) this.#done--;
    return done;
  }

  /** Writes a commit record when calls overlap; in order, the effect record is the checkpoint. */
  commit(workerId: string, stream: string, processed: number): void {
    // Calls in order and no stream with commit records (a journal from overlapping calls): nothing to do.
    if (!this.#commitEveryAdvance && this.#committedStreams === 0) return;
    const st = this.#state(workerId, stream);
    if (!this.#commitEveryAdvance && st.committed === undefined) return;
    writeSync(this.#fd, `${encodeCommit(workerId, stream, processed)}\n`);
    this.#committed(st, processed);
  }

  append(workerId: string, stream: string, seq: number): void {
    writeSync(this.#fd, `${encodeRecord(workerId, stream, seq)}\n`);
    // Kept current, so a session the hub expired and a peer resumed later loads its true state.
    this.#effect(this.#state(workerId, stream), seq);
  }

  /**
   * Like append(), but the record is written together with every other one
   * appended in this turn of the event loop, in one write at its end
   * (setImmediate): a hub of 10,000 workers at 1 msg/s made 10,000 write
   * syscalls a second, one per message. Resolves once written (rejects if
   * the write failed); the message counts as processed, and is acked, only
   * then, so a crash before the write loses nothing: the worker still holds
   * the message and sends it again.
   *
   * A batch older than FLUSH_AFTER_MS is written at once, with this record:
   * a turn that reads hundreds of sockets (a 10,000-link hub catching up
   * after a collection) held every handler, and so every heartbeat answer
   * waiting on its data's ack, until the turn's end.
   */
  appendSoon(workerId: string, stream: string, seq: number): Promise<void> {
    this.#batch.push({ st: this.#state(workerId, stream), seq });
    const written = this.#written;
    if (!written) {
      this.#written = new Promise((resolve, reject) => {
        this.#settle = { resolve, reject };
      });
      this.#batchAt = performance.now();
      setImmediate(flushJournal, this);
      return this.#written;
    }
    if (performance.now() - this.#batchAt >= FLUSH_AFTER_MS) this.flush();
    return written;
  }

  /** Writes the records appendSoon() collected (flushJournal, close()). */
  flush(): void {
    const batch = this.#batch;
    const settle = this.#settle;
    this.#batch = [];
    this.#written = undefined;
    this.#settle = undefined;
    if (batch.length === 0) {
      settle?.resolve();
      return;
    }
    let text = '';
    for (const r of batch) text += `${recordLine(r.st.head, r.st.headCrc, r.seq)}\n`;
    try {
      writeSync(this.#fd, text);
    } catch (err) {
      settle?.reject(err);
      return;
    }
    for (const r of batch) this.#effect(r.st, r.seq);
    settle?.resolve();
  }

  close(): void {
    this.flush();
    closeSync(this.#fd);
  }

  #state(workerId: string, stream: string): StreamState {
    let streams = this.#streams.get(workerId);
    if (!streams) {
      streams = new Map();
      this.#streams.set(workerId, streams);
    }
    let st = streams.get(stream);
    if (!st) {
      const head = recordHead(workerId, stream, 'q');
      st = { lastEffect: 0, committed: undefined, done: new Set(), head, headCrc: crc32(head) };
      streams.set(stream, st);
    }
    return st;
  }

  #effect(st: StreamState, seq: number): void {
    st.lastEffect = Math.max(st.lastEffect, seq);
    if (st.committed !== undefined && seq > st.committed && !st.done.has(seq)) {
      st.done.add(seq);
      this.#done++;
    }
  }

  #committed(st: StreamState, processed: number): void {
    if (st.committed === undefined) this.#committedStreams++;
    st.committed = Math.max(st.committed ?? 0, processed);
    for (const seq of st.done) {
      if (seq <= st.committed) {
        st.done.delete(seq);
        this.#done--;
      }
    }
  }

  /** Loads every record; returns the byte length to keep when the last line is torn. */
  #read(file: string, bytes: Buffer): number | undefined {
    const text = bytes.toString('utf8');
    const lines = text.split('\n');
    const torn = lines.pop(); // '' when the file ends with a newline
    lines.forEach((line, i) => {
      const record = decodeRecord(line);
      if (typeof record === 'string') throw new Error(`${file}:${i + 1}: ${record}`);
      const st = this.#state(record.workerId, record.stream);
      if (record.kind === 'commit') this.#committed(st, record.seq);
      else this.#effect(st, record.seq);
    });
    return torn ? bytes.length - Buffer.byteLength(torn, 'utf8') : undefined;
  }
}

/** A batch of appendSoon() records waits at most this long for the end of the turn, ms. */
export const FLUSH_AFTER_MS = 2;

function flushJournal(journal: Journal): void {
  journal.flush();
}

export interface JournalRecord {
  /** `effect`: the message was processed; `commit`: everything up to `seq` was, in order. */
  kind: 'effect' | 'commit';
  workerId: string;
  stream: string;
  seq: number;
}

export function encodeRecord(workerId: string, stream: string, seq: number): string {
  const head = recordHead(workerId, stream, 'q');
  return recordLine(head, crc32(head), seq);
}

export function encodeCommit(workerId: string, stream: string, processed: number): string {
  const head = recordHead(workerId, stream, 'p');
  return recordLine(head, crc32(head), processed);
}

/** A record up to its number: `q` for an effect, `p` for a commit. */
function recordHead(workerId: string, stream: string, kind: 'q' | 'p'): string {
  return `{"w":${JSON.stringify(workerId)},"s":${JSON.stringify(stream)},"${kind}":`;
}

/**
 * The whole line: `head`, the number, and `c`, the CRC-32 of everything
 * before it, carried on from the head's (`headCrc`) over the number's digits.
 */
function recordLine(head: string, headCrc: number, n: number): string {
  const digits = String(n);
  return `${head}${digits},"c":"${hex(crc32(digits, headCrc))}"}`;
}

const LEGACY = /^([A-Za-z0-9._:-]{1,128}) ([A-Za-z0-9._:-]{1,128}) (\d{1,16})$/;

/** A record, or why the line is not one (never quoting the line: it came from peers). */
export function decodeRecord(line: string): JournalRecord | string {
  const legacy = LEGACY.exec(line);
  if (legacy) return { kind: 'effect', workerId: legacy[1]!, stream: legacy[2]!, seq: Number(legacy[3]) };
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return 'not a journal record (expected one JSON object per line)';
  }
  const r = value as { w?: unknown; s?: unknown; q?: unknown; p?: unknown; c?: unknown };
  const seq = r?.q ?? r?.p;
  if (
    typeof value !== 'object' ||
    value === null ||
    typeof r.w !== 'string' ||
    r.w.length === 0 ||
    typeof r.s !== 'string' ||
    (r.q === undefined) === (r.p === undefined) ||
    typeof seq !== 'number' ||
    !Number.isSafeInteger(seq) ||
    seq < 1 ||
    typeof r.c !== 'string'
  ) {
    return 'not a journal record (expected {"w":workerId,"s":stream,"q":seq,"c":crc})';
  }
  const kind = r.q === undefined ? 'commit' : 'effect';
  const expected = kind === 'effect' ? encodeRecord(r.w, r.s, seq) : encodeCommit(r.w, r.s, seq);
  if (expected !== line) return 'checksum mismatch (the line was altered)';
  return { kind, workerId: r.w, stream: r.s, seq };
}

function hex(crc: number): string {
  return crc.toString(16).padStart(8, '0');
}
