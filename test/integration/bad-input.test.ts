import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { Hub } from '../../src/hub/hub.js';
import { CloseCode } from '../../src/protocol/close-codes.js';
import type { Worker } from '../../src/worker/worker.js';
import { nextEvent, recorder, startWorker, TOKEN, waitFor } from '../helpers/fleet.js';

let hub: Hub | undefined;
let workers: Worker[] = [];
const sockets: WebSocket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.terminate();
  await Promise.all(workers.map((w) => w.stop({ timeoutMs: 300 })));
  workers = [];
  await hub?.close({ timeoutMs: 300 });
  hub = undefined;
});

const BOUND = 'bound-token-abcdef';

async function fleet() {
  const rec = recorder();
  hub = await new Hub({
    tokens: [{ token: TOKEN }, { token: BOUND, workerIds: ['victim'] }],
    handler: rec.handler,
    heartbeatIntervalMs: 200,
    maxFrameBytes: 4096,
    handshakeTimeoutMs: 300,
  }).listen();
  const good = startWorker(hub.url, { workerId: 'good' });
  workers.push(good);
  await good.waitConnected();
  return { rec, good, hub };
}

/** A raw client that authenticates and says hello, then lets the test misbehave. */
async function rawClient(url: string, workerId: string, token = TOKEN): Promise<WebSocket> {
  const ws = new WebSocket(url, {
    headers: { authorization: `Bearer ${token}`, 'x-linkwatch-worker-id': workerId },
  });
  sockets.push(ws);
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  ws.send(
    JSON.stringify({ v: 1, t: 'hello', workerId, stream: 's1', peerStream: '', processed: 0, window: 10 }),
  );
  await new Promise<void>((resolve) => ws.once('message', () => resolve()));
  return ws;
}

function closed(ws: WebSocket): Promise<{ code: number; reason: string }> {
  return new Promise((resolve) =>
    ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })),
  );
}

/** The good worker still gets messages through after the bad one was dealt with. */
async function stillFlowing(good: Worker, rec: ReturnType<typeof recorder>) {
  const before = rec.byWorker.get('good')?.length ?? 0;
  for (let i = 0; i < 20; i++) await good.send({ i });
  await waitFor(() => (rec.byWorker.get('good')?.length ?? 0) === before + 20, 3000, 'good worker traffic');
}

describe('bad input closes only the offending link', () => {
  const cases: [string, (ws: WebSocket) => void, number, string][] = [
    ['garbage text', (ws) => ws.send('not json at all {'), CloseCode.invalidData, 'LW_ERR_INVALID_FRAME'],
    [
      // ws validates a text frame's UTF-8 before the codec sees it (the codec does not scan it again).
      'a text frame that is not UTF-8',
      (ws) => ws.send(Buffer.from([0x7b, 0xff, 0x7d]), { binary: false }),
      CloseCode.invalidData,
      'LW_ERR_INVALID_FRAME',
    ],
    [
      'a binary frame',
      (ws) => ws.send(Buffer.from([1, 2, 3])),
      CloseCode.invalidData,
      'LW_ERR_INVALID_FRAME',
    ],
    [
      'an unknown version',
      (ws) => ws.send('{"v":2,"t":"hb"}'),
      CloseCode.protocolError,
      'LW_ERR_UNSUPPORTED_VERSION',
    ],
    ['an unknown type', (ws) => ws.send('{"v":1,"t":"nope"}'), CloseCode.protocolError, 'LW_ERR_PROTOCOL'],
    [
      'a hello after the handshake',
      (ws) =>
        ws.send('{"v":1,"t":"hello","workerId":"x","stream":"s","peerStream":"","processed":0,"window":1}'),
      CloseCode.protocolError,
      'LW_ERR_OUT_OF_ORDER',
    ],
    [
      'an oversized frame',
      (ws) => ws.send(JSON.stringify({ v: 1, t: 'data', seq: 1, p: 'x'.repeat(6_000) })),
      CloseCode.messageTooBig,
      'LW_ERR_FRAME_TOO_LARGE',
    ],
    [
      // Past twice the limit ws itself refuses to buffer it; still counted and closed with 1009.
      'a frame far past the limit',
      (ws) => ws.send(JSON.stringify({ v: 1, t: 'data', seq: 1, p: 'x'.repeat(100_000) })),
      CloseCode.messageTooBig,
      'LW_ERR_FRAME_TOO_LARGE',
    ],
    [
      'an ack for data never sent',
      (ws) => ws.send('{"v":1,"t":"ack","seq":99}'),
      CloseCode.protocolError,
      'LW_ERR_PROTOCOL',
    ],
  ];
  for (const [name, misbehave, code, errorType] of cases) {
    it(`${name}: close ${code}, counted, logged as an event, others keep flowing`, async () => {
      const { rec, good, hub } = await fleet();
      const bad = await rawClient(hub.url, 'bad');
      const rejected = nextEvent(hub, 'frame-rejected', 3000, (e) => e.workerId === 'bad');
      const close = closed(bad);
      misbehave(bad);
      const event = await rejected;
      expect(event.errorType).toBe(errorType);
      expect(event.closeCode).toBe(code);
      const result = await close;
      expect(result.code).toBe(code);
      // ws closes these itself, before a frame reaches the codec: its close carries no reason of ours.
      const wsClosed = name.includes('far past') || name.includes('not UTF-8');
      if (!wsClosed) expect(result.reason.length).toBeGreaterThan(0);
      expect(good.state).toBe('connected');
      await stillFlowing(good, rec);
    });
  }

  it('random frames from many bad clients never disturb a good worker', async () => {
    const { rec, good, hub } = await fleet();
    let rejected = 0;
    hub.on((e) => {
      if (e.type === 'frame-rejected') rejected++;
    });
    const junk = [
      '{',
      '[]',
      'null',
      '{"v":1}',
      '{"v":1,"t":"data","seq":-1,"p":1}',
      '{"v":1,"t":"hb","id":1,"ts":1}',
    ];
    for (let i = 0; i < junk.length; i++) {
      const ws = await rawClient(hub.url, `bad-${i}`);
      const c = closed(ws);
      ws.send(junk[i]!);
      const { code } = await c;
      expect([CloseCode.protocolError, CloseCode.invalidData]).toContain(code);
    }
    expect(rejected).toBe(junk.length);
    await stillFlowing(good, rec);
  });
});

describe('authentication', () => {
  async function upgradeStatus(url: string, headers: Record<string, string>): Promise<number> {
    const ws = new WebSocket(url, { headers });
    sockets.push(ws);
    // terminate() during the handshake reports "closed before the connection was established".
    ws.on('error', () => {});
    return new Promise((resolve) => {
      ws.once('unexpected-response', (req, res) => {
        resolve(res.statusCode ?? 0);
        req.destroy();
      });
      ws.once('open', () => resolve(101));
    });
  }

  it('a bad or missing token gets HTTP 401 and no WebSocket', async () => {
    const { hub, rec, good } = await fleet();
    const failures: string[] = [];
    hub.on((e) => {
      if (e.type === 'auth-failed') failures.push(e.errorType);
    });
    expect(
      await upgradeStatus(hub.url, { authorization: 'Bearer wrong-token-123', 'x-linkwatch-worker-id': 'a' }),
    ).toBe(401);
    expect(await upgradeStatus(hub.url, { 'x-linkwatch-worker-id': 'a' })).toBe(401);
    expect(await upgradeStatus(hub.url, { authorization: `Bearer ${TOKEN}` })).toBe(401);
    expect(failures).toEqual(['LW_ERR_AUTH', 'LW_ERR_AUTH', 'LW_ERR_AUTH']);
    expect(hub.stats.authFailures).toBe(3);
    await stillFlowing(good, rec);
  });

  it('a worker library with a bad token keeps retrying and reports LW_ERR_AUTH', async () => {
    const { hub } = await fleet();
    const w = startWorker(hub.url, { workerId: 'intruder', token: 'wrong-token-xyz' });
    workers.push(w);
    const failed = await nextEvent(w, 'handshake-failed');
    expect(failed.errorType).toBe('LW_ERR_AUTH');
    const retry = await nextEvent(w, 'reconnect-scheduled');
    expect(retry.errorType).toBe('LW_ERR_AUTH');
  });

  it('a token bound to a worker id cannot claim another id (HTTP 403)', async () => {
    const { hub, rec, good } = await fleet();
    expect(
      await upgradeStatus(hub.url, { authorization: `Bearer ${BOUND}`, 'x-linkwatch-worker-id': 'good' }),
    ).toBe(403);
    expect(
      await upgradeStatus(hub.url, { authorization: `Bearer ${BOUND}`, 'x-linkwatch-worker-id': 'victim' }),
    ).toBe(101);
    expect(good.state).toBe('connected');
    await stillFlowing(good, rec);
  });

  it('a hello whose worker id differs from the authenticated one is closed with 1008', async () => {
    const { hub } = await fleet();
    const ws = new WebSocket(hub.url, {
      headers: { authorization: `Bearer ${TOKEN}`, 'x-linkwatch-worker-id': 'me' },
    });
    sockets.push(ws);
    await new Promise((r) => ws.once('open', r));
    const c = closed(ws);
    ws.send(
      JSON.stringify({
        v: 1,
        t: 'hello',
        workerId: 'good',
        stream: 's',
        peerStream: '',
        processed: 0,
        window: 1,
      }),
    );
    expect((await c).code).toBe(CloseCode.policyViolation);
  });

  it('a client that never says hello is closed at the handshake deadline', async () => {
    const { hub } = await fleet();
    const ws = new WebSocket(hub.url, {
      headers: { authorization: `Bearer ${TOKEN}`, 'x-linkwatch-worker-id': 'mute' },
    });
    sockets.push(ws);
    const started = performance.now();
    const { code } = await closed(ws);
    expect(code).toBe(CloseCode.handshakeTimeout);
    expect(performance.now() - started).toBeLessThan(2000);
    expect(hub.stats.handshakeTimeouts).toBe(1);
  });
});

describe('two workers with the same id', () => {
  it('the newest wins; the older link is closed with 4001 and its frames are fenced', async () => {
    const { hub, rec } = await fleet();
    const first = await rawClient(hub.url, 'twin');
    const firstClosed = closed(first);
    const second = startWorker(hub.url, { workerId: 'twin' });
    workers.push(second);
    const { code } = await firstClosed;
    expect(code).toBe(CloseCode.superseded);
    await second.send({ from: 'second' });
    await waitFor(() => rec.byWorker.get('twin')?.length === 1, 3000, 'second twin delivers');
    expect(hub.links().find((l) => l.workerId === 'twin')?.epoch).toBe(2);
  });
});
