import { createHook } from 'node:async_hooks';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { type FaultProxy, startFaultProxy } from '../../../src/chaos/fault-proxy.js';

/** A plain TCP echo server on 127.0.0.1 that records what it received and exposes its sockets. */
interface Echo {
  port: number;
  sockets: net.Socket[];
  received: () => string;
  close: () => Promise<void>;
}

/** A client socket that records every byte and how it ended. */
interface Client {
  socket: net.Socket;
  text: () => string;
  bytes: () => number;
  error: NodeJS.ErrnoException | null;
  closed: boolean;
}

const cleanups: Array<() => unknown> = [];

afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

/** Polls `predicate` every 5 ms until it holds; rejects at the deadline. */
async function until(predicate: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!predicate()) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Bounded window used only to show that something does NOT arrive. */
const quiet = (ms = 200) => new Promise((r) => setTimeout(r, ms));

async function startEcho(echo = true): Promise<Echo> {
  const sockets: net.Socket[] = [];
  const chunks: Buffer[] = [];
  const server = net.createServer((s) => {
    sockets.push(s);
    s.on('error', () => {});
    s.on('data', (d: Buffer) => {
      chunks.push(d);
      if (echo) s.write(d);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const result: Echo = {
    port: (server.address() as net.AddressInfo).port,
    sockets,
    received: () => Buffer.concat(chunks).toString(),
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
  cleanups.push(result.close);
  return result;
}

async function proxyTo(port: number): Promise<FaultProxy> {
  const proxy = await startFaultProxy({ targetPort: port });
  cleanups.push(() => proxy.close());
  return proxy;
}

async function connect(port: number): Promise<Client> {
  const socket = net.connect({ host: '127.0.0.1', port });
  const chunks: Buffer[] = [];
  const client: Client = {
    socket,
    text: () => Buffer.concat(chunks).toString(),
    bytes: () => chunks.reduce((n, c) => n + c.length, 0),
    error: null,
    closed: false,
  };
  socket.on('data', (d: Buffer) => chunks.push(d));
  socket.on('error', (e) => {
    client.error = e;
  });
  socket.on('close', () => {
    client.closed = true;
  });
  cleanups.push(() => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  return client;
}

/** Proxy + echo server + one connected client whose server-side socket has been accepted. */
async function setup(echo = true) {
  const target = await startEcho(echo);
  const proxy = await proxyTo(target.port);
  const client = await connect(proxy.port);
  await until(() => target.sockets.length === 1, 'server-side accept');
  const server = target.sockets[0]!;
  const serverText = () => target.received();
  return { target, proxy, client, server, serverText };
}

const isOpen = (s: net.Socket) => !s.destroyed && s.readyState === 'open';

describe('fault proxy', () => {
  it('passes bytes through both ways and reports its address', async () => {
    const { proxy, client, server, serverText } = await setup();
    expect(proxy.url).toBe(`ws://127.0.0.1:${proxy.port}`);
    client.socket.write('hello');
    await until(() => client.text() === 'hello', 'echo');
    expect(serverText()).toBe('hello');
    server.write('|pushed');
    await until(() => client.text() === 'hello|pushed', 'server push');
    expect(proxy.connectionCount).toBe(1);
    expect(proxy.totalConnections).toBe(1);
  });

  it('forwards a graceful close and forgets the connection', async () => {
    const { proxy, client, server } = await setup();
    await proxy.waitForConnections(1);
    client.socket.end();
    await until(() => client.closed && server.destroyed, 'both sides closed');
    await until(() => proxy.connectionCount === 0, 'connectionCount 0');
    expect(client.error).toBeNull();
  });

  it("blackhole('up') drops client→server only and keeps both sockets open", async () => {
    const { proxy, client, server, serverText } = await setup(false);
    proxy.blackhole('up');
    client.socket.write('lost');
    server.write('marker'); // later marker through the other direction
    await until(() => client.text() === 'marker', 'server→client marker');
    await quiet();
    expect(serverText()).toBe('');
    expect(isOpen(client.socket) && isOpen(server)).toBe(true);
    expect(proxy.connectionCount).toBe(1);
  });

  it("blackhole('both') drops both directions; heal restores without replaying dropped bytes", async () => {
    const { proxy, client, server, serverText } = await setup(false);
    proxy.blackhole('both');
    client.socket.write('lost-up');
    server.write('lost-down');
    await quiet(); // bounded window: nothing may arrive either way
    expect(client.text()).toBe('');
    expect(serverText()).toBe('');
    expect(isOpen(client.socket) && isOpen(server)).toBe(true);
    proxy.heal();
    client.socket.write('after-up');
    server.write('after-down');
    // If the bytes had been buffered they would arrive before these, in order.
    await until(() => serverText() === 'after-up', 'healed up');
    await until(() => client.text() === 'after-down', 'healed down');
  });

  it('blackhole applies to connections opened later', async () => {
    const { target, proxy } = await setup(false);
    proxy.blackhole('down');
    const late = await connect(proxy.port);
    await until(() => target.sockets.length === 2, 'second accept');
    late.socket.write('up-ok');
    target.sockets[1]!.write('down-lost');
    await until(() => target.received() === 'up-ok', 'up still flows');
    await quiet();
    expect(late.text()).toBe('');
  });

  it('latency delays every chunk by at least the delay and keeps order', async () => {
    const { proxy, client, server } = await setup();
    proxy.latency(150);
    const t0 = performance.now();
    for (let i = 0; i < 5; i++) server.write(`${i},`);
    await until(() => client.text() === '0,1,2,3,4,', 'delayed chunks');
    expect(performance.now() - t0).toBeGreaterThanOrEqual(149);
    const t1 = performance.now();
    client.socket.write('ping'); // round trip: delayed up and down
    await until(() => client.text().endsWith('ping'), 'echo');
    expect(performance.now() - t1).toBeGreaterThanOrEqual(299);
    proxy.heal();
    const t2 = performance.now();
    client.socket.write('fast');
    await until(() => client.text().endsWith('fast'), 'healed echo');
    expect(performance.now() - t2).toBeLessThan(150);
  });

  it('throttle bounds throughput in both directions and preserves content', async () => {
    const { proxy, client, server, target } = await setup(false);
    proxy.throttle(32 * 1024);
    const down = Buffer.alloc(64 * 1024, 'd');
    down.write('first', 0);
    down.write('last', down.length - 4);
    let t0 = performance.now();
    server.write(down);
    await until(() => client.bytes() === down.length, '64 KiB down', 10_000);
    const downMs = performance.now() - t0;
    expect(downMs).toBeGreaterThanOrEqual(1500);
    expect(downMs).toBeLessThan(6000);
    expect(client.text()).toBe(down.toString());
    t0 = performance.now();
    client.socket.write(Buffer.alloc(16 * 1024, 'u'));
    await until(() => target.received().length === 16 * 1024, '16 KiB up');
    expect(performance.now() - t0).toBeGreaterThanOrEqual(350);
  });

  it('reset aborts with ECONNRESET on the client and closes the server side', async () => {
    const { proxy, client, server } = await setup();
    proxy.reset();
    await until(() => client.closed && server.destroyed, 'both sides closed');
    expect(client.error?.code).toBe('ECONNRESET');
    await until(() => proxy.connectionCount === 0, 'connectionCount 0');
  });

  it('cutMidFrame forwards the first half of the next server chunk, then closes', async () => {
    const { proxy, client, server } = await setup();
    client.socket.write('before');
    await until(() => client.text() === 'before', 'echo before cut');
    proxy.cutMidFrame();
    server.write('0123456789');
    await until(() => client.closed && server.destroyed, 'both sides closed');
    expect(client.text()).toBe('before01234');
  });

  it('refuse resets new connections until turned off; existing ones keep working', async () => {
    const { target, proxy, client } = await setup();
    proxy.refuse(true);
    const refused = net.connect({ host: '127.0.0.1', port: proxy.port });
    const err = await new Promise<NodeJS.ErrnoException | null>((resolve) => {
      refused.once('error', resolve);
      refused.once('close', () => resolve(null));
    });
    expect(err?.code).toBe('ECONNRESET');
    expect(proxy.totalConnections).toBe(1);
    client.socket.write('still');
    await until(() => client.text() === 'still', 'existing connection');
    expect(target.sockets.length).toBe(1);
    proxy.refuse(false);
    const ok = await connect(proxy.port);
    ok.socket.write('ok');
    await until(() => ok.text() === 'ok', 'connection after refuse(false)');
  });

  it('destroys the client when the target refuses, and setTarget affects new connections only', async () => {
    const { proxy, client } = await setup();
    const dead = net.createServer();
    await new Promise<void>((r) => dead.listen(0, '127.0.0.1', r));
    const deadPort = (dead.address() as net.AddressInfo).port;
    await new Promise((r) => dead.close(r));
    proxy.setTarget(deadPort);
    const orphan = await connect(proxy.port);
    await until(() => orphan.closed, 'client destroyed after ECONNREFUSED');
    client.socket.write('old');
    await until(() => client.text() === 'old', 'old connection still on old target');
    const other = await startEcho();
    proxy.setTarget(other.port);
    const fresh = await connect(proxy.port);
    fresh.socket.write('new');
    await until(() => other.received() === 'new', 'new target');
    expect(proxy.totalConnections).toBe(3);
  });

  it('waitForConnections resolves on count and rejects on timeout', async () => {
    const { proxy } = await setup();
    await proxy.waitForConnections(1);
    const two = proxy.waitForConnections(2, 2000);
    await connect(proxy.port);
    await two;
    await expect(proxy.waitForConnections(3, 50)).rejects.toThrow(/3 connections/);
  });

  it('rejects non-loopback targets', async () => {
    await expect(startFaultProxy({ targetPort: 80, targetHost: '10.0.0.1' })).rejects.toThrow(TypeError);
    await expect(startFaultProxy({ targetPort: 80, targetHost: 'example.com' })).rejects.toThrow(TypeError);
  });

  it('close() leaves no extra TCP handles or timers', async () => {
    const count = (match: (r: string) => boolean) => process.getActiveResourcesInfo().filter(match).length;
    const tcp = () => count((r) => r.startsWith('TCP'));
    const timers = () => count((r) => r === 'Timeout');
    // vitest keeps short-lived timers of its own, so the Timeout count alone can hide a leak:
    // also track, by creation stack, every timer the proxy module itself creates.
    const proxyTimers = new Set<number>();
    const hook = createHook({
      init(id, type) {
        if (type === 'Timeout' && /fault-proxy\.ts:/.test(new Error().stack ?? '')) proxyTimers.add(id);
      },
      destroy(id) {
        proxyTimers.delete(id);
      },
    }).enable();
    cleanups.push(() => hook.disable());
    // Handles of earlier tests finish closing asynchronously; start from a clean slate.
    await until(() => tcp() === 0, 'earlier TCP handles to close');
    const target = await startEcho(false);
    const before = { tcp: tcp(), timers: timers() };
    const proxy = await startFaultProxy({ targetPort: target.port });
    const a = await connect(proxy.port);
    const b = await connect(proxy.port);
    await until(() => target.sockets.length === 2, 'server-side accepts');
    proxy.latency(10_000); // longer than every deadline below, so a leaked timer cannot expire in time
    target.sockets[0]!.write('parked');
    target.sockets[1]!.write('parked');
    const pending = proxy.waitForConnections(99, 60_000);
    pending.catch(() => {});
    await until(() => proxyTimers.size === 3, 'two lane timers and one waiter timer');
    await proxy.close();
    await expect(pending).rejects.toThrow(/closed/);
    await until(() => a.closed && b.closed, 'clients closed');
    await until(() => target.sockets.every((s) => s.destroyed), 'server sockets closed');
    await until(() => proxyTimers.size === 0, 'proxy timers destroyed', 1000);
    await until(() => tcp() === before.tcp && timers() <= before.timers, 'handles back to baseline', 2000);
  });
});
