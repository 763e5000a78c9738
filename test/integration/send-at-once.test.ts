import net from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Hub } from '../../src/hub/hub.js';
import { IMMEDIATE_WRITES_PER_TURN } from '../../src/link/send-pump.js';
import type { Worker } from '../../src/worker/worker.js';
import { recorder, startHub, startWorker, waitFor } from '../helpers/fleet.js';

/*
 * Issue 11's latency rule on real sockets: a message that finds the link
 * idle is handed to the socket inside send(), the second of a turn of the
 * event loop too (it used to wait for the turn's end), and a burst still
 * leaves in a bounded number of writes.
 */

let hub: Hub | undefined;
let worker: Worker | undefined;
afterEach(async () => {
  vi.restoreAllMocks();
  await worker?.stop({ timeoutMs: 500 });
  await hub?.close({ timeoutMs: 500 });
  worker = undefined;
  hub = undefined;
});

/** The seqs of the data and batch frames in each write net.Socket makes from now on (both sides share the process). */
function socketWrites(): number[][] {
  const writes: number[][] = [];
  const seqsIn = (chunks: unknown[]) => {
    const text = chunks
      .map((c) => (typeof c === 'string' ? c : Buffer.from(c as Buffer).toString('latin1')))
      .join('');
    if (!text.includes('"t":"data"') && !text.includes('"t":"batch"')) return;
    writes.push([...text.matchAll(/"seq":(\d+),"p"/g)].map((m) => Number(m[1])));
  };
  const proto = net.Socket.prototype as unknown as {
    _write(chunk: unknown, encoding: string, cb: () => void): void;
    _writev(chunks: { chunk: unknown }[], cb: () => void): void;
  };
  const write = proto._write;
  const writev = proto._writev;
  vi.spyOn(proto, '_write').mockImplementation(function (this: net.Socket, chunk, encoding, cb) {
    seqsIn([chunk]);
    return write.call(this, chunk, encoding, cb);
  });
  vi.spyOn(proto, '_writev').mockImplementation(function (this: net.Socket, chunks, cb) {
    seqsIn(chunks.map((c) => c.chunk));
    return writev.call(this, chunks, cb);
  });
  return writes;
}

async function connected(): Promise<{ received: ReturnType<typeof recorder> }> {
  const received = recorder();
  hub = await startHub({ handler: received.handler });
  worker = startWorker(hub.url);
  await worker.waitConnected(5000);
  return { received };
}

describe('writing at once', () => {
  it('hands a message that finds the link idle to the socket inside send(), the second of a turn too', async () => {
    const { received } = await connected();
    const writes = socketWrites();
    // Two per turn, each awaited, as a producer on a 1 ms timer sends them at 2,000 msg/s.
    await worker!.send({ n: 1 });
    expect(writes).toEqual([[1]]);
    const second = worker!.send({ n: 2 });
    expect(writes).toEqual([[1], [2]]);
    await second;
    await waitFor(() => received.messages.length === 2, 5000, 'both delivered');
  });

  it(`writes a burst of one turn in at most ${IMMEDIATE_WRITES_PER_TURN} + 1 socket writes, and delivers all of it`, async () => {
    const { received } = await connected();
    const writes = socketWrites();
    const N = 200;
    await Promise.all(Array.from({ length: N }, (_, i) => worker!.send({ i })));
    await waitFor(() => received.messages.length === N, 5000, 'all delivered');
    expect(writes.flat()).toEqual(Array.from({ length: N }, (_, i) => i + 1));
    expect(writes.length).toBeLessThanOrEqual(IMMEDIATE_WRITES_PER_TURN + 1);
    expect(writes.slice(0, IMMEDIATE_WRITES_PER_TURN)).toEqual(
      Array.from({ length: IMMEDIATE_WRITES_PER_TURN }, (_, i) => [i + 1]),
    );
  });
});
