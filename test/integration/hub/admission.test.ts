import { request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import type { Hub } from '../../../src/hub/hub.js';
import type { LinkEvent } from '../../../src/link/events.js';
import { attachWatchdog } from '../../../src/watchdog/attach.js';
import type { Worker } from '../../../src/worker/worker.js';
import { eventually, nextEvent, startHub, startWorker, TOKEN, waitFor } from '../../helpers/fleet.js';

let hub: Hub | undefined;
let worker: Worker | undefined;
const sockets: Socket[] = [];

afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await worker?.stop({ timeoutMs: 200 });
  worker = undefined;
  await hub?.close({ timeoutMs: 500 });
  hub = undefined;
});

function rawUpgrade(port: number, token: string, workerId: string): Socket {
  const s = connect(port, '127.0.0.1');
  s.on('error', () => {});
  s.write(
    `GET / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n' +
      `Authorization: Bearer ${token}\r\nX-Linkwatch-Worker-Id: ${workerId}\r\n\r\n`,
  );
  sockets.push(s);
  return s;
}

/** An upgraded client whose hello names another worker id, and which then stops reading: it never answers the close. */
async function rejectedHelloNeverClosed(hub: Hub): Promise<WebSocket> {
  const ws = new WebSocket(hub.url, {
    headers: { authorization: `Bearer ${TOKEN}`, 'x-linkwatch-worker-id': 'w1' },
  });
  ws.on('error', () => {});
  await new Promise((r) => ws.once('open', r));
  const rejected = nextEvent(hub, 'frame-rejected');
  const hello = { v: 1, t: 'hello', workerId: 'w2', stream: 's', peerStream: '', processed: 0, window: 10 };
  ws.send(JSON.stringify(hello));
  (ws as unknown as { _socket: Socket })._socket.pause();
  expect((await rejected).errorType).toBe('LW_ERR_WORKER_ID_MISMATCH');
  return ws;
}

function firstBytes(s: Socket): Promise<string> {
  return new Promise((resolve) => s.once('data', (d) => resolve(d.toString())));
}

function closed(s: Socket, timeoutMs: number): Promise<number> {
  const start = performance.now();
  s.resume(); // a paused socket never sees the peer's FIN
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`socket still open after ${timeoutMs} ms`)), timeoutMs);
    s.once('close', () => {
      clearTimeout(timer);
      resolve(performance.now() - start);
    });
  });
}

function get(port: number, path: string, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers: { host } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}

describe('the hub protects itself before a link exists', () => {
  it('close({ timeoutMs }) returns by its deadline although a refused (401) client keeps its side open', async () => {
    hub = await startHub({ handler: () => {} });
    const s = rawUpgrade(hub.port, 'wrong-token', 'w1');
    s.on('end', () => {}); // keeps its side open: never ends
    expect(await firstBytes(s)).toMatch(/^HTTP\/1.1 401/);
    const start = performance.now();
    const report = await hub.close({ timeoutMs: 500 });
    expect(performance.now() - start).toBeLessThan(1500);
    expect(report.timedOut).toBe(false);
    await closed(s, 1000);
    hub = undefined;
  });

  it('a rejected hello whose peer never finishes the close is terminated, so close() does not wait on it', async () => {
    hub = await startHub({ handler: () => {} });
    const ws = await rejectedHelloNeverClosed(hub);
    const start = performance.now();
    const report = await hub.close({ timeoutMs: 5000 });
    expect(performance.now() - start).toBeLessThan(2500);
    expect(report.timedOut).toBe(false);
    hub = undefined;
    ws.terminate();
  });

  it('reports timedOut when it had to destroy a socket at the deadline', async () => {
    hub = await startHub({ handler: () => {} });
    const ws = await rejectedHelloNeverClosed(hub);
    const report = await hub.close({ timeoutMs: 100 });
    expect(report.timedOut).toBe(true);
    hub = undefined;
    ws.terminate();
  });

  it('unauthenticated callers leave no trace keyed by what they sent: no session, events without their worker id', async () => {
    hub = await startHub({ handler: () => {} });
    const watchdog = attachWatchdog(hub, { checkIntervalMs: 50 });
    const events: LinkEvent[] = [];
    hub.on((e) => events.push(e), 'lifecycle');
    for (let i = 0; i < 50; i++) {
      const s = rawUpgrade(hub.port, 'bad-token', `attacker-${i}`);
      await firstBytes(s);
    }
    await waitFor(() => hub!.stats.authFailures === 50, 5000, '50 auth failures');
    expect(hub.sessions().size).toBe(0);
    const failed = events.filter((e) => e.type === 'auth-failed');
    expect(failed).toHaveLength(50);
    expect(new Set(failed.map((e) => e.workerId))).toEqual(new Set(['']));
    // The watchdog tracks no link for them either.
    expect(watchdog.stateOf('')).toBeUndefined();
    expect(watchdog.stateOf('attacker-0')).toBeUndefined();
    await watchdog.stop();
  });

  it('closes a connection that sends no request head within handshakeTimeoutMs, and counts it', async () => {
    hub = await startHub({ handler: () => {}, handshakeTimeoutMs: 300 });
    const refused = nextEvent(hub, 'connection-refused');
    const s = connect(hub.port, '127.0.0.1');
    s.on('error', () => {});
    sockets.push(s);
    const ms = await closed(s, 3000);
    expect(ms).toBeLessThan(2000);
    expect((await refused).errorType).toBe('LW_ERR_REQUEST_TIMEOUT');
    expect(hub.stats.requestTimeouts).toBe(1);
  });

  it('caps connections that have not upgraded: the one past maxPreAuthConnections is closed at once, /healthz works again after', async () => {
    hub = await startHub({ handler: () => {}, maxPreAuthConnections: 3, handshakeTimeoutMs: 5000 });
    const idle = [0, 1, 2].map(() => {
      const s = connect(hub!.port, '127.0.0.1');
      s.on('error', () => {});
      sockets.push(s);
      return s;
    });
    await Promise.all(idle.map((s) => new Promise((r) => s.once('connect', r))));
    await waitFor(() => hub!.connectionStats().preAuth === 3, 2000, 'three pre-auth connections');
    const refused = nextEvent(hub, 'connection-refused');
    const extra = connect(hub.port, '127.0.0.1');
    extra.on('error', () => {});
    sockets.push(extra);
    await closed(extra, 2000);
    expect((await refused).errorType).toBe('LW_ERR_CONNECTION_LIMIT');
    expect(hub.stats.connectionsRefused).toBe(1);
    for (const s of idle) s.destroy();
    await eventually(
      async () => (await get(hub!.port, '/healthz', `127.0.0.1:${hub!.port}`)) === 200,
      3000,
      '/healthz to answer once the idle connections are gone',
    );
  });

  it('answers a connect storm past maxConcurrentHandshakes with 503 and Retry-After; the worker waits that long with jitter, then connects', async () => {
    hub = await startHub({ handler: () => {}, maxConcurrentHandshakes: 1, handshakeTimeoutMs: 800 });
    // Holds the only handshake slot: upgraded, never says hello.
    const holder = rawUpgrade(hub.port, TOKEN, 'holder');
    expect(await firstBytes(holder)).toMatch(/^HTTP\/1.1 101/);
    worker = startWorker(hub.url, { workerId: 'w1' }, false);
    const failed = nextEvent(worker, 'handshake-failed');
    const scheduled = nextEvent(worker, 'reconnect-scheduled');
    const connected = nextEvent(worker, 'connected', 5000);
    worker.start();
    expect((await failed).errorType).toBe('LW_ERR_BUSY');
    const delay = (await scheduled).delayMs;
    expect(delay).toBeGreaterThanOrEqual(1000);
    expect(delay).toBeLessThanOrEqual(2000);
    await connected;
    expect(hub.stats.handshakesRefused).toBeGreaterThanOrEqual(1);
  });

  it('answers only loopback Host names while bound to loopback (DNS rebinding)', async () => {
    hub = await startHub({ handler: () => {} });
    const port = hub.port;
    expect(await get(port, '/links', `127.0.0.1:${port}`)).toBe(200);
    expect(await get(port, '/healthz', `localhost:${port}`)).toBe(200);
    expect(await get(port, '/links', `attacker.example:${port}`)).toBe(421);
    expect(await get(port, '/readyz', 'attacker.example')).toBe(421);
  });
});

describe('every rejection before the link is up leaves a trace', () => {
  it('a socket that never says hello: handshake-failed LW_ERR_HANDSHAKE_TIMEOUT, counted', async () => {
    hub = await startHub({ handler: () => {}, handshakeTimeoutMs: 200 });
    const failed = nextEvent(hub, 'handshake-failed');
    rawUpgrade(hub.port, TOKEN, 'w1');
    const e = await failed;
    expect(e.errorType).toBe('LW_ERR_HANDSHAKE_TIMEOUT');
    expect(e.workerId).toBe('w1');
    expect(hub.stats.handshakeTimeouts).toBe(1);
  });

  it('a frame over the limit before hello: frame-rejected LW_ERR_FRAME_TOO_LARGE, counted', async () => {
    hub = await startHub({ handler: () => {}, maxFrameBytes: 1024 });
    const ws = new WebSocket(hub.url, {
      headers: { authorization: `Bearer ${TOKEN}`, 'x-linkwatch-worker-id': 'w1' },
    });
    ws.on('error', () => {});
    await new Promise((r) => ws.once('open', r));
    const rejected = nextEvent(hub, 'frame-rejected');
    const closedWith = new Promise<number>((r) => ws.once('close', (code) => r(code)));
    ws.send('x'.repeat(4096));
    expect((await rejected).errorType).toBe('LW_ERR_FRAME_TOO_LARGE');
    expect(await closedWith).toBe(1009);
    expect(hub.stats.framesRejected).toBe(1);
  });
});
