import { describe, expect, it } from 'vitest';
import { ClosedError, LinkwatchError, OutboxFullError } from '../../../src/errors.js';
import { Outbox, type OutboxOptions, OVERFLOW_POLICIES, type SendReceipt } from '../../../src/link/outbox.js';
import { type EncodedFrame, encodeDataFrame } from '../../../src/protocol/data-frames.js';

/** A frame as encodeDataFrame returns it: the text and its UTF-8 size. */
function enc(text: string): EncodedFrame {
  return { frame: text, bytes: Buffer.byteLength(text) };
}

/** Encodes seq into a frame of exactly `size` UTF-8 bytes. */
function frameOf(size: number) {
  return (seq: number): EncodedFrame => {
    const head = `#${seq}:`;
    if (head.length > size) throw new Error('frame size too small for the seq');
    return enc(head.padEnd(size, 'x'));
  };
}
const small = frameOf(10);

function outbox(options: Partial<OutboxOptions> = {}): Outbox {
  return new Outbox({ maxMessages: 100, maxBytes: 1_000_000, policy: 'block', now: () => 0, ...options });
}

async function fill(box: Outbox, n: number, encode = small): Promise<SendReceipt[]> {
  const out: SendReceipt[] = [];
  for (let i = 0; i < n; i++) out.push(await box.enqueue(encode));
  return out;
}

function takeAll(box: Outbox, window = Number.POSITIVE_INFINITY): number[] {
  const seqs: number[] = [];
  for (let e = box.takeNext(window); e; e = box.takeNext(window)) seqs.push(e.seq);
  return seqs;
}

/** Lets already-settled promise callbacks run. */
function flush(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

describe('Outbox: sequence numbers and acks', () => {
  it('assigns consecutive seqs from 1 and passes each seq to the encoder', async () => {
    const box = outbox();
    const seen: number[] = [];
    const receipts = await fill(box, 3, (seq) => {
      seen.push(seq);
      return enc(`f${seq}`);
    });
    expect(receipts).toEqual([
      { seq: 1, status: 'queued' },
      { seq: 2, status: 'queued' },
      { seq: 3, status: 'queued' },
    ]);
    expect(seen).toEqual([1, 2, 3]);
    expect(box.lastSeq).toBe(3);
    expect(box.size).toBe(3);
    expect(box.acked).toBe(0);
  });

  it('hands out entries in order with the encoded frame, its size and a send count', async () => {
    const box = outbox();
    await box.enqueue(() => enc('{"p":"é"}'));
    const e = box.takeNext(10);
    expect(e).toMatchObject({ seq: 1, frame: '{"p":"é"}', bytes: 10, sends: 1, enqueuedAt: 0 });
    expect(box.takeNext(10)).toBeUndefined();
  });

  it('releases cumulatively on ack and returns how many were released', async () => {
    const box = outbox();
    await fill(box, 5);
    takeAll(box);
    expect(box.ack(3)).toBe(3);
    expect(box.acked).toBe(3);
    expect(box.size).toBe(2);
    expect(box.inFlight).toBe(2);
    expect(box.ack(3)).toBe(0);
    expect(box.ack(2)).toBe(0);
    expect(box.acked).toBe(3);
    expect(box.ack(5)).toBe(2);
    expect(box.size).toBe(0);
    expect(box.inFlight).toBe(0);
  });

  it('clamps an ack beyond the last seq to the last seq', async () => {
    const box = outbox();
    await fill(box, 2);
    expect(box.ack(99)).toBe(2);
    expect(box.acked).toBe(2);
    expect(box.size).toBe(0);
  });

  it('releases unsent entries too when the peer acks them (processed on a previous link)', async () => {
    const box = outbox();
    await fill(box, 4);
    expect(box.takeNext(10)?.seq).toBe(1);
    expect(box.ack(3)).toBe(3);
    expect(takeAll(box)).toEqual([4]);
  });

  it('tracks sentSeq on the current connection', async () => {
    const box = outbox();
    expect(box.sentSeq).toBe(0);
    await fill(box, 3);
    expect(box.sentSeq).toBe(0);
    box.takeNext(10);
    box.takeNext(10);
    expect(box.sentSeq).toBe(2);
    box.ack(2);
    expect(box.sentSeq).toBe(2);
    box.rewind(2);
    expect(box.sentSeq).toBe(2);
  });

  it('accounts the bytes of each encoded frame on enqueue, ack and drop', async () => {
    const box = outbox();
    await box.enqueue(() => enc('abc')); // 3
    await box.enqueue(() => enc('ééé')); // 6
    await box.enqueue(() => enc('😀')); // 4
    expect(box.bytes).toBe(13);
    box.ack(1);
    expect(box.bytes).toBe(10);
    box.ack(3);
    expect(box.bytes).toBe(0);
  });
});

describe('Outbox: flow-control window and replay', () => {
  it('takeNext never puts more than `window` unacked entries on the wire', async () => {
    const box = outbox();
    await fill(box, 10);
    expect(takeAll(box, 3)).toEqual([1, 2, 3]);
    expect(box.inFlight).toBe(3);
    box.ack(1);
    expect(takeAll(box, 3)).toEqual([4]);
    box.ack(4);
    expect(takeAll(box, 3)).toEqual([5, 6, 7]);
    expect(box.takeNext(0)).toBeUndefined();
  });

  it('rewind releases what the peer processed and replays the unacked tail', async () => {
    const box = outbox();
    await fill(box, 5);
    expect(takeAll(box)).toEqual([1, 2, 3, 4, 5]);
    expect(box.rewind(2)).toBe(3);
    expect(box.acked).toBe(2);
    expect(box.inFlight).toBe(0);
    const replayed = [box.takeNext(10)!, box.takeNext(10)!, box.takeNext(10)!];
    expect(replayed.map((e) => [e.seq, e.sends, e.frame])).toEqual([
      [3, 2, small(3).frame],
      [4, 2, small(4).frame],
      [5, 2, small(5).frame],
    ]);
    expect(box.takeNext(10)).toBeUndefined();
  });

  it('rewind counts only what was on the wire; unsent entries are not replays', async () => {
    const box = outbox();
    await fill(box, 5);
    takeAll(box, 2);
    expect(box.rewind(0)).toBe(2);
    const sends = [];
    for (let e = box.takeNext(10); e; e = box.takeNext(10)) sends.push([e.seq, e.sends]);
    expect(sends).toEqual([
      [1, 2],
      [2, 2],
      [3, 1],
      [4, 1],
      [5, 1],
    ]);
  });

  it('rewind with an older checkpoint than the last ack keeps the ack', async () => {
    const box = outbox();
    await fill(box, 4);
    takeAll(box);
    box.ack(3);
    expect(box.rewind(1)).toBe(1);
    expect(box.acked).toBe(3);
    expect(takeAll(box)).toEqual([4]);
  });

  it('keeps seqs, window and replay right across internal compaction', async () => {
    const box = outbox({ maxMessages: 10_000 });
    await fill(box, 3000);
    expect(takeAll(box, 2000)).toHaveLength(2000);
    expect(box.ack(1600)).toBe(1600);
    expect(box.size).toBe(1400);
    expect(box.inFlight).toBe(400);
    expect(box.sentSeq).toBe(2000);
    expect(box.bytes).toBe(1400 * 10);
    expect(box.rewind(1700)).toBe(300);
    const next = box.takeNext(10_000)!;
    expect([next.seq, next.sends, next.frame]).toEqual([1701, 2, small(1701).frame]);
    expect(takeAll(box).at(-1)).toBe(3000);
    expect(box.ack(3000)).toBe(1300);
    expect(box.size).toBe(0);
    expect(box.bytes).toBe(0);
  });
});

describe('Outbox: empty', () => {
  it('calls onEmpty when an ack leaves nothing held, and not before', async () => {
    let empties = 0;
    const box = outbox({ onEmpty: () => empties++ });
    await fill(box, 3);
    takeAll(box);
    box.ack(2);
    expect(empties).toBe(0);
    box.ack(3);
    expect(empties).toBe(1);
  });
});

describe('Outbox: batches', () => {
  it('takeBatch takes what is waiting within the window and the frame limit; the first always goes', async () => {
    const box = outbox();
    await fill(box, 5, frameOf(100));
    // Each 100-byte data frame is an 81-byte item; a batch adds 28 bytes and 3 between items:
    // 28 + 81 + 3 + 81 = 193 fits in 240, a third (277) does not.
    expect(box.takeBatch(10, 240).map((e) => e.seq)).toEqual([1, 2]);
    expect(box.takeBatch(1, 10_000).map((e) => e.seq)).toEqual([]);
    expect(box.takeBatch(3, 10).map((e) => e.seq)).toEqual([3]);
    expect(box.maxSent).toBe(3);
    expect(box.inFlight).toBe(3);
  });
});

describe('Outbox: overflow policies', () => {
  it('knows the four policies', () => {
    expect(OVERFLOW_POLICIES).toEqual(['block', 'drop-oldest', 'drop-newest', 'reject']);
  });

  it('block: the producer waits, nothing is assigned a seq until there is room', async () => {
    const box = outbox({ maxMessages: 2, policy: 'block' });
    await fill(box, 2);
    let settled = false;
    const pending = box.enqueue(small).then((r) => {
      settled = true;
      return r;
    });
    await flush();
    expect(settled).toBe(false);
    expect(box.waiting).toBe(1);
    expect(box.lastSeq).toBe(2);
    expect(box.size).toBe(2);
    box.ack(1);
    expect(await pending).toEqual({ seq: 3, status: 'queued' });
    expect(box.waiting).toBe(0);
    expect(box.size).toBe(2);
  });

  it('block: waiters are admitted first-in first-out, as room appears', async () => {
    const box = outbox({ maxMessages: 2, policy: 'block' });
    await fill(box, 2);
    const order: string[] = [];
    const a = box.enqueue(() => enc('A')).then((r) => order.push(`A${r.seq}`));
    const b = box.enqueue(() => enc('B')).then((r) => order.push(`B${r.seq}`));
    const c = box.enqueue(() => enc('C')).then((r) => order.push(`C${r.seq}`));
    expect(box.waiting).toBe(3);
    box.ack(1);
    await flush();
    expect(order).toEqual(['A3']);
    box.ack(2);
    await Promise.all([a, b]);
    await flush();
    expect(order).toEqual(['A3', 'B4']);
    expect(box.waiting).toBe(1);
    box.ack(3);
    await c;
    expect(order).toEqual(['A3', 'B4', 'C5']);
    expect(takeAll(box)).toEqual([4, 5]);
  });

  it('block: room freed by an ack goes to the waiter, not to a later producer', async () => {
    const box = outbox({ maxMessages: 1, policy: 'block' });
    await fill(box, 1);
    const first = box.enqueue(() => enc('first'));
    box.ack(1); // room for exactly one: goes to the waiter
    const second = box.enqueue(() => enc('second'));
    expect(await first).toEqual({ seq: 2, status: 'queued' });
    expect(box.waiting).toBe(1);
    box.ack(2);
    expect(await second).toEqual({ seq: 3, status: 'queued' });
  });

  it('drop-oldest: discards the oldest held message and reports it', async () => {
    const dropped: [number, string][] = [];
    const box = outbox({
      maxMessages: 3,
      policy: 'drop-oldest',
      onDrop: (seq, why) => dropped.push([seq, why]),
    });
    await fill(box, 3);
    expect(box.takeNext(10)?.seq).toBe(1); // in flight, still droppable
    expect(await box.enqueue(small)).toEqual({ seq: 4, status: 'queued' });
    expect(await box.enqueue(small)).toEqual({ seq: 5, status: 'queued' });
    expect(dropped).toEqual([
      [1, 'drop-oldest'],
      [2, 'drop-oldest'],
    ]);
    expect(box.size).toBe(3);
    expect(box.bytes).toBe(30);
    expect(box.inFlight).toBe(0);
    expect(takeAll(box)).toEqual([3, 4, 5]);
  });

  it('drop-oldest: drops as many as it takes to get under the byte limit', async () => {
    const dropped: number[] = [];
    const box = outbox({ maxBytes: 30, policy: 'drop-oldest', onDrop: (seq) => dropped.push(seq) });
    await fill(box, 3); // 30 bytes: full
    expect(await box.enqueue(frameOf(25))).toEqual({ seq: 4, status: 'queued' });
    expect(dropped).toEqual([1]);
    expect(box.bytes).toBe(45);
    expect(await box.enqueue(small)).toEqual({ seq: 5, status: 'queued' });
    expect(dropped).toEqual([1, 2, 3]);
    expect(box.bytes).toBe(35);
    expect(takeAll(box)).toEqual([4, 5]);
  });

  it('drop-newest: discards the new message, still spends its seq, and reports it', async () => {
    const dropped: [number, string][] = [];
    const box = outbox({
      maxMessages: 2,
      policy: 'drop-newest',
      onDrop: (seq, why) => dropped.push([seq, why]),
    });
    await fill(box, 2);
    let encoded = 0;
    const r = await box.enqueue((seq) => {
      encoded++;
      return small(seq);
    });
    expect(r).toEqual({ seq: 3, status: 'dropped' });
    expect(encoded).toBe(0);
    expect(dropped).toEqual([[3, 'drop-newest']]);
    expect(box.size).toBe(2);
    expect(box.lastSeq).toBe(3);
    expect(takeAll(box)).toEqual([1, 2]);
    box.ack(2);
    expect(await box.enqueue(small)).toEqual({ seq: 4, status: 'queued' });
  });

  it('reject: rejects with OutboxFullError (LW_ERR_OUTBOX_FULL) and changes nothing', async () => {
    const box = outbox({ maxMessages: 2, policy: 'reject' });
    await fill(box, 2);
    const err = await box.enqueue(small).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(OutboxFullError);
    expect(err).toBeInstanceOf(LinkwatchError);
    expect(err).toMatchObject({
      name: 'OutboxFullError',
      code: 'LW_ERR_OUTBOX_FULL',
      message: 'outbox is full (2 messages, 20 bytes) and the policy is reject',
    });
    expect(box.lastSeq).toBe(2);
    expect(box.size).toBe(2);
    box.ack(1);
    expect(await box.enqueue(small)).toEqual({ seq: 3, status: 'queued' });
  });

  it('is bounded by bytes as well as by messages', async () => {
    const box = outbox({ maxMessages: 100, maxBytes: 30, policy: 'reject' });
    await fill(box, 3);
    expect(box.bytes).toBe(30);
    await expect(box.enqueue(small)).rejects.toBeInstanceOf(OutboxFullError);
    box.ack(1);
    await expect(box.enqueue(small)).resolves.toEqual({ seq: 4, status: 'queued' });
  });

  it('admits a message while under the byte limit, so one large message may overshoot it', async () => {
    // Documents the bound as implemented: room is checked before the frame is encoded.
    const box = outbox({ maxBytes: 30, policy: 'reject' });
    await box.enqueue(small);
    await box.enqueue(frameOf(100));
    expect(box.bytes).toBe(110);
    await expect(box.enqueue(small)).rejects.toBeInstanceOf(OutboxFullError);
  });

  it('block: waits for room in bytes too', async () => {
    const box = outbox({ maxMessages: 100, maxBytes: 20, policy: 'block' });
    await fill(box, 2);
    const pending = box.enqueue(small);
    expect(box.waiting).toBe(1);
    box.ack(1);
    expect(await pending).toEqual({ seq: 3, status: 'queued' });
  });
});

describe('Outbox: close and age', () => {
  it('close() rejects every waiter with ClosedError, and later enqueues too', async () => {
    const box = outbox({ maxMessages: 1, policy: 'block' });
    await fill(box, 1);
    const waiters = [box.enqueue(small), box.enqueue(small)].map((w) =>
      w.then(
        () => undefined,
        (e: unknown) => e,
      ),
    );
    box.close();
    for (const err of await Promise.all(waiters)) {
      expect(err).toBeInstanceOf(ClosedError);
      expect(err).toMatchObject({ name: 'ClosedError', code: 'LW_ERR_CLOSED', message: 'outbox closed' });
    }
    expect(box.waiting).toBe(0);
    await expect(box.enqueue(small)).rejects.toBeInstanceOf(ClosedError);
    // Held entries stay readable for a final report.
    expect(box.size).toBe(1);
    expect(box.takeNext(1)?.seq).toBe(1);
  });

  it('close(err) rejects with the given error', async () => {
    const box = outbox({ maxMessages: 1 });
    await fill(box, 1);
    const waiter = box.enqueue(small);
    const reason = new ClosedError('session expired');
    box.close(reason);
    await expect(waiter).rejects.toBe(reason);
    await expect(box.enqueue(small)).rejects.toBe(reason);
  });

  it('oldestAgeMs measures the oldest unacked message with the injected clock', async () => {
    let now = 1000;
    const box = outbox({ now: () => now });
    expect(box.oldestAgeMs()).toBe(0);
    await box.enqueue(small);
    now = 1100;
    await box.enqueue(small);
    now = 1250;
    expect(box.oldestAgeMs()).toBe(250);
    expect(box.oldestAgeMs(2000)).toBe(1000);
    box.ack(1);
    expect(box.oldestAgeMs()).toBe(150);
    box.ack(2);
    expect(box.oldestAgeMs()).toBe(0);
  });
});

describe('Outbox: memory', () => {
  const gc = (globalThis as { gc?: () => void }).gc;

  /** Queues and writes one message whose frame is a Buffer, and returns a weak reference to that frame. */
  async function sentBuffer(box: Outbox): Promise<WeakRef<Buffer>> {
    const frame = Buffer.from('x'.repeat(100));
    await box.enqueue(() => ({ frame, bytes: frame.length }));
    box.takeNext(100);
    return new WeakRef(frame);
  }

  it.runIf(gc)(
    'lets go of an acked message at once, not at the next compaction (it would outlive young collections)',
    async () => {
      const box = outbox();
      const acked = await sentBuffer(box);
      const held = await sentBuffer(box);
      box.ack(1);
      // A WeakRef keeps its target until the job that made it ends.
      await flush();
      gc!();
      expect(acked.deref()).toBeUndefined();
      expect(held.deref()).toBeInstanceOf(Buffer);
      expect(box.size).toBe(1);
      box.ack(2);
      expect(box.size).toBe(0);
      expect(await fill(box, 2)).toEqual([
        { seq: 3, status: 'queued' },
        { seq: 4, status: 'queued' },
      ]);
      expect(takeAll(box)).toEqual([3, 4]);
    },
  );
});

describe('Outbox: enqueueData (a payload already serialised)', () => {
  const TP = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';

  it('holds the data frame encodeDataFrame builds for its seq, and resolves the same receipt as enqueue', async () => {
    const box = outbox();
    await box.enqueue(small);
    const json = '{"p":"é"}';
    expect(await box.enqueueData(json, Buffer.byteLength(json), TP)).toEqual({ seq: 2, status: 'queued' });
    box.takeNext(10);
    const entry = box.takeNext(10)!;
    expect({ frame: entry.frame, bytes: entry.bytes }).toEqual(
      encodeDataFrame(2, json, Buffer.byteLength(json), TP),
    );
    expect(box.bytes).toBe(10 + entry.bytes);
  });

  it('waits for room under the block policy, behind producers already waiting, like enqueue', async () => {
    const box = outbox({ maxMessages: 1 });
    await box.enqueue(small);
    const order: string[] = [];
    const a = box.enqueue(small).then((r) => order.push(`enqueue ${r.seq}`));
    const b = box.enqueueData('1', 1, undefined).then((r) => order.push(`enqueueData ${r.seq}`));
    box.ack(1);
    await a;
    box.ack(2);
    await b;
    expect(order).toEqual(['enqueue 2', 'enqueueData 3']);
    expect(takeAll(box)).toEqual([3]);
  });

  it('rejects once the outbox is closed', async () => {
    const box = outbox();
    box.close();
    await expect(box.enqueueData('1', 1, undefined)).rejects.toBeInstanceOf(ClosedError);
  });
});
