import { describe, expect, it } from 'vitest';
import type { ClientOptions } from 'ws';
import { MAX_DIRECT_BYTES, writeText, zeroMask } from '../../../src/link/text-frames.js';
import { openWsPair } from '../../helpers/ws-pair.js';

/** A ws server and client on loopback; `got` collects what each side received, in order. */
async function pair(clientOptions: ClientOptions = {}) {
  const { server, client } = await openWsPair(clientOptions);
  const got = { server: [] as string[], client: [] as string[], closes: [] as number[] };
  server.on('message', (data, isBinary) => {
    expect(isBinary).toBe(false);
    got.server.push(data.toString());
  });
  client.on('message', (data) => got.client.push(data.toString()));
  server.on('close', (code) => got.closes.push(code));
  client.on('close', (code) => got.closes.push(code));
  return { server, client, got };
}

async function until(check: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!check()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

const bytesOf = (s: string) => Buffer.byteLength(s);

describe('writeText', () => {
  // 7-bit and 16-bit lengths on both sides of 125, and multi-byte UTF-8 (2, 3 and 4 bytes a character).
  const frames = [
    '{"v":1,"t":"data","seq":1,"p":"a"}',
    `{"p":"${'x'.repeat(117)}"}`, // 125 bytes
    `{"p":"${'x'.repeat(118)}"}`, // 126 bytes
    `{"p":"${'é€😀'.repeat(60)}"}`,
    `{"p":"${'y'.repeat(MAX_DIRECT_BYTES - 20)}"}`,
  ];

  it('writes client frames (zero masking key) that the peer reads as sent, in order with ws.send', async () => {
    const { client, got } = await pair({ generateMask: zeroMask });
    expect(bytesOf(frames[1]!)).toBe(125);
    expect(bytesOf(frames[2]!)).toBe(126);
    const sent: string[] = [];
    for (const [i, f] of frames.entries()) {
      expect(writeText(client, f, bytesOf(f))).toBe(true);
      client.send(`via ws ${i}`);
      sent.push(f, `via ws ${i}`);
    }
    await until(() => got.server.length === sent.length, 'every frame');
    expect(got.server).toEqual(sent);
    expect(got.closes).toEqual([]);
  });

  it('writes server frames unmasked', async () => {
    const { server, got } = await pair();
    for (const f of frames) expect(writeText(server, f, bytesOf(f))).toBe(true);
    await until(() => got.client.length === frames.length, 'every frame');
    expect(got.client).toEqual(frames);
  });

  it('counts what it wrote in bufferedAmount while the socket holds it', async () => {
    const { client } = await pair({ generateMask: zeroMask });
    const socket = (client as unknown as { _socket: { cork(): void; uncork(): void } })._socket;
    socket.cork();
    const f = frames[3]!;
    expect(writeText(client, f, bytesOf(f))).toBe(true);
    // 4 bytes of 16-bit length header, 4 of masking key.
    expect(client.bufferedAmount).toBe(bytesOf(f) + 8);
    socket.uncork();
  });

  it('writes nothing and returns false where ws must write, and the link carries on', async () => {
    const random = await pair();
    const f = frames[0]!;
    // A random masking key (frameMask 'random'): ws masks.
    expect(writeText(random.client, f, bytesOf(f))).toBe(false);

    const { client, server, got } = await pair({ generateMask: zeroMask });
    const big = 'z'.repeat(MAX_DIRECT_BYTES);
    expect(writeText(client, big, bytesOf(big))).toBe(false);
    // A byte count that is not the frame's: shorter, longer, and short by one multi-byte character.
    expect(writeText(client, f, bytesOf(f) - 1)).toBe(false);
    expect(writeText(client, f, bytesOf(f) + 1)).toBe(false);
    const multi = frames[3]!;
    expect(writeText(client, multi, bytesOf(multi) - 4)).toBe(false);
    // Not a ws WebSocket at all.
    expect(writeText({ send() {}, bufferedAmount: 0 }, f, bytesOf(f))).toBe(false);
    client.send('after');
    await until(() => got.server.length === 1, 'the frame sent after');
    expect(got.server).toEqual(['after']);

    // Closing: ws owns the socket's last frames.
    server.close(1000, 'bye');
    await until(() => client.readyState !== WebSocket.OPEN, 'the close');
    expect(writeText(client, f, bytesOf(f))).toBe(false);
    await until(() => got.closes.length === 2, 'both closes');
    expect(got.closes).toEqual([1000, 1000]);
    expect(got.server).toEqual(['after']);
  });
});
