import type { Worker } from './worker.js';

export interface SyntheticTrafficOptions {
  /** Messages per second; 0 sends as fast as backpressure allows. */
  rate: number;
  /** Filler bytes per payload. */
  size: number;
  /** Stop after this many messages, once the hub acked them all; undefined runs until `signal`. */
  count: number | undefined;
  signal: AbortSignal;
}

/**
 * Synthetic traffic, the way a capture source produces it: `rate` messages a
 * second in 10 ms ticks. Each send awaits the outbox, so a slow hub slows
 * the producer (backpressure) instead of growing memory. Rejects when a send
 * does (the worker is stopping). Used by `linkwatch worker` and the demo.
 */
export async function produceSynthetic(worker: Worker, o: SyntheticTrafficOptions): Promise<void> {
  const filler = 'x'.repeat(o.size);
  let n = 0;
  const started = performance.now();
  while (!o.signal.aborted && (o.count === undefined || n < o.count)) {
    // rate 0: as fast as backpressure allows, yielding to I/O every 100 sends.
    const due = o.rate === 0 ? n + 100 : Math.floor(((performance.now() - started) / 1000) * o.rate);
    while (n < due && (o.count === undefined || n < o.count) && !o.signal.aborted) {
      n++;
      await worker.send({ n, ts: Date.now(), data: filler });
    }
    await new Promise((r) => (o.rate === 0 ? setImmediate(r) : setTimeout(r, 10)));
  }
  // With a count, wait for the hub to ack everything before reporting.
  // A worker that stopped by itself (it gave up) will never get them: stop waiting and say why.
  while (o.count !== undefined && !o.signal.aborted && worker.session.outbox.size > 0) {
    if (worker.gaveUp) throw worker.gaveUp;
    if (worker.state === 'stopped') return;
    await new Promise((r) => setTimeout(r, 20));
  }
}
