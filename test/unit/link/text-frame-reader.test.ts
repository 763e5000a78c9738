import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { WebSocket } from 'ws';
import * as ws from 'ws';
import { readTextFramesDirectly } from '../../../src/link/text-frame-reader.js';
import { openWsPair } from '../../helpers/ws-pair.js';

/*
 * The reader must be invisible: for any bytes in any chunking, a Receiver
 * with it emits exactly what ws's own Receiver emits (messages, pings,
 * pongs, the close, errors and their codes), in the same order. The fuzz
 * feeds both the same random streams of every kind of frame, cut at random.
 */

interface FakeReceiver {
  write(chunk: Buffer): boolean;
  on(event: string, listener: (...args: unknown[]) => void): void;
}
const Receiver = (ws as unknown as { Receiver: new (o: object) => FakeReceiver }).Receiver;

const MAX_PAYLOAD = 5000;

/** A seeded PRNG (mulberry32), so a failing case can be rerun. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface FrameSpec {
  fin?: boolean;
  rsv?: number;
  opcode: number;
  payload: Buffer;
  /** Server-bound frames are masked; `mask` overrides the key (or false to leave the bit clear). */
  mask?: Buffer | false;
  /** Force a 64-bit length field. */
  long?: boolean;
}

function encode(f: FrameSpec, toServer: boolean): Buffer {
  const { payload } = f;
  const mask = f.mask === undefined ? (toServer ? randomMask() : false) : f.mask;
  const len = payload.length;
  const ext = f.long || len > 65535 ? 8 : len > 125 ? 2 : 0;
  const head = Buffer.alloc(2 + ext + (mask ? 4 : 0));
  head[0] = (f.fin === false ? 0 : 0x80) | ((f.rsv ?? 0) << 4) | f.opcode;
  head[1] = (mask ? 0x80 : 0) | (ext === 8 ? 127 : ext === 2 ? 126 : len);
  if (ext === 2) head.writeUInt16BE(len, 2);
  if (ext === 8) head.writeBigUInt64BE(BigInt(len), 2);
  const body = Buffer.from(payload);
  if (mask) {
    mask.copy(head, 2 + ext);
    for (let i = 0; i < body.length; i++) body[i] = body[i]! ^ mask[i & 3]!;
  }
  return Buffer.concat([head, body]);
}

let maskRandom = prng(1);
function randomMask(): Buffer {
  // Half of them zero, as a linkwatch worker sends by default.
  if (maskRandom() < 0.5) return Buffer.alloc(4);
  return Buffer.from([0, 1, 2, 3].map(() => Math.floor(maskRandom() * 256)));
}

const TEXTS = ['a', 'é', '€', '😀', '{"v":1}', ' '];
function text(random: () => number, bytes: number): Buffer {
  const parts: string[] = [];
  for (let n = 0; n < bytes; ) {
    const piece = TEXTS[Math.floor(random() * TEXTS.length)]!.repeat(1 + Math.floor(random() * 40));
    parts.push(piece);
    n += Buffer.byteLength(piece);
  }
  return Buffer.from(parts.join(''));
}

function size(random: () => number): number {
  const r = random();
  if (r < 0.6) return Math.floor(random() * 126);
  if (r < 0.9) return 126 + Math.floor(random() * 2000);
  if (r < 0.97) return Math.floor(random() * MAX_PAYLOAD);
  return MAX_PAYLOAD + 1 + Math.floor(random() * 100);
}

type Random = () => number;

/** What a stream is made of, with weights: mostly whole text frames, and every other kind ws handles. */
const KINDS: [weight: number, frames: (random: Random, toServer: boolean) => FrameSpec[]][] = [
  [55, (random) => [{ opcode: 1, payload: text(random, size(random)) }]],
  [6, (random) => [{ opcode: 1, payload: text(random, 126 + Math.floor(random() * 200)) }]],
  [7, (random) => [{ opcode: 2, payload: randomBytes(size(random)) }]],
  [8, (random) => [{ opcode: 9, payload: text(random, Math.floor(random() * 20)) }]],
  [5, () => [{ opcode: 10, payload: Buffer.alloc(0) }]],
  // A fragmented text message, now and then a ping between its fragments.
  [
    7,
    (random) => [
      { opcode: 1, fin: false, payload: text(random, 1 + Math.floor(random() * 300)) },
      ...(random() < 0.5 ? [{ opcode: 9, payload: Buffer.from('p') }] : []),
      { opcode: 0, payload: text(random, Math.floor(random() * 300)) },
    ],
  ],
  // A whole text frame inside a fragmented message: ws closes with 1002.
  [
    2,
    (random) => [
      { opcode: 1, fin: false, payload: text(random, 5) },
      { opcode: 1, payload: text(random, 5) },
    ],
  ],
  // Not UTF-8: a lone continuation byte inside text.
  [
    2,
    (random) => [
      {
        opcode: 1,
        payload: Buffer.concat([text(random, Math.floor(random() * 200)), Buffer.from([0x80, 0x78])]),
      },
    ],
  ],
  // Compressed (RSV1) without the extension, the mask bit on the wrong side, a 64-bit length.
  [1, (random) => [{ opcode: 1, rsv: 4, payload: text(random, 10) }]],
  [
    2,
    (random, toServer) => [
      { opcode: 1, mask: toServer ? false : Buffer.alloc(4), payload: text(random, 10) },
    ],
  ],
  [3, (random) => [{ opcode: 1, long: true, payload: text(random, 20) }]],
  [2, () => [{ opcode: 8, payload: Buffer.concat([Buffer.from([0x03, 0xe8]), Buffer.from('bye')]) }]],
];
// The kinds before the first that breaks the protocol.
const VALID_KINDS = KINDS.slice(0, 6);

function stream(random: Random, toServer: boolean, kinds = KINDS): Buffer[] {
  const total = kinds.reduce((n, [w]) => n + w, 0);
  const frames: Buffer[] = [];
  const count = 1 + Math.floor(random() * 12);
  for (let i = 0; i < count; i++) {
    let pick = random() * total;
    let k = 0;
    while (pick >= kinds[k]![0] && k < kinds.length - 1) pick -= kinds[k++]![0];
    for (const spec of kinds[k]![1](random, toServer)) frames.push(encode(spec, toServer));
  }
  return frames;
}

/** The frames' bytes, cut at random points (or not at all, or at frame boundaries). */
function chunks(random: () => number, frames: Buffer[]): Buffer[] {
  const all = Buffer.concat(frames);
  const r = random();
  if (r < 0.3) return [all];
  if (r < 0.5) return frames;
  const out: Buffer[] = [];
  let at = 0;
  while (at < all.length) {
    const step = 1 + Math.floor(random() * (random() < 0.3 ? 8 : 700));
    out.push(all.subarray(at, at + step));
    at += step;
  }
  return out;
}

type Event = [string, ...unknown[]];

/** Feeds copies of the chunks to a Receiver, with or without the reader, and records what it emits. */
async function run(chunkList: Buffer[], isServer: boolean, direct: boolean, options = {}): Promise<Event[]> {
  const receiver = new Receiver({ isServer, maxPayload: MAX_PAYLOAD, ...options });
  if (direct) expect(readTextFramesDirectly({ _receiver: receiver } as unknown as WebSocket)).toBe(true);
  const events: Event[] = [];
  receiver.on('message', (data, isBinary) =>
    events.push(['message', (data as Buffer).toString('hex'), isBinary]),
  );
  receiver.on('ping', (data) => events.push(['ping', (data as Buffer).toString('hex')]));
  receiver.on('pong', (data) => events.push(['pong', (data as Buffer).toString('hex')]));
  receiver.on('conclude', (code, reason) => events.push(['conclude', code, (reason as Buffer).toString()]));
  receiver.on('error', (err) =>
    events.push(['error', (err as { code: string }).code, (err as Error).message]),
  );
  for (const chunk of chunkList) {
    // Receivers unmask in place: each gets its own copy.
    receiver.write(Buffer.from(chunk));
    events.push(['chunk']);
  }
  // ws emits errors on a later tick, and deferred events one per setImmediate.
  for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
  return events;
}

describe('readTextFramesDirectly', () => {
  it.each([
    ['a server (masked frames, zero and random keys)', true],
    ['a client (unmasked frames)', false],
  ])('emits what ws emits, in order, for 3,000 random streams to %s', async (_, isServer) => {
    const random = prng(isServer ? 11 : 12);
    maskRandom = prng(isServer ? 21 : 22);
    let messages = 0;
    let errors = 0;
    for (let i = 0; i < 3000; i++) {
      const cut = chunks(random, stream(random, isServer));
      const expected = await run(cut, isServer, false);
      const got = await run(cut, isServer, true);
      expect(got, `stream ${i}`).toEqual(expected);
      messages += expected.filter((e) => e[0] === 'message').length;
      errors += expected.filter((e) => e[0] === 'error').length;
    }
    // The streams covered both what the reader reads and what it leaves to ws.
    expect(messages).toBeGreaterThan(5000);
    expect(errors).toBeGreaterThan(300);
  });

  it('leaves everything to ws on a Receiver that defers its events (allowSynchronousEvents: false)', async () => {
    const random = prng(13);
    maskRandom = prng(23);
    // Valid frames only: a Receiver that defers its events throws from a later setImmediate on some
    // broken streams (ws 8.23), with or without the reader.
    for (let i = 0; i < 200; i++) {
      const cut = chunks(random, stream(random, true, VALID_KINDS));
      const options = { allowSynchronousEvents: false };
      expect(await run(cut, true, true, options), `stream ${i}`).toEqual(
        await run(cut, true, false, options),
      );
    }
  });

  it('restores the bytes of a masked frame that is not UTF-8, so ws reads it as sent and closes with 1007', async () => {
    // 0xc1 is never UTF-8; masked with 0x80 it is "A". Read twice unmasked, it would be a message "AAAA".
    const frame = encode({ opcode: 1, payload: Buffer.alloc(4, 0xc1), mask: Buffer.alloc(4, 0x80) }, true);
    const events = await run([frame], true, true);
    expect(events).toEqual([
      ['chunk'],
      ['error', 'WS_ERR_INVALID_UTF8', 'Invalid WebSocket frame: invalid UTF-8 sequence'],
    ]);
  });

  it('leaves a frame to ws when ws holds the first byte of its header from the last chunk', async () => {
    // From its second byte on, this frame and the next read as another whole frame: a text "AA".
    const first = encode(
      { opcode: 1, payload: Buffer.from('Z'), mask: Buffer.from([0x82, 0xc0, 0xc0, 0]) },
      true,
    );
    const second = encode({ opcode: 1, payload: Buffer.from('B'), mask: Buffer.alloc(4) }, true);
    const cut = [first.subarray(0, 1), Buffer.concat([first.subarray(1), second])];
    const events = await run(cut, true, true);
    expect(events).toEqual([
      ['chunk'],
      ['message', Buffer.from('Z').toString('hex'), false],
      ['message', Buffer.from('B').toString('hex'), false],
      ['chunk'],
    ]);
  });

  it('leaves a Receiver that is not shaped as ws 8 expects alone', () => {
    expect(readTextFramesDirectly({} as unknown as WebSocket)).toBe(false);
    expect(readTextFramesDirectly({ _receiver: { write() {} } } as unknown as WebSocket)).toBe(false);
    const receiver = new Receiver({ isServer: true });
    expect(readTextFramesDirectly({ _receiver: receiver } as unknown as WebSocket)).toBe(true);
    // Installed once: a second call finds write() replaced and does nothing.
    expect(readTextFramesDirectly({ _receiver: receiver } as unknown as WebSocket)).toBe(false);
  });
});

describe('readTextFramesDirectly on a real socket', () => {
  it("reads a ws client's text frames, and leaves pings, fragments, binary and the close to ws", async () => {
    const { server, client } = await openWsPair();
    expect(readTextFramesDirectly(server)).toBe(true);
    const got: string[] = [];
    server.on('message', (data, isBinary) => got.push(`${isBinary ? 'bin' : 'text'}:${data.toString()}`));
    server.on('ping', (data) => got.push(`ping:${data.toString()}`));
    const closed = new Promise<number>((resolve) => server.once('close', resolve));

    client.send('one');
    client.ping('p');
    client.send('fr', { fin: false });
    client.send('ag', { fin: true });
    client.send(Buffer.from('bin'), { binary: true });
    client.send('é€😀'.repeat(100));
    client.send('two');
    client.close(4000, 'done');
    expect(await closed).toBe(4000);
    expect(got).toEqual([
      'text:one',
      'ping:p',
      'text:frag',
      'bin:bin',
      `text:${'é€😀'.repeat(100)}`,
      'text:two',
    ]);
  });
});
