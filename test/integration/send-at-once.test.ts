import { describe, expect, it } from 'vitest';
import { IMMEDIATE_WRITES_PER_TURN } from '../../src/link/send-pump.js';
import type { Worker } from '../../src/worker/worker.js';
import { linkPerTest, recorder, startHub, startWorker, waitFor } from '../helpers/fleet.js';
import { socketWrites } from '../helpers/socket-writes.js';

/*
 * Issue 11's latency rule on real sockets: a message that finds the link
 * idle is handed to the socket inside send(), the second of a turn of the
 * event loop too (it used to wait for the turn's end), and a burst still
 * leaves in a bounded number of writes.
 */

const link = linkPerTest();

/** The seqs of the data and batch frames in each of these socket writes (see socketWrites). */
function dataSeqs(writes: readonly string[]): number[][] {
  return writes
    .filter((t) => t.includes('"t":"data"') || t.includes('"t":"batch"'))
    .map((t) => [...t.matchAll(/"seq":(\d+),"p"/g)].map((m) => Number(m[1])));
}

async function connected(): Promise<{ received: ReturnType<typeof recorder>; worker: Worker }> {
  const received = recorder();
  link.hub = await startHub({ handler: received.handler });
  const worker = startWorker(link.hub.url);
  link.worker = worker;
  await worker.waitConnected(5000);
  return { received, worker };
}

describe('writing at once', () => {
  it('hands a message that finds the link idle to the socket inside send(), the second of a turn too', async () => {
    const { received, worker } = await connected();
    const writes = socketWrites();
    // Two per turn, each awaited, as a producer on a 1 ms timer sends them at 2,000 msg/s.
    await worker.send({ n: 1 });
    expect(dataSeqs(writes)).toEqual([[1]]);
    const second = worker.send({ n: 2 });
    expect(dataSeqs(writes)).toEqual([[1], [2]]);
    await second;
    await waitFor(() => received.messages.length === 2, 5000, 'both delivered');
  });

  it(`writes a burst of one turn in at most ${IMMEDIATE_WRITES_PER_TURN} + 1 socket writes, and delivers all of it`, async () => {
    const { received, worker } = await connected();
    const writes = socketWrites();
    const N = 200;
    await Promise.all(Array.from({ length: N }, (_, i) => worker.send({ i })));
    await waitFor(() => received.messages.length === N, 5000, 'all delivered');
    const seqs = dataSeqs(writes);
    expect(seqs.flat()).toEqual(Array.from({ length: N }, (_, i) => i + 1));
    expect(seqs.length).toBeLessThanOrEqual(IMMEDIATE_WRITES_PER_TURN + 1);
    expect(seqs.slice(0, IMMEDIATE_WRITES_PER_TURN)).toEqual(
      Array.from({ length: IMMEDIATE_WRITES_PER_TURN }, (_, i) => [i + 1]),
    );
  });
});
