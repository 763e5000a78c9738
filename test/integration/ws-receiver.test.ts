import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import * as ws from 'ws';
import { reuseReceiverFragments } from '../../src/link/ws-receiver.js';

type Receiver = { _fragments: unknown[]; dataMessage: (cb: unknown) => void };
const receiverOf = (socket: ws.WebSocket): Receiver =>
  (socket as unknown as { _receiver: Receiver })._receiver;

const open: { close(): void }[] = [];
afterEach(() => {
  for (const o of open.splice(0)) o.close();
});

/** A ws server and a client connected to it on loopback; `server` is the server side's socket. */
async function pair(options: { perMessageDeflate?: boolean } = {}) {
  const wss = new ws.WebSocketServer({
    host: '127.0.0.1',
    port: 0,
    perMessageDeflate: options.perMessageDeflate ?? false,
  });
  open.push(wss);
  await once(wss, 'listening');
  const { port } = wss.address() as AddressInfo;
  const client = new ws.WebSocket(`ws://127.0.0.1:${port}`, {
    perMessageDeflate: options.perMessageDeflate ?? false,
  });
  open.push({ close: () => client.terminate() });
  const [server] = (await once(wss, 'connection')) as [ws.WebSocket];
  await once(client, 'open');
  return { server, client };
}

/** Collects the next `n` messages a socket receives, as [data, isBinary]. */
function next(socket: ws.WebSocket, n: number): Promise<[unknown, boolean][]> {
  return new Promise((resolve) => {
    const got: [unknown, boolean][] = [];
    const on = (data: unknown, isBinary: boolean) => {
      got.push([data, isBinary]);
      if (got.length === n) {
        socket.off('message', on);
        resolve(got);
      }
    };
    socket.on('message', on);
  });
}

describe("ws's Receiver keeps its fragment array (reuseReceiverFragments)", () => {
  it('is installed once, and says so', () => {
    expect(reuseReceiverFragments()).toBe(true);
    const installed = (ws as unknown as { Receiver: { prototype: Receiver } }).Receiver.prototype.dataMessage;
    expect(reuseReceiverFragments()).toBe(true);
    expect((ws as unknown as { Receiver: { prototype: Receiver } }).Receiver.prototype.dataMessage).toBe(
      installed,
    );
  });

  it('reads every kind of message as before, into the one array it started with', async () => {
    reuseReceiverFragments();
    const { server, client } = await pair();
    const array = receiverOf(server)._fragments;
    const got = next(server, 5);
    client.send('{"t":"hb","id":1}');
    client.send(Buffer.from([1, 2, 3]));
    // One text message in three frames.
    client.send('{"t":"da', { fin: false });
    client.send('ta","seq', { fin: false });
    client.send('":7}', { fin: true });
    client.send('');
    client.send('x'.repeat(70_000));
    const messages = await got;
    expect(messages.map(([d, binary]) => [binary, (d as Buffer).toString('hex').slice(0, 40)])).toEqual([
      [false, Buffer.from('{"t":"hb","id":1}').toString('hex')],
      [true, '010203'],
      [false, Buffer.from('{"t":"data","seq":7}').toString('hex')],
      [false, ''],
      [false, Buffer.from('x'.repeat(20)).toString('hex')],
    ]);
    expect((messages[4]![0] as Buffer).length).toBe(70_000);
    // The same array, emptied: nothing from these messages is held by it.
    expect(receiverOf(server)._fragments).toBe(array);
    expect(array).toHaveLength(0);
  });

  it('reads compressed messages as before', async () => {
    reuseReceiverFragments();
    const { server, client } = await pair({ perMessageDeflate: true });
    const got = next(server, 3);
    const big = JSON.stringify({ p: 'y'.repeat(5000) });
    client.send(big, { compress: true });
    client.send('small', { compress: true });
    client.send(big, { compress: true });
    const messages = (await got).map(([d]) => (d as Buffer).toString());
    expect(messages).toEqual([big, 'small', big]);
  });

  it("leaves a receiver of binaryType 'fragments' alone: the arrays it handed out stay whole", async () => {
    reuseReceiverFragments();
    const { server, client } = await pair();
    server.binaryType = 'fragments';
    const got = next(server, 2);
    client.send(Buffer.from([1, 2]), { fin: false });
    client.send(Buffer.from([3]), { fin: true });
    client.send(Buffer.from([9]));
    const [a, b] = await got;
    const first = a?.[0];
    const second = b?.[0];
    expect(Array.isArray(first)).toBe(true);
    expect(Buffer.concat(first as Buffer[])).toEqual(Buffer.from([1, 2, 3]));
    expect(Buffer.concat(second as Buffer[])).toEqual(Buffer.from([9]));
    expect(first).not.toBe(second);
  });
});
