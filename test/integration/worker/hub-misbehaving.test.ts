import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import type { Hub } from '../../../src/hub/hub.js';
import type { Worker } from '../../../src/worker/worker.js';
import { nextEvent, startHub, startWorker, TOKEN, waitFor } from '../../helpers/fleet.js';

let hub: Hub | undefined;
const workers: Worker[] = [];
let fake: WebSocketServer | undefined;

afterEach(async () => {
  await Promise.all(workers.splice(0).map((w) => w.stop({ timeoutMs: 200 })));
  await hub?.close({ timeoutMs: 500 });
  hub = undefined;
  await new Promise<void>((r) => (fake ? fake.close(() => r()) : r()));
  fake = undefined;
});

async function fakeHub(onHello: (ws: import('ws').WebSocket) => void): Promise<string> {
  fake = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  fake.on('connection', (ws) => ws.once('message', () => onHello(ws)));
  await new Promise((r) => fake!.once('listening', r));
  const { port } = fake.address() as { port: number };
  return `ws://127.0.0.1:${port}`;
}

describe('a worker facing a hub that misbehaves', () => {
  it('a welcome with a long non-ASCII version does not crash the worker: it closes with a reason of at most 123 bytes', async () => {
    const closes: { code: number; reason: Buffer }[] = [];
    const url = await fakeHub((ws) => {
      ws.on('close', (code, reason) => closes.push({ code, reason }));
      ws.send(JSON.stringify({ v: 'é'.repeat(200), t: 'welcome' }));
    });
    const w = startWorker(url, {}, false);
    workers.push(w);
    const failed = nextEvent(w, 'handshake-failed');
    w.start();
    expect((await failed).errorType).toMatch(/^LW_ERR_(UNSUPPORTED_VERSION|INVALID_FRAME|PROTOCOL)$/);
    await waitFor(() => closes.length > 0, 3000, 'the fake hub to see the close');
    expect(closes[0]!.code).toBeGreaterThanOrEqual(1002);
    expect(closes[0]!.reason.byteLength).toBeLessThanOrEqual(123);
    // Still a valid UTF-8 string: the cut kept the character boundary.
    expect(Buffer.from(closes[0]!.reason.toString('utf8'), 'utf8').equals(closes[0]!.reason)).toBe(true);
  });
});

describe('the close code the hub sent reaches the worker', () => {
  it('an eviction is LW_ERR_EVICTED on the worker, not a lost connection', async () => {
    hub = await startHub({ handler: () => {} });
    const w = startWorker(hub.url);
    workers.push(w);
    await w.waitConnected();
    const down = nextEvent(w, 'disconnected');
    const rescheduled = nextEvent(w, 'reconnect-scheduled');
    hub.evict('w1', 'test');
    const e = await down;
    expect(e.errorType).toBe('LW_ERR_EVICTED');
    expect(e.closeCode).toBe(4002);
    const scheduled = await rescheduled;
    expect(scheduled.errorType).toBe('LW_ERR_EVICTED');
  });

  it('two processes with the same worker id stop flapping: the superseded one backs off, then gives up with LW_ERR_SUPERSEDED naming the id', async () => {
    hub = await startHub({ handler: () => {} });
    const first = startWorker(hub.url, { maxSupersedes: 3 });
    workers.push(first);
    await first.waitConnected();
    const gaveUp = nextEvent(first, 'gave-up', 10_000);
    const supersededDowns: string[] = [];
    first.on((e) => {
      if (e.type === 'disconnected') supersededDowns.push(e.errorType);
    });
    const second = startWorker(hub.url, { maxSupersedes: 3 });
    workers.push(second);
    const e = await gaveUp;
    expect(e.errorType).toBe('LW_ERR_SUPERSEDED');
    expect(e.reason).toContain('w1');
    expect(supersededDowns.filter((c) => c === 'LW_ERR_SUPERSEDED').length).toBeGreaterThanOrEqual(1);
    await waitFor(() => first.state === 'stopped', 3000, 'the superseded worker to stop');
    expect(first.gaveUp?.code).toBe('LW_ERR_SUPERSEDED');
    await expect(first.send({ x: 1 })).rejects.toMatchObject({ code: 'LW_ERR_SUPERSEDED' });
    // The one left keeps its link.
    await second.waitConnected(3000);
    expect(second.state).toBe('connected');
  });
});

describe('worker options', () => {
  it('a token with a character not allowed in a header is a TypeError naming `token`, without the token', () => {
    const secret = `abc\u0007def-${TOKEN}`;
    expect(() => startWorker('ws://127.0.0.1:1', { token: secret }, false)).toThrow(TypeError);
    try {
      startWorker('ws://127.0.0.1:1', { token: secret }, false);
    } catch (err) {
      expect((err as Error).message).toContain('`token`');
      expect((err as Error).message).not.toContain(TOKEN);
    }
    expect(() => startWorker('ws://127.0.0.1:1', { token: 'tökén-0123456789' }, false)).toThrow(/`token`/);
  });
});
