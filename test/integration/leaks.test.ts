import { describe, expect, it } from 'vitest';
import { ConnectionError } from '../../src/errors.js';
import { Hub } from '../../src/hub/hub.js';
import type { Link } from '../../src/link/link.js';
import { Worker } from '../../src/worker/worker.js';
import { nextEvent, TOKEN, waitFor } from '../helpers/fleet.js';

/** Handles and timers by kind, e.g. { TCPSocketWrap: 2, Timeout: 1 }. */
function resources(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const r of process.getActiveResourcesInfo()) counts[r] = (counts[r] ?? 0) + 1;
  return counts;
}

function heapMiB(): number {
  (globalThis as { gc?: () => void }).gc?.();
  return process.memoryUsage().heapUsed / 2 ** 20;
}

describe('no leaks', () => {
  it('1,000 connect → kill → reconnect cycles return handles and timers to baseline', async () => {
    const baseline = resources();
    const heapBefore = heapMiB();
    let delivered = 0;
    const hub = await new Hub({
      tokens: [{ token: TOKEN }],
      handler: () => {
        delivered++;
      },
      heartbeatIntervalMs: 1000,
    }).listen();
    const worker = new Worker({
      hubs: [hub.url],
      workerId: 'cycler',
      token: TOKEN,
      backoff: { initialDelayMs: 1, maxDelayMs: 2, minUptimeMs: 0 },
    }).start();
    const CYCLES = 1000;
    for (let i = 0; i < CYCLES; i++) {
      await worker.waitConnected(5000);
      await worker.send({ i });
      const down = nextEvent(worker, 'disconnected');
      // Alternate the ways a link dies: the hub terminates it, evicts it, or the worker tears down.
      if (i % 3 === 0)
        // The public view is read-only; the test reaches the link itself to terminate it.
        (hub.linkOf('cycler') as Link | undefined)?.teardown(
          new ConnectionError('LW_ERR_CONNECTION_LOST', 'kill'),
          {
            closeCode: undefined,
          },
        );
      else if (i % 3 === 1) hub.evict('cycler', 'cycle');
      else worker.reconnect(new ConnectionError('LW_ERR_CONNECTION_LOST', 'kill'));
      await down;
    }
    await worker.waitConnected(5000);
    await waitFor(
      () => delivered === CYCLES && worker.session.outbox.size === 0,
      10_000,
      'every cycle delivered',
    );
    expect(worker.status().counters.reconnects).toBe(CYCLES);

    await worker.stop({ timeoutMs: 1000 });
    await hub.close({ timeoutMs: 1000 });
    // Closed sockets release their handles on the next turns of the loop; wait for it, with a deadline.
    const atBaseline = () => {
      const now = resources();
      return Object.keys({ ...now, ...baseline }).every((k) => (now[k] ?? 0) <= (baseline[k] ?? 0));
    };
    await waitFor(
      atBaseline,
      5000,
      () => `baseline ${JSON.stringify(baseline)}, now ${JSON.stringify(resources())}`,
    );
    const growth = heapMiB() - heapBefore;
    console.log(`leak test: ${CYCLES} cycles, heap growth ${growth.toFixed(2)} MiB`);
    expect(growth).toBeLessThan(10);
  }, 120_000);
});
