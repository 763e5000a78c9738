import { describe, expect, it } from 'vitest';
import { Inbox } from '../../../src/link/inbox.js';

describe('Inbox', () => {
  it('starts empty at 0, or at a resume checkpoint', () => {
    const fresh = new Inbox();
    expect([fresh.lastAccepted, fresh.processed, fresh.inFlight, fresh.gaps]).toEqual([0, 0, 0, 0]);
    const resumed = new Inbox(41);
    expect([resumed.lastAccepted, resumed.processed, resumed.inFlight, resumed.gaps]).toEqual([41, 41, 0, 0]);
    expect(resumed.accept(41)).toBe('duplicate');
    expect(resumed.accept(42)).toBe('accepted');
    expect(resumed.gaps).toBe(0);
  });

  it('accepts each new seq once and drops replays as duplicates', () => {
    const inbox = new Inbox();
    expect([1, 2, 3].map((s) => inbox.accept(s))).toEqual(['accepted', 'accepted', 'accepted']);
    expect([1, 2, 3, 0].map((s) => inbox.accept(s))).toEqual([
      'duplicate',
      'duplicate',
      'duplicate',
      'duplicate',
    ]);
    expect(inbox.lastAccepted).toBe(3);
    expect(inbox.inFlight).toBe(3);
  });

  it('treats anything at or below the last accepted seq as a duplicate, even if never seen', () => {
    const inbox = new Inbox();
    inbox.accept(5);
    expect(inbox.accept(3)).toBe('duplicate');
    expect(inbox.inFlight).toBe(1);
  });

  it('counts the seqs skipped by gaps (messages the sender dropped)', () => {
    const inbox = new Inbox();
    inbox.accept(1);
    inbox.accept(4); // 2, 3 missing
    expect(inbox.gaps).toBe(2);
    inbox.accept(5);
    expect(inbox.gaps).toBe(2);
    inbox.accept(10); // 6..9 missing
    expect(inbox.gaps).toBe(6);
    expect(inbox.accept(7)).toBe('duplicate');
    expect(inbox.gaps).toBe(6);
  });

  it('advances processed only over a contiguous run of completed seqs', () => {
    const inbox = new Inbox();
    for (const s of [1, 2, 3, 4]) inbox.accept(s);
    expect(inbox.complete(3)).toBe(false);
    expect(inbox.processed).toBe(0);
    expect(inbox.complete(2)).toBe(false);
    expect(inbox.processed).toBe(0);
    expect(inbox.complete(1)).toBe(true);
    expect(inbox.processed).toBe(3);
    expect(inbox.inFlight).toBe(1);
    expect(inbox.complete(4)).toBe(true);
    expect(inbox.processed).toBe(4);
    expect(inbox.inFlight).toBe(0);
  });

  it('steps over gaps: a seq the sender dropped does not hold processed back', () => {
    const inbox = new Inbox();
    inbox.accept(1);
    inbox.accept(5);
    expect(inbox.complete(5)).toBe(false);
    expect(inbox.processed).toBe(0);
    expect(inbox.complete(1)).toBe(true);
    expect(inbox.processed).toBe(5);
  });

  it('ignores completions of unknown, already processed or repeated seqs', () => {
    const inbox = new Inbox();
    inbox.accept(1);
    inbox.accept(2);
    expect(inbox.complete(99)).toBe(false);
    expect(inbox.complete(1)).toBe(true);
    expect(inbox.complete(1)).toBe(false);
    expect(inbox.processed).toBe(1);
    expect(inbox.complete(2)).toBe(true);
    expect(inbox.complete(2)).toBe(false);
    expect(inbox.processed).toBe(2);
  });

  it('never lets processed run past a seq that is still in flight, whatever the completion order', () => {
    // Completes 1..n in a scrambled (but fixed) order and checks processed after every step
    // against the reference: the largest k with 1..k all completed.
    const n = 3000; // past the internal compaction threshold
    const inbox = new Inbox();
    for (let s = 1; s <= n; s++) inbox.accept(s);
    const order = Array.from({ length: n }, (_, i) => i + 1);
    let x = 12345;
    for (let i = n - 1; i > 0; i--) {
      x = (x * 1103515245 + 12345) % 2 ** 31;
      const j = x % (i + 1);
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    const done = new Set<number>();
    let expected = 0;
    for (const s of order) {
      const before = inbox.processed;
      done.add(s);
      while (done.has(expected + 1)) expected++;
      expect(inbox.complete(s)).toBe(expected > before);
      expect(inbox.processed).toBe(expected);
      expect(inbox.inFlight).toBe(n - expected);
    }
    expect(inbox.processed).toBe(n);
  });

  it('empties and refills, in single messages and in bursts past the slots it keeps', () => {
    // An emptied inbox keeps its array (see Inbox.#pending); the counts must not notice.
    const inbox = new Inbox();
    let seq = 0;
    for (let round = 0; round < 2000; round++) {
      const burst = round % 100 === 99 ? 300 : 1;
      const first = seq + 1;
      for (let i = 0; i < burst; i++) expect(inbox.accept(++seq)).toBe('accepted');
      expect(inbox.inFlight).toBe(burst);
      // Completed last-first within the burst: processed waits for the first.
      for (let s = seq; s > first; s--) expect(inbox.complete(s)).toBe(false);
      expect(inbox.processed).toBe(first - 1);
      expect(inbox.complete(first)).toBe(true);
      expect(inbox.processed).toBe(seq);
      expect(inbox.inFlight).toBe(0);
      expect(inbox.complete(first)).toBe(false); // a repeat changes nothing
    }
    expect(inbox.accept(seq)).toBe('duplicate');
  });

  it('keeps working after many in-order cycles (compaction)', () => {
    const inbox = new Inbox();
    for (let s = 1; s <= 5000; s++) {
      expect(inbox.accept(s)).toBe('accepted');
      if (s > 2) expect(inbox.complete(s - 2)).toBe(true);
    }
    expect(inbox.processed).toBe(4998);
    expect(inbox.inFlight).toBe(2);
    expect(inbox.accept(4000)).toBe('duplicate');
    expect(inbox.complete(5000)).toBe(false);
    expect(inbox.complete(4999)).toBe(true);
    expect(inbox.processed).toBe(5000);
  });
});
