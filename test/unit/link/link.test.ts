import { afterEach, describe, expect, it, vi } from 'vitest';
import { type LinkEvent, LinkEvents } from '../../../src/link/events.js';
import { FOLLOW_SLACK, LEAD_SLACK } from '../../../src/link/heartbeat.js';
import { LinkHooks } from '../../../src/link/hooks.js';
import {
  HEARTBEAT_FLOOD_LIMIT,
  holdsAcks,
  Link,
  type LinkDown,
  type LinkSettings,
} from '../../../src/link/link.js';
import { IMMEDIATE_WRITES_PER_TURN } from '../../../src/link/send-pump.js';
import { Session } from '../../../src/link/session.js';
import type { Transport } from '../../../src/link/transport.js';
import { CloseCode } from '../../../src/protocol/close-codes.js';
import { DEFAULT_MAX_FRAME_BYTES, decodeFrame, encodeFrame } from '../../../src/protocol/codec.js';
import { BUFFER_FRAME_BYTES } from '../../../src/protocol/data-frames.js';
import type { Frame } from '../../../src/protocol/frames.js';
import { type Message, WorkQueue } from '../../../src/queue/work-queue.js';

/*
 * The Link's send pump and receive path against a fake transport (no I/O):
 * what it writes, frame by frame, and what it does with what it reads.
 */

const TP = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';

/** Records every frame written; `buffered` is what the test says the socket holds. */
class FakeTransport implements Transport {
  frames: Frame[] = [];
  /** What was handed to send(), as it was. */
  raw: (string | Buffer)[] = [];
  sizes: number[] = [];
  buffered = 0;
  /** When set, every write adds its bytes to `buffered` (a peer that never reads). */
  growOnSend = false;
  /** When set, write callbacks wait in `held` until the test calls them (the socket has not flushed). */
  holdWritten = false;
  held: ((err?: Error) => void)[] = [];
  /** Per write: whether it came with a write callback. */
  withCallback: boolean[] = [];
  closed: { code: number; reason: string } | undefined;
  terminated = false;
  /** The frames of each write to the socket: one per send, or all those sent while corked. */
  writes: Frame[][] = [];
  #corked = 0;
  #pending: Frame[] = [];
  /** Like ws's net.Socket under `_socket`: cork() holds writes until the matching uncork(). */
  readonly _socket = {
    cork: () => {
      this.#corked++;
    },
    uncork: () => {
      if (--this.#corked > 0) return;
      if (this.#pending.length > 0) this.writes.push(this.#pending);
      this.#pending = [];
    },
  };
  get bufferedAmount(): number {
    return this.buffered;
  }
  send(data: string | Buffer, options?: { binary: false }, written?: (err?: Error) => void): void {
    // ws would send a Buffer without { binary: false } as a binary frame, which the peer rejects.
    if (typeof data !== 'string' && options?.binary !== false) throw new Error('a Buffer written as binary');
    this.raw.push(data);
    const frame = decodeFrame(data, false, 64 * 1024 * 1024);
    if (this.#corked > 0) this.#pending.push(frame);
    else this.writes.push([frame]);
    this.frames.push(frame);
    this.sizes.push(Buffer.byteLength(data));
    if (this.growOnSend) this.buffered += Buffer.byteLength(data);
    this.withCallback.push(written !== undefined);
    if (written && this.holdWritten) this.held.push(written);
    else written?.();
  }
  close(code: number, reason: string): void {
    this.closed = { code, reason };
  }
  terminate(): void {
    this.terminated = true;
  }
  data(): Frame[] {
    return this.frames.filter((f) => f.t === 'data' || f.t === 'batch');
  }
}

const links: Link[] = [];
afterEach(() => {
  for (const l of links.splice(0)) l.teardown(new Error('test over') as never, { closeCode: undefined });
  vi.useRealTimers();
});

function setup(
  settings: Partial<LinkSettings> = {},
  handler: (m: Message) => void = () => {},
  side: 'worker' | 'hub' = 'worker',
) {
  const events = new LinkEvents();
  const seen: LinkEvent[] = [];
  events.subscribe((e) => seen.push(e));
  const session = new Session({
    side,
    workerId: 'w1',
    events,
    handler,
    hooks: new LinkHooks(),
    createQueue: (options) => new WorkQueue(options),
    outbox: { maxMessages: 10_000, maxBytes: 64 * 1024 * 1024, policy: 'block' },
    queue: { concurrency: 1, capacity: 100, timeoutMs: 10_000 },
    maxFrameBytes: settings.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES,
  });
  session.bindPeerStream('peer-stream');
  const transport = new FakeTransport();
  const downs: LinkDown[] = [];
  const link = new Link(
    transport,
    session,
    {
      heartbeatIntervalMs: 1000,
      heartbeatMisses: 3,
      sendWindow: 1000,
      receiveWindow: 100,
      maxFrameBytes: DEFAULT_MAX_FRAME_BYTES,
      ackDelayMs: 20,
      ackBatch: 64,
      highWatermarkBytes: 1024 * 1024,
      sendStallTimeoutMs: 10_000,
      batch: true,
      ...settings,
    },
    (d) => downs.push(d),
  );
  links.push(link);
  return { session, transport, link, downs, seen };
}

/** Lets process.nextTick (the pump) and promise callbacks run. */
const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('Link: batching on send', () => {
  it('writes each message inside send() while nothing waits, IMMEDIATE_WRITES_PER_TURN of a turn, and the rest of that turn as one batch frame', async () => {
    const { session, transport, link } = setup();
    link.start(0);
    const sends = [];
    for (let i = 1; i <= IMMEDIATE_WRITES_PER_TURN; i++) {
      sends.push(session.send(i));
      // Nothing else waited: it is on the wire before send() returns, the second of the turn too.
      expect(transport.data().map(seqsOf)).toEqual(Array.from({ length: i }, (_, k) => [k + 1]));
    }
    sends.push(session.send({ a: 1 }, TP), session.send('two'), session.send([3], TP));
    expect(transport.data()).toHaveLength(IMMEDIATE_WRITES_PER_TURN);
    await Promise.all(sends);
    await turn();
    const n = IMMEDIATE_WRITES_PER_TURN;
    expect(transport.data().slice(n)).toEqual([
      {
        v: 1,
        t: 'batch',
        m: [
          { seq: n + 1, p: { a: 1 }, tp: TP },
          { seq: n + 2, p: 'two' },
          { seq: n + 3, p: [3], tp: TP },
        ],
      },
    ]);
    expect(session.counters.sent).toBe(n + 3);
  });

  it('writes the second message of a turn inside its send() when the producer awaited the first (no wait for the turn to end)', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'setInterval', 'setImmediate'] });
    const { session, transport, link } = setup();
    link.start(0);
    // A producer that sends two per tick, awaiting each send, as bench/peer.js paces them.
    await session.send({ n: 1 });
    const second = session.send({ n: 2 });
    // Written before send() returned, as its own frame: not held for the turn's end or a timer.
    expect(transport.data()).toEqual([
      { v: 1, t: 'data', seq: 1, p: { n: 1 } },
      { v: 1, t: 'data', seq: 2, p: { n: 2 } },
    ]);
    await second;
  });

  it('starts counting writes afresh each turn: a new turn writes its first messages at once again', async () => {
    const { session, transport, link } = setup();
    link.start(0);
    const first = Array.from({ length: IMMEDIATE_WRITES_PER_TURN + 2 }, (_, i) => session.send(i));
    await Promise.all(first);
    await turn();
    const before = transport.data().length;
    expect(before).toBe(IMMEDIATE_WRITES_PER_TURN + 1);
    void session.send('next turn');
    expect(transport.data()).toHaveLength(before + 1);
  });

  it('writes a lone message as a plain data frame in the same turn, without a timer', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'setInterval'] });
    const { session, transport, link } = setup();
    link.start(0);
    await session.send({ only: true }, TP);
    await turn();
    expect(transport.data()).toEqual([{ v: 1, t: 'data', seq: 1, p: { only: true }, tp: TP }]);
  });

  it('never puts more than the send window in flight, batch or not', async () => {
    const { session, transport, link } = setup({ sendWindow: 3 });
    link.start(0);
    await Promise.all(Array.from({ length: 8 }, (_, i) => session.send(i)));
    await turn();
    // Each of the first three found the link idle; the fourth found the window full.
    expect(transport.data().map(seqsOf)).toEqual([[1], [2], [3]]);
    link.receive(Buffer.from(encodeFrame({ v: 1, t: 'ack', seq: 2 })), false);
    expect(transport.data().map(seqsOf)).toEqual([[1], [2], [3], [4, 5]]);
    link.receive(Buffer.from(encodeFrame({ v: 1, t: 'ack', seq: 5 })), false);
    expect(transport.data().map(seqsOf)).toEqual([[1], [2], [3], [4, 5], [6, 7, 8]]);
    expect(session.outbox.inFlight).toBe(3);
  });

  it('keeps every batch frame within maxFrameBytes, and still sends a message that only fits alone', async () => {
    const max = 4096;
    const { session, transport, link } = setup({ maxFrameBytes: max });
    link.start(0);
    const sizes = [100, 900, 1500, 4000, 100, 2000, 2000, 2000, 50];
    await Promise.all(sizes.map((n) => session.send('x'.repeat(n))));
    await turn();
    expect(transport.data().flatMap(seqsOf)).toEqual(sizes.map((_, i) => i + 1));
    for (const size of transport.sizes) expect(size).toBeLessThanOrEqual(max);
    // The 4,000-byte message filled a frame of its own.
    expect(transport.data().map(seqsOf)).toContainEqual([4]);
  });

  it('writes one data frame per message to a revision-1 peer (batch off)', async () => {
    const { session, transport, link } = setup({ batch: false });
    link.start(0);
    await Promise.all([session.send(1), session.send(2), session.send(3)]);
    await turn();
    expect(transport.data().map((f) => f.t)).toEqual(['data', 'data', 'data']);
  });

  it('past the watermark data waits; the write callback that finds the buffer under half resumes it, and only writes that may leave it past half carry one', () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'setInterval'] });
    const { session, transport, link } = setup({ highWatermarkBytes: 1000 });
    link.start(0);
    transport.growOnSend = true;
    transport.holdWritten = true;
    const heartbeatWrites = transport.withCallback.length;
    const pad = 'x'.repeat(360);
    for (let i = 0; i < 4; i++) void session.send(pad);
    // Each frame is about 400 bytes: 1 leaves the buffer under half the watermark (no callback),
    // 2 past half, 3 past the watermark, so 4 waits.
    expect(transport.data().map(seqsOf)).toEqual([[1], [2], [3]]);
    expect(transport.withCallback.slice(heartbeatWrites)).toEqual([false, true, true]);
    // The socket flushes: its write callback resumes the pump at once (the deadline's poll never ran).
    transport.buffered = 0;
    for (const written of transport.held.splice(0)) written();
    expect(transport.data().map(seqsOf)).toEqual([[1], [2], [3], [4]]);
  });

  it('refuses a traceparent that is not W3C at send(): the peer would reject the frame on every replay', async () => {
    const { session, link } = setup();
    link.start(0);
    await expect(session.send({ a: 1 }, 'not-a-traceparent')).rejects.toThrow(
      new TypeError('Expected `traceparent` to be a W3C traceparent, got string'),
    );
    expect(session.outbox.size).toBe(0);
  });

  it('writes a large message as the bytes the outbox encoded once, and the same bytes on replay', async () => {
    const first = setup();
    first.link.start(0);
    await first.session.send({ pad: 'é'.repeat(BUFFER_FRAME_BYTES) }, TP);
    await turn();
    const written = first.transport.raw.find(Buffer.isBuffer);
    expect(written).toBeInstanceOf(Buffer);
    expect(first.transport.data()).toEqual([
      { v: 1, t: 'data', seq: 1, p: { pad: 'é'.repeat(BUFFER_FRAME_BYTES) }, tp: TP },
    ]);
    // A new link over the same session (a reconnect) replays the very same Buffer.
    first.link.teardown(new Error('cut') as never, { closeCode: undefined });
    const transport = new FakeTransport();
    const again = new Link(transport, first.session, first.link.settings, () => {});
    links.push(again);
    again.start(0);
    expect(transport.raw.filter(Buffer.isBuffer)).toEqual([written]);
    expect(transport.raw.find(Buffer.isBuffer)).toBe(written);
  });

  describe('batch frames of large messages, built in reused buffers', () => {
    const big = (i: number) => ({ i, pad: 'b'.repeat(BUFFER_FRAME_BYTES) });
    /** One turn's burst: the first messages go alone, the rest leave as one batch frame. */
    async function burst(t: ReturnType<typeof setup>, from: number): Promise<Buffer> {
      const n = IMMEDIATE_WRITES_PER_TURN + 3;
      await Promise.all(Array.from({ length: n }, (_, i) => t.session.send(big(from + i))));
      await turn();
      const batch = t.transport.raw.at(-1);
      expect(Buffer.isBuffer(batch) && t.transport.frames.at(-1)?.t).toBe('batch');
      return batch as Buffer;
    }

    it('reuses the buffer of a batch the socket took at once', async () => {
      const t = setup({ heartbeatIntervalMs: 5000 });
      t.link.start(0);
      const first = await burst(t, 0);
      const second = await burst(t, 100);
      expect(second.buffer).toBe(first.buffer);
    });

    it('keeps a batch buffer the socket still holds until its write callback, so its bytes stay as written', async () => {
      const t = setup({ heartbeatIntervalMs: 5000 });
      t.transport.growOnSend = true;
      t.transport.holdWritten = true;
      t.link.start(0);
      const first = await burst(t, 0);
      const expected = t.transport.frames.at(-1);
      const second = await burst(t, 100);
      expect(second.buffer).not.toBe(first.buffer);
      expect(decodeFrame(first, false, DEFAULT_MAX_FRAME_BYTES)).toEqual(expected);
      // Flushed: the socket lets go of both; the next batch reuses one of them.
      t.transport.buffered = 0;
      for (const done of t.transport.held.splice(0)) done();
      t.transport.growOnSend = false;
      const third = await burst(t, 200);
      expect([first.buffer, second.buffer]).toContain(third.buffer);
    });
  });

  it('emits one data-sent event per message of a batch', async () => {
    const first = setup();
    first.link.start(0);
    const n = IMMEDIATE_WRITES_PER_TURN + 3;
    await Promise.all(Array.from({ length: n }, (_, i) => first.session.send(i)));
    await turn();
    expect(first.transport.data().at(-1)?.t).toBe('batch');
    const sent = first.seen.filter((e) => e.type === 'data-sent');
    expect(sent.map((e) => e.type === 'data-sent' && [e.seq, e.replay])).toEqual(
      Array.from({ length: n }, (_, i) => [i + 1, false]),
    );
  });
});

describe('Link: batching on receive', () => {
  it('hands each item of a batch to the queue with its seq and traceparent, and emits per-message events', async () => {
    const handled: number[] = [];
    const { link, seen } = setup({}, (m) => void handled.push(m.seq));
    link.start(0);
    link.receive(
      Buffer.from(
        encodeFrame({
          v: 1,
          t: 'batch',
          m: [
            { seq: 1, p: 'a', tp: TP },
            { seq: 2, p: 'b' },
          ],
        }),
      ),
      false,
    );
    await vi.waitFor(() => expect(handled).toEqual([1, 2]));
    const enqueued = seen.filter((e) => e.type === 'queue-enqueued');
    expect(enqueued.map((e) => e.type === 'queue-enqueued' && [e.seq, e.traceparent])).toEqual([
      [1, TP],
      [2, undefined],
    ]);
    expect(
      seen.filter((e) => e.type === 'data-received').map((e) => e.type === 'data-received' && e.seq),
    ).toEqual([1, 2]);
  });

  it('drops the duplicates of a replayed batch and accepts the rest', async () => {
    const handled: number[] = [];
    const { link, session } = setup({}, (m) => void handled.push(m.seq));
    link.start(0);
    const batch = (seqs: number[]) =>
      Buffer.from(encodeFrame({ v: 1, t: 'batch', m: seqs.map((seq) => ({ seq, p: seq })) }));
    link.receive(batch([1, 2, 3]), false);
    link.receive(batch([2, 3, 4, 5]), false);
    await vi.waitFor(() => expect(handled).toEqual([1, 2, 3, 4, 5]));
    expect(session.counters.duplicates).toBe(2);
    expect(session.counters.received).toBe(5);
  });

  it('a batch that breaks the receive window closes 1008, and the breaking message is not counted as received', () => {
    // The first handler holds its slot, so the rest of the batch stays unprocessed.
    const { link, session, transport, downs } = setup(
      { receiveWindow: 3 },
      () => new Promise<void>(() => {}),
    );
    link.start(0);
    link.receive(
      Buffer.from(encodeFrame({ v: 1, t: 'batch', m: [1, 2, 3, 4].map((seq) => ({ seq, p: seq })) })),
      false,
    );
    expect(downs[0]?.error.code).toBe('LW_ERR_WINDOW_EXCEEDED');
    expect(transport.closed?.code).toBe(CloseCode.policyViolation);
    expect(session.counters.received).toBe(3);
    expect(session.inbox.lastAccepted).toBe(3);
    session.closeQueue('shutdown');
  });
});

describe('Link: acks beyond what was sent (issue 7 item 11)', () => {
  it('start() with a peer processed above anything ever sent closes 1002 and releases nothing', async () => {
    const { session, transport, link, downs } = setup();
    await Promise.all([session.send(1), session.send(2), session.send(3)]);
    expect(link.start(1104)).toBe(0);
    expect(downs[0]?.error.code).toBe('LW_ERR_PROTOCOL');
    expect(transport.closed?.code).toBe(CloseCode.protocolError);
    expect(session.outbox.size).toBe(3);
    expect(session.counters.acked).toBe(0);
  });

  it('an ack above the highest seq written (but below the highest queued) closes 1002 and releases nothing', async () => {
    const { session, transport, link, downs } = setup({ sendWindow: 2 });
    link.start(0);
    await Promise.all([1, 2, 3, 4, 5].map((i) => session.send(i)));
    await turn();
    expect(session.outbox.maxSent).toBe(2);
    link.receive(Buffer.from(encodeFrame({ v: 1, t: 'ack', seq: 4 })), false);
    expect(downs[0]?.error.code).toBe('LW_ERR_PROTOCOL');
    expect(transport.closed?.code).toBe(CloseCode.protocolError);
    expect(session.outbox.size).toBe(5);
    expect(session.counters.acked).toBe(0);
  });
});

/** A peer's heartbeat frame, as bytes off the wire, reporting `sent` messages. */
function heartbeatFrame(id: number, sent: number): Buffer {
  return Buffer.from(
    encodeFrame({ v: 1, t: 'hb', id, ts: Date.now(), progress: { sent, acked: 0, processed: 0, depth: 0 } }),
  );
}

describe('Link: control frames (issue 7 item 7)', () => {
  const hb = (id: number) => heartbeatFrame(id, 0);

  it('closes with 4004 when the peer sends more heartbeats than were due, plus the flood limit', () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'setInterval', 'performance'] });
    const { link, transport, downs } = setup({ heartbeatIntervalMs: 1000 });
    link.start(0);
    for (let id = 1; id <= HEARTBEAT_FLOOD_LIMIT + 5; id++) link.receive(hb(id), false);
    expect(downs[0]?.error.code).toBe('LW_ERR_TOO_MANY_HEARTBEATS');
    expect(transport.closed?.code).toBe(CloseCode.tooManyHeartbeats);
    // One was due at the start, then the limit: the rest got no answer.
    expect(transport.frames.filter((f) => f.t === 'hb-ack')).toHaveLength(HEARTBEAT_FLOOD_LIMIT + 1);
  });

  it('heartbeats that queued behind data and arrive all at once are not a flood', () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'setInterval', 'performance'] });
    const { link, downs } = setup({ heartbeatIntervalMs: 100, heartbeatMisses: 1000 });
    link.start(0);
    vi.advanceTimersByTime(100 * 40);
    for (let id = 1; id <= 41; id++) link.receive(hb(id), false);
    expect(downs).toEqual([]);
  });

  it('a peer heartbeating at twice the agreed rate is caught once its surplus passes the limit', () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'setInterval', 'performance'] });
    const { link, downs } = setup({ heartbeatIntervalMs: 100, heartbeatMisses: 1000 });
    link.start(0);
    let id = 0;
    for (let i = 0; i < 100 && downs.length === 0; i++) {
      link.receive(hb(++id), false);
      vi.advanceTimersByTime(50);
    }
    expect(downs[0]?.error.code).toBe('LW_ERR_TOO_MANY_HEARTBEATS');
    expect(id).toBeGreaterThan(2 * HEARTBEAT_FLOOD_LIMIT - 2);
    expect(id).toBeLessThan(2 * HEARTBEAT_FLOOD_LIMIT + 6);
  });

  it('answers heartbeats at the agreed pace for as long as they come', () => {
    vi.useFakeTimers();
    const { link, downs } = setup({ heartbeatIntervalMs: 100, heartbeatMisses: 1000 });
    link.start(0);
    for (let id = 1; id <= 50; id++) {
      link.receive(hb(id), false);
      vi.advanceTimersByTime(100);
    }
    expect(downs).toEqual([]);
  });

  it('hb-acks written to a socket that never drains arm the send deadline: the link goes after sendStallTimeoutMs', () => {
    vi.useFakeTimers();
    const { link, transport, downs } = setup({
      heartbeatIntervalMs: 10,
      heartbeatMisses: 1_000_000,
      highWatermarkBytes: 200,
      sendStallTimeoutMs: 500,
    });
    link.start(0);
    transport.growOnSend = true;
    let id = 0;
    while (downs.length === 0 && id < 10_000) {
      link.receive(hb(++id), false);
      vi.advanceTimersByTime(10);
    }
    expect(downs[0]?.error.code).toBe('LW_ERR_TRANSPORT_STALLED');
    expect(transport.terminated).toBe(true);
    // Over the watermark after a few frames, then the 500 ms deadline: about 50 more intervals, not unbounded.
    expect(id).toBeLessThan(80);
  });

  it('a control frame that takes the buffer past the hard bound ends the link at once', () => {
    const { link, transport, downs } = setup({ highWatermarkBytes: 100, maxFrameBytes: 1024 });
    link.start(0);
    transport.buffered = 2 * 100 + 1024 + 1;
    link.receive(hb(1), false);
    expect(downs[0]?.error.code).toBe('LW_ERR_TRANSPORT_STALLED');
    expect(transport.terminated).toBe(true);
  });
});

function seqsOf(f: Frame): number[] {
  if (f.t === 'batch') return f.m.map((i) => i.seq);
  if (f.t === 'data') return [f.seq];
  return [];
}

describe('Link: one write per heartbeat exchange (issue 10)', () => {
  const hb = (id: number) => heartbeatFrame(id, 1);
  const data = (seq: number) => Buffer.from(encodeFrame({ v: 1, t: 'data', seq, p: { n: seq } }));
  /**
   * A link of this side with heartbeats every second, under fake timers, its first heartbeat
   * sent and (when `answered`) already answered.
   */
  function started(side: 'hub' | 'worker', answered = true, extra: Partial<LinkSettings> = {}) {
    vi.useFakeTimers({
      toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'performance'],
    });
    const s = setup({ heartbeatIntervalMs: 1000, ...extra }, () => {}, side);
    s.link.start(0);
    if (answered) {
      const first = s.transport.frames[0] as { id: number; ts: number };
      s.link.receive(Buffer.from(encodeFrame({ v: 1, t: 'hb-ack', id: first.id, ts: first.ts })), false);
    }
    return s;
  }

  it("the hub answers a worker's heartbeat with the hb-ack, the pending ack and its own heartbeat in one write", async () => {
    const { link, transport } = started('hub');
    expect(transport.writes.map((w) => w.map((f) => f.t))).toEqual([['hb']]);
    vi.advanceTimersByTime(990);
    link.receive(data(1), false);
    await turn(); // processed: its ack waits ackDelayMs
    expect(transport.writes).toHaveLength(1);
    link.receive(hb(1), false);
    await Promise.resolve(); // answered once the read's frames are handled
    expect(transport.writes.slice(1).map((w) => w.map((f) => f.t))).toEqual([['hb-ack', 'ack', 'hb']]);
    expect(transport.writes[1]![1]).toMatchObject({ t: 'ack', seq: 1 });
    // The ack went early: its timer wrote nothing more.
    vi.advanceTimersByTime(50);
    expect(transport.writes).toHaveLength(2);
  });

  it('data and a heartbeat read together get one answer: the hb-ack, the ack of that data and the hub heartbeat', async () => {
    const { link, transport } = started('hub');
    vi.advanceTimersByTime(1000);
    // One TCP read: ws hands both frames over in one synchronous loop.
    link.receive(data(1), false);
    link.receive(hb(1), false);
    await turn();
    expect(transport.writes.slice(1).map((w) => w.map((f) => f.t))).toEqual([['hb-ack', 'ack', 'hb']]);
  });

  it("a worker's due heartbeat rides with its data: one write holding the data frame and the hb", async () => {
    const { transport, session } = started('worker');
    vi.advanceTimersByTime(300);
    void session.send({ n: 1 }); // under half an interval since the beat: the data goes alone
    await turn();
    vi.advanceTimersByTime(300);
    void session.send({ n: 2 });
    await turn();
    expect(transport.writes.map((w) => w.map((f) => f.t))).toEqual([['hb'], ['data'], ['data', 'hb']]);
    // Its own timer now waits LEAD_SLACK intervals: steady data keeps the beat.
    vi.advanceTimersByTime(1000 * LEAD_SLACK - 1);
    expect(transport.frames.filter((f) => f.t === 'hb')).toHaveLength(2);
    vi.advanceTimersByTime(1);
    expect(transport.frames.filter((f) => f.t === 'hb')).toHaveLength(3);
  });

  it("a burst with a due heartbeat leaves in one write: the first message written inside send(), the rest of the turn's, then the hb", async () => {
    const { transport, session } = started('worker');
    vi.advanceTimersByTime(600);
    void session.send({ n: 1 });
    void session.send({ n: 2 });
    void session.send({ n: 3 });
    await turn();
    const writes = transport.writes.slice(1).map((w) => w.map((f) => f.t));
    expect(writes).toHaveLength(1);
    expect(writes[0]!.at(-1)).toBe('hb');
    expect(transport.frames.filter((f) => f.t === 'data' || f.t === 'batch').length).toBeGreaterThan(0);
  });

  it('a worker keeps its own beat: its answer carries the hb-ack (and a pending ack), not a heartbeat', () => {
    const { link, transport } = started('worker', false);
    vi.advanceTimersByTime(500);
    link.receive(hb(1), false);
    expect(transport.writes.map((w) => w.map((f) => f.t))).toEqual([['hb'], ['hb-ack']]);
    vi.advanceTimersByTime(500);
    expect(transport.writes.map((w) => w.map((f) => f.t))).toEqual([['hb'], ['hb-ack'], ['hb']]);
  });

  it('the hub still beats on its own, FOLLOW_SLACK intervals apart, for a peer that sends no heartbeats', () => {
    vi.useFakeTimers({
      toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'performance'],
    });
    const { link, transport } = setup({ heartbeatIntervalMs: 1000, heartbeatMisses: 100 }, () => {}, 'hub');
    link.start(0);
    vi.advanceTimersByTime(1000 * FOLLOW_SLACK * 4);
    expect(transport.frames.filter((f) => f.t === 'hb')).toHaveLength(5);
  });
});

describe('Link: the ack timer', () => {
  const data = (seq: number) => Buffer.from(encodeFrame({ v: 1, t: 'data', seq, p: { n: seq } }));
  const acks = (t: FakeTransport) => t.frames.flatMap((f) => (f.t === 'ack' ? [f.seq] : []));
  function hub(extra: Partial<LinkSettings> = {}) {
    vi.useFakeTimers({
      toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'performance'],
    });
    const s = setup({ heartbeatIntervalMs: 60_000, ...extra }, () => {}, 'hub');
    s.link.start(0);
    return s;
  }

  it('makes one ack Timeout per link and re-arms it for every later ack period', async () => {
    const { link, transport } = hub();
    const setTimeoutSpy = vi.spyOn(globalThis, 'setTimeout');
    for (let seq = 1; seq <= 5; seq++) {
      link.receive(data(seq), false);
      await Promise.resolve();
      vi.advanceTimersByTime(20);
      expect(acks(transport)).toEqual(Array.from({ length: seq }, (_, i) => i + 1));
    }
    expect(setTimeoutSpy.mock.calls.filter(([, ms]) => ms === 20)).toHaveLength(1);
  });

  it('after an ack sent by count, the pending timer acks nothing, and the next completion waits its full ackDelayMs', async () => {
    const { link, transport } = hub({ ackBatch: 2 });
    link.receive(data(1), false); // t=0: the timer is armed for t=20
    vi.advanceTimersByTime(5);
    link.receive(data(2), false); // two completions: acked at once
    expect(acks(transport)).toEqual([2]);
    vi.advanceTimersByTime(5);
    link.receive(data(3), false); // t=10: re-armed for t=30
    vi.advanceTimersByTime(10);
    expect(acks(transport)).toEqual([2]);
    vi.advanceTimersByTime(9);
    expect(acks(transport)).toEqual([2]);
    vi.advanceTimersByTime(1);
    expect(acks(transport)).toEqual([2, 3]);
    vi.advanceTimersByTime(100);
    expect(acks(transport)).toEqual([2, 3]);
  });

  it('teardown releases the ack timer: a pending ack is never written after the link went down', () => {
    const { link, transport } = hub();
    link.receive(data(1), false);
    link.teardown(new Error('gone') as never, { closeCode: undefined });
    vi.advanceTimersByTime(100);
    expect(acks(transport)).toEqual([]);
  });
});

describe('holdsAcks: which links hold heartbeat answers (revision 3)', () => {
  it('only with a peer of revision 3 or later and a dead deadline of two intervals at least', () => {
    expect(holdsAcks(3, 3)).toBe(true);
    expect(holdsAcks(4, 2)).toBe(true);
    // A held answer comes up to LEAD_SLACK intervals late: one interval of deadline is too short.
    expect(holdsAcks(3, 1)).toBe(false);
    expect(holdsAcks(2, 3)).toBe(false);
    expect(holdsAcks(undefined, 3)).toBe(false);
  });
});
