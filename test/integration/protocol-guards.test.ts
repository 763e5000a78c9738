import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import type { Hub } from '../../src/hub/hub.js';
import type { LinkEvent } from '../../src/link/events.js';
import { HEARTBEAT_FLOOD_LIMIT } from '../../src/link/link.js';
import { CloseCode } from '../../src/protocol/close-codes.js';
import { type Frame, PROTOCOL_REVISION } from '../../src/protocol/frames.js';
import type { Worker } from '../../src/worker/worker.js';
import { nextEvent, startHub, startWorker, TOKEN, waitFor } from '../helpers/fleet.js';

/*
 * Protocol guards over real sockets on 127.0.0.1: heartbeat floods (issue 7
 * item 7), acks above what was sent (item 11), stream ids (item 10), counters
 * that reconcile (item 20), and a revision-1 peer served without batches.
 */

let hub: Hub | undefined;
let worker: Worker | undefined;
let fakeHub: WebSocketServer | undefined;
const sockets: WebSocket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.terminate();
  await worker?.stop({ timeoutMs: 300 });
  await hub?.close({ timeoutMs: 300 });
  if (fakeHub) {
    for (const c of fakeHub.clients) c.terminate();
    await new Promise((r) => fakeHub!.close(r));
  }
  worker = undefined;
  hub = undefined;
  fakeHub = undefined;
});

/** A raw client that authenticates and says hello (revision 1 unless `rev` is given); resolves with the welcome. */
async function rawClient(
  url: string,
  workerId: string,
  hello: Record<string, unknown> = {},
): Promise<{ ws: WebSocket; welcome: Frame }> {
  const ws = new WebSocket(url, {
    headers: { authorization: `Bearer ${TOKEN}`, 'x-linkwatch-worker-id': workerId },
  });
  sockets.push(ws);
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  ws.send(
    JSON.stringify({
      v: 1,
      t: 'hello',
      workerId,
      stream: 's1',
      peerStream: '',
      processed: 0,
      window: 100,
      ...hello,
    }),
  );
  const welcome = await new Promise<Frame>((resolve) =>
    ws.once('message', (raw) => resolve(JSON.parse(raw.toString()) as Frame)),
  );
  return { ws, welcome };
}

const hbText = (id: number) =>
  JSON.stringify({
    v: 1,
    t: 'hb',
    id,
    ts: Date.now(),
    progress: { sent: 0, acked: 0, processed: 0, depth: 0 },
  });

describe('heartbeat floods (issue 7 item 7)', () => {
  it('a peer that never reads and floods hb is closed with 4004 before the hub buffers its answers', async () => {
    hub = await startHub({ handler: () => {}, heartbeatIntervalMs: 1000 });
    const events: LinkEvent[] = [];
    hub.on((e) => events.push(e), 'lifecycle');
    const { ws } = await rawClient(hub.url, 'flooder', { rev: 2 });
    // Stop reading: from here on, whatever the hub writes piles up in its socket buffers.
    (ws as unknown as { _socket: { pause(): void } })._socket.pause();
    const down = nextEvent(hub, 'disconnected', 5000, (e) => e.workerId === 'flooder');
    for (let id = 1; id <= 5000; id++) ws.send(hbText(id));
    const d = await down;
    expect(d).toMatchObject({
      errorType: 'LW_ERR_TOO_MANY_HEARTBEATS',
      closeCode: CloseCode.tooManyHeartbeats,
    });
    expect(events).toContainEqual(
      expect.objectContaining({
        type: 'frame-rejected',
        errorType: 'LW_ERR_TOO_MANY_HEARTBEATS',
        closeCode: CloseCode.tooManyHeartbeats,
      }),
    );
    expect(hub.linkOf('flooder')).toBeUndefined();
  });

  it('a peer heartbeating at the agreed interval keeps its link', async () => {
    hub = await startHub({ handler: () => {}, heartbeatIntervalMs: 50, heartbeatMisses: 100 });
    const { ws } = await rawClient(hub.url, 'steady', { rev: 2 });
    const acks: number[] = [];
    ws.on('message', (raw) => {
      const f = JSON.parse(raw.toString()) as Frame;
      if (f.t === 'hb-ack') acks.push(f.id);
    });
    for (let id = 1; id <= 2 * HEARTBEAT_FLOOD_LIMIT; id++) {
      ws.send(hbText(id));
      await new Promise((r) => setTimeout(r, 50));
    }
    await waitFor(() => acks.length === 2 * HEARTBEAT_FLOOD_LIMIT, 2000, 'every hb answered');
    expect(hub.linkOf('steady')).toBeDefined();
  });
});

describe('acks above what was sent (issue 7 item 11)', () => {
  /** A hub that welcomes with `processed` and then acks `ackSeq` once data arrives. */
  async function lyingHub(processed: number, window: number): Promise<string> {
    fakeHub = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise<void>((r) => fakeHub!.once('listening', () => r()));
    fakeHub.on('connection', (ws) => {
      ws.once('message', () =>
        ws.send(
          JSON.stringify({
            v: 1,
            t: 'welcome',
            hubId: 'liar',
            stream: 'liar-stream',
            epoch: 1,
            processed,
            heartbeatIntervalMs: 1000,
            heartbeatMisses: 3,
            window,
            maxFrameBytes: 1 << 20,
            rev: 2,
          }),
        ),
      );
    });
    return `ws://127.0.0.1:${(fakeHub.address() as AddressInfo).port}`;
  }

  it('a welcome claiming more processed than the worker ever sent closes 1002 and releases no queued message', async () => {
    const url = await lyingHub(1104, 100);
    worker = startWorker(
      url,
      { backoff: { initialDelayMs: 5000, maxDelayMs: 5000, minUptimeMs: 500 } },
      false,
    );
    for (let i = 0; i < 5; i++) void worker.send({ i });
    const down = nextEvent(worker, 'disconnected', 5000);
    worker.start();
    const d = await down;
    expect(d).toMatchObject({ errorType: 'LW_ERR_PROTOCOL', closeCode: CloseCode.protocolError });
    expect(worker.session.outbox.size).toBe(5);
    expect(worker.status().counters.acked).toBe(0);
  });
});

describe('stream ids (issue 7 item 10)', () => {
  it('a hello whose stream holds a newline is closed with 1007 before it reaches any store', async () => {
    const commits: string[] = [];
    hub = await startHub({
      handler: () => {},
      checkpoint: { load: (_w, s) => void commits.push(s), commit: (_w, s) => void commits.push(s) },
    });
    const ws = new WebSocket(hub.url, {
      headers: { authorization: `Bearer ${TOKEN}`, 'x-linkwatch-worker-id': 'w2' },
    });
    sockets.push(ws);
    await new Promise((r) => ws.once('open', r));
    const close = new Promise<number>((r) => ws.once('close', (code) => r(code)));
    ws.send(
      JSON.stringify({
        v: 1,
        t: 'hello',
        workerId: 'w2',
        stream: 'x\nw1 s 99',
        peerStream: '',
        processed: 0,
        window: 1,
      }),
    );
    expect(await close).toBe(CloseCode.invalidData);
    expect(commits).toEqual([]);
  });
});

describe('frame size limits with batches', () => {
  it('a batch frame over maxFrameBytes is closed with 1009 before it is parsed; a worker with the same limit never sends one', async () => {
    const seen: number[] = [];
    hub = await startHub({ handler: (m) => void seen.push(m.seq), maxFrameBytes: 4096 });
    const { ws } = await rawClient(hub.url, 'big-batch', { rev: 2 });
    const close = new Promise<number>((r) => ws.once('close', (code) => r(code)));
    ws.send(JSON.stringify({ v: 1, t: 'batch', m: [1, 2, 3].map((seq) => ({ seq, p: 'x'.repeat(2000) })) }));
    expect(await close).toBe(CloseCode.messageTooBig);
    expect(seen).toEqual([]);

    worker = startWorker(hub.url, { maxFrameBytes: 4096 });
    await worker.waitConnected(5000);
    const rejected: string[] = [];
    hub.on((e) => {
      if (e.type === 'frame-rejected') rejected.push(e.errorType);
    });
    await Promise.all(
      Array.from({ length: 200 }, (_, i) => worker!.send({ i, pad: 'y'.repeat(i % 3 === 0 ? 3900 : 300) })),
    );
    await waitFor(() => seen.length === 200 && worker!.session.outbox.size === 0, 5000, 'all delivered');
    expect(rejected).toEqual([]);
    expect(hub.linkOf('w1')!.dataFrames.received).toBeLessThan(200);
  });
});

describe('a revision-1 peer', () => {
  it('is served: its data frames are processed and acked, and commands reach it as data frames, never batches', async () => {
    const seen: number[] = [];
    hub = await startHub({ handler: (m) => void seen.push(m.seq), ackBatch: 1 });
    const { ws, welcome } = await rawClient(hub.url, 'old-worker');
    expect(welcome).toMatchObject({ t: 'welcome', rev: PROTOCOL_REVISION });
    const frames: Frame[] = [];
    ws.on('message', (raw) => frames.push(JSON.parse(raw.toString()) as Frame));
    for (let seq = 1; seq <= 3; seq++) ws.send(JSON.stringify({ v: 1, t: 'data', seq, p: { seq } }));
    await waitFor(() => frames.some((f) => f.t === 'ack' && f.seq === 3), 3000, 'ack of seq 3');
    expect(seen).toEqual([1, 2, 3]);
    await Promise.all([1, 2, 3, 4].map((i) => hub!.send('old-worker', { cmd: i })));
    await waitFor(() => frames.filter((f) => f.t === 'data').length === 4, 3000, 'four commands');
    expect(frames.some((f) => f.t === 'batch')).toBe(false);
  });
});

describe('counters reconcile (issue 7 item 20)', () => {
  it('the data frame that breaks the window is not counted as received: received = processed + failed + rejected + queued', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    hub = await startHub({ handler: () => gate, queueCapacity: 4 });
    const { ws } = await rawClient(hub.url, 'overrun', { rev: 2 });
    const close = new Promise<number>((r) => ws.once('close', (code) => r(code)));
    ws.send(JSON.stringify({ v: 1, t: 'batch', m: [1, 2, 3, 4, 5].map((seq) => ({ seq, p: seq })) }));
    expect(await close).toBe(CloseCode.policyViolation);
    const s = hub.sessions().get('overrun')!;
    const reconciles = () =>
      s.counters.received === s.counters.processed + s.counters.failed + s.counters.rejected + s.queue.depth;
    expect(s.counters.received).toBe(4);
    expect(reconciles()).toBe(true);
    release();
    await waitFor(() => s.queue.depth === 0, 3000, 'queue drained');
    expect(s.counters).toMatchObject({ received: 4, processed: 4, failed: 0 });
    expect(reconciles()).toBe(true);
  });

  it('after a run with failures, timeouts and a shutdown, every received message is accounted for', async () => {
    hub = await startHub({
      handlerTimeoutMs: 50,
      handler: (m) => {
        if (m.seq % 7 === 0) throw new Error('bad');
        if (m.seq % 11 === 0) return new Promise(() => {}); // hangs past the deadline
        if (m.seq > 150) return new Promise((r) => setTimeout(r, 20)); // still running at shutdown
      },
    });
    worker = startWorker(hub.url);
    await worker.waitConnected(5000);
    for (let i = 0; i < 200; i++) void worker.send({ i });
    const s = () => hub!.sessions().get('w1')!;
    await waitFor(() => (s()?.counters.received ?? 0) >= 180, 10_000, '180 received');
    await hub.close({ timeoutMs: 50 });
    const c = s().counters;
    expect(c.failed).toBeGreaterThan(0);
    expect(c.received).toBe(c.processed + c.failed + c.rejected + s().queue.depth);
  });
});

describe('a revision-2 hub (held heartbeat answers are revision 3)', () => {
  it('a hub of revision 2 is answered at once, without `held`', async () => {
    fakeHub = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise<void>((r) => fakeHub!.once('listening', () => r()));
    const answered = new Promise<{ frame: Record<string, unknown>; ms: number }>((resolve) => {
      fakeHub!.on('connection', (ws) => {
        ws.once('message', () => {
          ws.send(
            JSON.stringify({
              v: 1,
              t: 'welcome',
              hubId: 'old-hub',
              stream: 'old-stream',
              epoch: 1,
              processed: 0,
              heartbeatIntervalMs: 1000,
              heartbeatMisses: 3,
              window: 100,
              maxFrameBytes: 1 << 20,
              rev: 2,
            }),
          );
          const sentAt = performance.now();
          ws.send(
            JSON.stringify({
              v: 1,
              t: 'hb',
              id: 7,
              ts: Date.now(),
              progress: { sent: 0, acked: 0, processed: 0, depth: 0 },
            }),
          );
          ws.on('message', (raw) => {
            const frame = JSON.parse(raw.toString()) as Record<string, unknown>;
            if (frame.t === 'hb-ack') resolve({ frame, ms: performance.now() - sentAt });
          });
        });
      });
    });
    worker = startWorker(`ws://127.0.0.1:${(fakeHub.address() as AddressInfo).port}`);
    const { frame, ms } = await answered;
    expect(frame).toMatchObject({ t: 'hb-ack', id: 7 });
    expect(frame).not.toHaveProperty('held');
    // At once: the worker's own next heartbeat is an interval (1 s) away.
    expect(ms).toBeLessThan(500);
  });
});
