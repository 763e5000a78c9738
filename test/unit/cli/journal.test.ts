import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { decodeRecord, encodeRecord, FLUSH_AFTER_MS, Journal } from '../../../src/cli/journal.js';
import { tempDir } from '../../helpers/cli.js';

function journalFile(): string {
  return join(tempDir(), 'journal');
}

function reopen(file: string): Journal {
  const j = new Journal(file);
  j.close();
  return j;
}

describe('the --journal file', () => {
  // Regression (issue 7, item 10): the stream id reached the journal raw, so a peer holding only
  // worker A's token wrote the line "B sB 999999" and the hub then dropped all of B's messages.
  it("a stream id with a newline cannot write a record for another worker's state", () => {
    const file = journalFile();
    const j = new Journal(file);
    const forged = 'sA\nB sB 999999\n{"w":"B","s":"sB","q":999999}';
    j.append('A', forged, 1);
    j.close();
    expect(readFileSync(file, 'utf8').split('\n')).toHaveLength(2); // one record, one final newline
    const again = reopen(file);
    expect(again.load('B', 'sB')).toBeUndefined();
    expect(again.load('A', forged)).toBe(1);
  });

  it('no worker id and stream pair can collide with another', () => {
    const file = journalFile();
    const j = new Journal(file);
    j.append('A', 's x', 5);
    j.close();
    const again = reopen(file);
    expect(again.load('A s', 'x')).toBeUndefined();
    expect(again.load('A', 's x')).toBe(5);
  });

  it('resumes at the highest seq per worker and stream', () => {
    const file = journalFile();
    const j = new Journal(file);
    for (const [w, s, q] of [
      ['w1', 's1', 1],
      ['w1', 's1', 2],
      ['w2', 's1', 7],
      ['w1', 's2', 3],
    ] as const)
      j.append(w, s, q);
    expect(j.load('w1', 's1')).toBe(2);
    j.close();
    const again = reopen(file);
    expect([again.load('w1', 's1'), again.load('w2', 's1'), again.load('w1', 's2')]).toEqual([2, 7, 3]);
  });

  it('a bad line stops the load naming the file and line, never quoting it', () => {
    const file = journalFile();
    writeFileSync(file, `${encodeRecord('w1', 's1', 1)}\nsecret-ish garbage {\n`);
    expect(() => new Journal(file)).toThrow(
      new Error(`${file}:2: not a journal record (expected one JSON object per line)`),
    );
    writeFileSync(file, `${encodeRecord('w1', 's1', 1)}\n{"w":"w1","s":"s1","q":0,"c":"00000000"}\n`);
    expect(() => new Journal(file)).toThrow(`${file}:2: not a journal record (expected {"w"`);
  });

  it('an altered record fails its checksum', () => {
    const file = journalFile();
    writeFileSync(file, `${encodeRecord('w1', 's1', 1).replace('"q":1', '"q":999999')}\n`);
    expect(() => new Journal(file)).toThrow(`${file}:1: checksum mismatch (the line was altered)`);
  });

  it('a torn last line (a crash mid-write) is dropped and cut, so the next record starts clean', () => {
    const file = journalFile();
    writeFileSync(file, `${encodeRecord('w1', 's1', 1)}\n${encodeRecord('w1', 's1', 2).slice(0, 20)}`);
    const j = new Journal(file);
    expect(j.load('w1', 's1')).toBe(1);
    j.append('w1', 's1', 2);
    j.close();
    expect(reopen(file).load('w1', 's1')).toBe(2);
  });

  it('reads journals written in the old "workerId stream seq" text', () => {
    const file = journalFile();
    writeFileSync(file, 'w1 3f2c-stream 41\nw1 3f2c-stream 42\n');
    appendFileSync(file, `${encodeRecord('w1', '3f2c-stream', 43)}\n`);
    expect(reopen(file).load('w1', '3f2c-stream')).toBe(43);
  });

  it('decodeRecord round-trips any strings', () => {
    for (const [w, s] of [
      ['w', ''],
      ['w"q', 's\\n\u2028\u0000'],
      ['ü', '{"w":"x"}'],
    ])
      expect(decodeRecord(encodeRecord(w!, s!, 9))).toEqual({
        kind: 'effect',
        workerId: w,
        stream: s,
        seq: 9,
      });
  });

  // With overlapping handler calls seq 3 can be recorded while 2 still runs; resuming after the
  // highest record would then never deliver 2 again.
  it('with overlapping calls it resumes from the last commit and skips what was recorded above it', () => {
    const file = journalFile();
    const j = new Journal(file, { commitEveryAdvance: true });
    j.append('w1', 's1', 1);
    j.commit('w1', 's1', 1);
    j.append('w1', 's1', 3); // 2 still running when the hub dies
    j.close();
    const again = new Journal(file, { commitEveryAdvance: true });
    expect(again.load('w1', 's1')).toBe(1);
    expect(again.alreadyProcessed('w1', 's1', 2)).toBe(false);
    expect(again.alreadyProcessed('w1', 's1', 3)).toBe(true);
    expect(again.alreadyProcessed('w1', 's1', 3)).toBe(false); // once
    again.append('w1', 's1', 2);
    again.commit('w1', 's1', 3);
    again.close();
    expect(reopen(file).load('w1', 's1')).toBe(3);
  });

  it('a stream with commit records keeps getting them after a restart with calls in order', () => {
    const file = journalFile();
    const j = new Journal(file, { commitEveryAdvance: true });
    j.append('w1', 's1', 1);
    j.commit('w1', 's1', 1);
    j.close();
    const inOrder = new Journal(file);
    inOrder.append('w1', 's1', 2);
    inOrder.commit('w1', 's1', 2);
    inOrder.append('w2', 's2', 1);
    inOrder.commit('w2', 's2', 1); // a stream without commits: the effect record is the checkpoint
    inOrder.close();
    const again = reopen(file);
    expect([again.load('w1', 's1'), again.load('w2', 's2')]).toEqual([2, 1]);
    expect(readFileSync(file, 'utf8').match(/"p":/g)).toHaveLength(2);
  });
});

describe('Journal.appendSoon: one write per turn of the event loop', () => {
  it('writes the records of one turn together, and resolves each caller once they are in the file', async () => {
    const file = journalFile();
    const j = new Journal(file);
    const first = j.appendSoon('A', 's', 1);
    const second = j.appendSoon('B', 's', 7);
    expect(readFileSync(file, 'utf8')).toBe(''); // nothing written before the turn ends
    expect(j.load('A', 's')).toBeUndefined();
    await Promise.all([first, second]);
    expect(readFileSync(file, 'utf8')).toBe(`${encodeRecord('A', 's', 1)}\n${encodeRecord('B', 's', 7)}\n`);
    expect(j.load('B', 's')).toBe(7);
    await j.appendSoon('A', 's', 2); // a later turn: a write of its own
    j.close();
    expect(reopen(file).load('A', 's')).toBe(2);
  });

  describe('in a long turn', () => {
    afterEach(() => {
      vi.useRealTimers();
    });

    // A turn that reads hundreds of sockets held every handler, and every heartbeat answer that
    // waits on its data's ack, until the turn's end.
    it('writes a batch older than FLUSH_AFTER_MS with the next record, and releases its callers', async () => {
      vi.useFakeTimers({ toFake: ['performance'] });
      const file = journalFile();
      const j = new Journal(file);
      const settled: number[] = [];
      j.appendSoon('A', 's', 1).then(() => settled.push(1));
      vi.advanceTimersByTime(FLUSH_AFTER_MS - 1);
      j.appendSoon('A', 's', 2).then(() => settled.push(2));
      expect(readFileSync(file, 'utf8')).toBe(''); // still young: waits for the turn's end
      vi.advanceTimersByTime(1);
      j.appendSoon('A', 's', 3).then(() => settled.push(3));
      // Written now, in this turn, all three in one write.
      expect(readFileSync(file, 'utf8')).toBe(
        `${encodeRecord('A', 's', 1)}\n${encodeRecord('A', 's', 2)}\n${encodeRecord('A', 's', 3)}\n`,
      );
      expect(j.load('A', 's')).toBe(3);
      await Promise.resolve();
      expect(settled).toEqual([1, 2, 3]);
      // The next record starts a new batch, written at the turn's end as before.
      const fourth = j.appendSoon('A', 's', 4);
      expect(j.load('A', 's')).toBe(3);
      await fourth;
      expect(j.load('A', 's')).toBe(4);
      j.close();
      expect(readFileSync(file, 'utf8').split('\n')).toHaveLength(5);
    });
  });

  it("writes encodeRecord()'s exact lines from each stream's cached head, for any ids and seqs", async () => {
    const file = journalFile();
    const j = new Journal(file);
    const records: [string, string, number][] = [
      ['A', 's', 1],
      ['w"q\\uote', 'x\ny', 9],
      ['é-ü', 's', Number.MAX_SAFE_INTEGER],
      ['A', 's', 1234567],
    ];
    await Promise.all(records.map(([w, s, q]) => j.appendSoon(w, s, q)));
    j.close();
    expect(readFileSync(file, 'utf8')).toBe(
      records.map(([w, s, q]) => `${encodeRecord(w, s, q)}\n`).join(''),
    );
    const again = reopen(file);
    expect(again.load('A', 's')).toBe(1234567);
    expect(again.load('w"q\\uote', 'x\ny')).toBe(9);
    expect(again.load('é-ü', 's')).toBe(Number.MAX_SAFE_INTEGER);
  });

  it('close() writes what is still waiting', async () => {
    const file = journalFile();
    const j = new Journal(file);
    const pending = j.appendSoon('A', 's', 3);
    j.close();
    await pending;
    expect(reopen(file).load('A', 's')).toBe(3);
  });
});
