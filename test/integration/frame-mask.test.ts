import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { Hub } from '../../src/hub/hub.js';
import { parseWorkerOptions } from '../../src/worker/options.js';
import type { Worker } from '../../src/worker/worker.js';
import { startHub, startWorker, TOKEN, waitFor } from '../helpers/fleet.js';

/*
 * The worker's `frameMask` option on real sockets: a tap between worker and
 * hub reads the WebSocket frames the worker sends and checks their masking
 * keys, and the hub's handler gets every message either way.
 */

let hub: Hub | undefined;
let worker: Worker | undefined;
let tap: Tap | undefined;
afterEach(async () => {
  await worker?.stop({ timeoutMs: 500 });
  await hub?.close({ timeoutMs: 500 });
  await tap?.close();
  worker = undefined;
  hub = undefined;
  tap = undefined;
});

interface SentFrame {
  masked: boolean;
  key: Buffer;
  /** The payload as it crossed the wire (still masked when the key is not zero). */
  wire: Buffer;
}

interface Tap {
  url: string;
  /** Client → server WebSocket frames seen so far, after the HTTP upgrade request. */
  frames(): SentFrame[];
  close(): Promise<void>;
}

/** A loopback TCP relay that keeps every byte the worker sends. */
async function startTap(targetPort: number): Promise<Tap> {
  const up: Buffer[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const target = net.connect(targetPort, '127.0.0.1');
    sockets.add(client).add(target);
    client.on('data', (d) => {
      up.push(d);
      target.write(d);
    });
    target.on('data', (d) => client.write(d));
    const end = () => {
      client.destroy();
      target.destroy();
    };
    client.on('close', end).on('error', end);
    target.on('close', end).on('error', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `ws://127.0.0.1:${port}`,
    frames: () => parseClientFrames(Buffer.concat(up)),
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** RFC 6455 §5.2 framing of what follows the upgrade request; a partial last frame is left out. */
function parseClientFrames(bytes: Buffer): SentFrame[] {
  let at = bytes.indexOf('\r\n\r\n');
  if (at < 0) return [];
  at += 4;
  const frames: SentFrame[] = [];
  while (at + 2 <= bytes.length) {
    const masked = (bytes[at + 1]! & 0x80) !== 0;
    let length = bytes[at + 1]! & 0x7f;
    let offset = at + 2;
    if (length === 126) {
      length = bytes.readUInt16BE(offset);
      offset += 2;
    } else if (length === 127) {
      length = Number(bytes.readBigUInt64BE(offset));
      offset += 8;
    }
    const key = masked ? bytes.subarray(offset, offset + 4) : Buffer.alloc(0);
    offset += masked ? 4 : 0;
    if (offset + length > bytes.length) break;
    frames.push({ masked, key, wire: bytes.subarray(offset, offset + length) });
    at = offset + length;
  }
  return frames;
}

async function sendThrough(frameMask: 'random' | 'zero' | undefined): Promise<SentFrame[]> {
  const seen: number[] = [];
  hub = await startHub({ handler: (m) => void seen.push(m.seq) });
  tap = await startTap(hub.port);
  worker = startWorker(tap.url, frameMask ? { frameMask } : {});
  await worker.waitConnected(5000);
  const N = 200;
  for (let i = 0; i < N; i++) await worker.send({ i, pad: 'y'.repeat(i * 97) });
  await waitFor(() => seen.length === N, 5000, 'every message at the handler');
  expect(seen).toEqual(Array.from({ length: N }, (_, i) => i + 1));
  return tap.frames();
}

describe('frameMask', () => {
  it("'zero' (the default) masks every frame with four zero bytes, so the payload crosses the wire as plain JSON", async () => {
    const frames = await sendThrough(undefined);
    expect(frames.length).toBeGreaterThan(5);
    for (const f of frames) {
      expect(f.masked).toBe(true);
      expect([...f.key]).toEqual([0, 0, 0, 0]);
    }
    // The hello, then data: readable on the wire because nothing was XOR-ed.
    expect(JSON.parse(frames[0]!.wire.toString('utf8'))).toMatchObject({ t: 'hello', workerId: 'w1' });
    expect(frames.some((f) => /"t":"(data|batch)"/.test(f.wire.toString('utf8')))).toBe(true);
  });

  it("'random' masks every frame with a fresh key, as RFC 6455 asks of clients", async () => {
    const frames = await sendThrough('random');
    expect(frames.length).toBeGreaterThan(5);
    const keys = new Set(frames.map((f) => f.key.toString('hex')));
    for (const f of frames) expect(f.masked).toBe(true);
    // A zero key from randomFillSync has odds of 2^-32 per frame.
    expect(keys.has('00000000')).toBe(false);
    expect(keys.size).toBe(frames.length);
  });

  it("is checked: anything but random or zero is a TypeError naming the option; 'zero' by default", () => {
    const base = { hubs: ['ws://127.0.0.1:1'], workerId: 'w1', token: TOKEN };
    expect(() => parseWorkerOptions({ ...base, frameMask: 'none' as never })).toThrow(
      new TypeError(`Expected \`frameMask\` to be one of 'random', 'zero', got "none"`),
    );
    expect(parseWorkerOptions(base).frameMask).toBe('zero');
  });
});
