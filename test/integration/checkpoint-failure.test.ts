import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CheckpointStore, Hub } from '../../src/hub/hub.js';
import type { LinkEvent } from '../../src/link/events.js';
import { CloseCode } from '../../src/protocol/close-codes.js';
import type { Worker } from '../../src/worker/worker.js';
import { startHub, startWorker, waitFor } from '../helpers/fleet.js';

/*
 * Issue 7 item 2: a CheckpointStore whose commit throws or rejects used to be
 * an unhandled rejection (the work queue dropped the task's promise) and Node
 * exited. Now it is a 'checkpoint-failed' event (logged by linkLogger), the
 * messages it did not record are not acked, and the link closes with 4005 so
 * the worker replays them.
 */

let hub: Hub | undefined;
let worker: Worker | undefined;
const escaped: unknown[] = [];
const onEscaped = (err: unknown) => escaped.push(err);

beforeEach(() => {
  escaped.length = 0;
  process.on('unhandledRejection', onEscaped);
  process.on('uncaughtException', onEscaped);
});
afterEach(async () => {
  await worker?.stop({ timeoutMs: 1000 });
  await hub?.close({ timeoutMs: 1000 });
  worker = undefined;
  hub = undefined;
  process.off('unhandledRejection', onEscaped);
  process.off('uncaughtException', onEscaped);
});

/** A store that fails once, when asked to record `failAt`, by throwing or by rejecting. */
function failingStore(failAt: number, how: 'throw' | 'reject') {
  const recorded = new Map<string, number>();
  let failed = false;
  const store: CheckpointStore = {
    load: (w, s) => recorded.get(`${w}/${s}`),
    commit(w, s, processed) {
      if (!failed && processed === failAt) {
        failed = true;
        if (how === 'throw') throw Object.assign(new Error('disk full'), { code: 'ENOSPC' });
        return Promise.reject(Object.assign(new Error('disk full'), { code: 'ENOSPC' }));
      }
      recorded.set(`${w}/${s}`, processed);
      return how === 'reject' ? Promise.resolve() : undefined;
    },
  };
  return { store, recorded };
}

for (const how of ['throw', 'reject'] as const) {
  it(`a CheckpointStore whose commit ${how}s closes the link with 4005 and is replayed, without crashing the process`, async () => {
    const { store, recorded } = failingStore(5, how);
    const seen = new Map<number, number>();
    hub = await startHub({
      handler: (m) => void seen.set(m.seq, (seen.get(m.seq) ?? 0) + 1),
      checkpoint: store,
      ackBatch: 1,
    });
    const hubEvents: LinkEvent[] = [];
    hub.on((e) => hubEvents.push(e), 'lifecycle');
    worker = startWorker(hub.url);
    const workerEvents: LinkEvent[] = [];
    worker.on((e) => workerEvents.push(e), 'lifecycle');
    await worker.waitConnected(5000);
    // One at a time, so seq 5 is the only completion the failed commit covers.
    for (let i = 1; i <= 10; i++) {
      await worker.send({ i });
      await waitFor(() => seen.has(i), 5000, `seq ${i} handled`);
    }
    await waitFor(
      () => recorded.get(`w1/${worker!.session.stream}`) === 10 && worker!.session.outbox.size === 0,
      5000,
      'every seq recorded and acked',
    );

    expect(escaped).toEqual([]);
    const failedEvents = hubEvents.filter((e) => e.type === 'checkpoint-failed');
    expect(failedEvents).toMatchObject([{ type: 'checkpoint-failed', processed: 5, errorType: 'ENOSPC' }]);
    expect(hub.sessions().get('w1')?.checkpointFailures).toBe(1);
    expect(hubEvents).toContainEqual(
      expect.objectContaining({
        type: 'disconnected',
        errorType: 'LW_ERR_CHECKPOINT_FAILED',
        closeCode: CloseCode.checkpointFailed,
      }),
    );
    expect(workerEvents).toContainEqual(
      expect.objectContaining({ type: 'disconnected', closeCode: CloseCode.checkpointFailed }),
    );
    // Seq 5 was never acked as processed: the worker replayed it and the handler saw it again.
    expect(seen.get(5)).toBe(2);
    expect([...seen.keys()].sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  });
}

describe('without a checkpoint store', () => {
  it('acks what was processed, as before', async () => {
    const seen: number[] = [];
    hub = await startHub({ handler: (m) => void seen.push(m.seq) });
    worker = startWorker(hub.url);
    await worker.waitConnected(5000);
    for (let i = 1; i <= 5; i++) await worker.send({ i });
    await waitFor(() => worker!.session.outbox.size === 0, 5000, 'all acked');
    expect(seen).toEqual([1, 2, 3, 4, 5]);
  });
});
