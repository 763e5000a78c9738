import type { AddressInfo } from 'node:net';
import { afterEach } from 'vitest';
import { type ClientOptions, WebSocket, WebSocketServer } from 'ws';

/**
 * A plain `ws` server and client on loopback, connected, no compression;
 * what tests of the frame-level code in src/link/ write and read through.
 * Every pair is torn down after its test.
 */
export async function openWsPair(
  clientOptions: ClientOptions = {},
): Promise<{ wss: WebSocketServer; server: WebSocket; client: WebSocket }> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
  await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
  const { port } = wss.address() as AddressInfo;
  const serverSide = new Promise<WebSocket>((resolve) => wss.once('connection', resolve));
  const client = new WebSocket(`ws://127.0.0.1:${port}`, { perMessageDeflate: false, ...clientOptions });
  opened.push({ wss, client });
  await new Promise((resolve, reject) => {
    client.once('open', resolve);
    client.once('error', reject);
  });
  return { wss, server: await serverSide, client };
}

const opened: { wss: WebSocketServer; client: WebSocket }[] = [];
afterEach(async () => {
  for (const { wss, client } of opened.splice(0)) {
    client.terminate();
    for (const c of wss.clients) c.terminate();
    await new Promise((resolve) => wss.close(resolve));
  }
});
