import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { WebSocketServer } from 'ws';
import type { Hub } from '../../src/hub/hub.js';
import type { LinkEvent } from '../../src/link/events.js';
import type { Worker } from '../../src/worker/worker.js';
import { startHub, startWorker, waitFor } from '../helpers/fleet.js';
import { socketWrites } from '../helpers/socket-writes.js';

/*
 * Protocol revision 3 on real sockets: a worker answers the hub's heartbeat
 * with its own next one, in one write, and the hub takes the time held off
 * its RTT. A hub of revision 2 is answered at once, as before.
 */

const INTERVAL = 200;
let hub: Hub | undefined;
let worker: Worker | undefined;
let fakeHub: WebSocketServer | undefined;
afterEach(async () => {
  vi.restoreAllMocks();
  await worker?.stop({ timeoutMs: 500 });
  await hub?.close({ timeoutMs: 500 });
  if (fakeHub) {
    for (const c of fakeHub.clients) c.terminate();
    await new Promise((r) => fakeHub!.close(r));
  }
  worker = undefined;
  hub = undefined;
  fakeHub = undefined;
});

/** Frame types in one write, in order ("hb-ack", "hb", ...). */
const typesIn = (text: string) => [...text.matchAll(/"t":"([a-z-]+)"/g)].map((m) => m[1]);

describe('held heartbeat answers (revision 3)', () => {
  it("a worker's answer to the hub's heartbeat leaves with its own next one, and the hub's RTT leaves out the hold", async () => {
    hub = await startHub({ handler: () => {}, heartbeatIntervalMs: INTERVAL, heartbeatMisses: 3 });
    const hubRtts: number[] = [];
    hub.on((e: LinkEvent) => {
      if (e.type === 'heartbeat-rtt') hubRtts.push(e.rttMs);
    });
    worker = startWorker(hub.url);
    await worker.waitConnected(5000);
    const writes = socketWrites();
    await waitFor(() => hubRtts.length >= 6, 5000, 'six of the hub heartbeats answered');
    // The worker's writes that answer a heartbeat: each also carries its own next heartbeat, after the answer.
    const answers = writes.filter((w) => typesIn(w).includes('hb-ack') && w.includes('"held":'));
    expect(answers.length).toBeGreaterThanOrEqual(5);
    for (const w of answers) expect(typesIn(w)).toEqual(['hb-ack', 'hb']);
    // Held for most of an interval, which the hub's RTT does not count.
    const held = answers.map((w) => Number(/"held":(\d+)/.exec(w)![1]));
    expect(Math.max(...held)).toBeGreaterThan(INTERVAL / 2);
    expect(Math.max(...hubRtts)).toBeLessThan(INTERVAL / 2);
    expect(hub.totals().heartbeatsMissed).toBe(0);
    expect(worker.status().counters.heartbeatsMissed).toBe(0);
  });

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
