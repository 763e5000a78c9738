import { createServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { Worker } from '../../../src/worker/worker.js';
import { REFUSED_MAX_DELAY_MS } from '../../../src/worker/worker.js';
import { nextEvent, startWorker } from '../../helpers/fleet.js';

let worker: Worker | undefined;
afterEach(async () => {
  await worker?.stop({ timeoutMs: 100 });
  worker = undefined;
});

/** A loopback port with nothing listening on it. */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as { port: number };
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

describe('a worker whose hub refuses connections (a hub restarting)', () => {
  it('keeps its reconnect delays at or below 3 s instead of growing them to the backoff cap', async () => {
    const port = await closedPort();
    // Without the cap the second delay would be 0.999 × 500 × 8 = 3,996 ms.
    worker = startWorker(
      `ws://127.0.0.1:${port}`,
      { backoff: { initialDelayMs: 500, multiplier: 8, maxDelayMs: 30_000, random: () => 0.999 } },
      false,
    );
    const delays: number[] = [];
    worker.on((e) => {
      if (e.type === 'reconnect-scheduled') delays.push(e.delayMs);
    });
    const second = nextEvent(worker, 'reconnect-scheduled', 5000, (e) => e.attempt === 2);
    worker.start();
    expect((await second).errorType).toBe('LW_ERR_CONNECT');
    expect(delays[0]).toBe(499);
    expect(delays[1]).toBe(REFUSED_MAX_DELAY_MS);
  });
});
