import { afterEach, describe, expect, it, vi } from 'vitest';
import { DeadlineError, LinkwatchError } from '../../../src/errors.js';
import type { Handler, HandlerContext, Message, WorkQueueOptions } from '../../../src/queue/work-queue.js';
import { WorkQueue } from '../../../src/queue/work-queue.js';

/*
 * Real timers with short deadlines. No test sleeps: each waits for the event it
 * needs (a settle, a start, a promise), and vi.waitFor gives state checks a deadline.
 */

const SHORT = 50;

interface Deferred<T> {
  promise: Promise<T>;
  resolve: (value: T) => void;
  reject: (err: unknown) => void;
}
function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** A map of deferreds created on first use, so a test can wait before or after the event. */
class Events<T> {
  readonly #map = new Map<number, Deferred<T>>();
  of(seq: number): Deferred<T> {
    let d = this.#map.get(seq);
    if (!d) {
      d = deferred<T>();
      this.#map.set(seq, d);
    }
    return d;
  }
  wait(seq: number): Promise<T> {
    return this.of(seq).promise;
  }
}

interface Settled {
  seq: number;
  durationMs: number;
  error: LinkwatchError | undefined;
}

const queues: WorkQueue[] = [];
/** Handlers the test holds open; released after each test so nothing outlives it. */
let releaseAll: (() => void)[] = [];

afterEach(() => {
  for (const release of releaseAll) release();
  releaseAll = [];
  for (const q of queues.splice(0)) q.close();
});

/** Polls a state check until it passes, with a deadline: for state that settles a few microtasks late. */
function until(check: () => void): Promise<void> {
  return vi.waitFor(check, { timeout: 2000, interval: 2 });
}

function msg(seq: number): Message {
  return { workerId: 'w1', stream: 'stream-a', seq, payload: { n: seq } };
}

function setup(options: Partial<WorkQueueOptions> & { handler: Handler }) {
  const settled: Settled[] = [];
  const settledEvents = new Events<Settled>();
  const enqueued: [number, number, string | undefined][] = [];
  const started: [number, number][] = [];
  const q = new WorkQueue({
    concurrency: 1,
    capacity: 100,
    timeoutMs: 10_000,
    onEnqueued: (seq, depth, tp) => enqueued.push([seq, depth, tp]),
    onStarted: (seq, waitMs) => started.push([seq, waitMs]),
    ...options,
    onSettled: (message, startedAt, error) => {
      const s = { seq: message.seq, durationMs: performance.now() - startedAt, error };
      settled.push(s);
      settledEvents.of(message.seq).resolve(s);
    },
  });
  queues.push(q);
  return { q, settled, enqueued, started, settledOf: (seq: number) => settledEvents.wait(seq) };
}

/** A handler whose calls block until the test releases them, one gate per seq. */
function gated(opts: { honourSignal?: boolean } = {}) {
  const gates = new Events<void>();
  const starts = new Events<HandlerContext>();
  let active = 0;
  let maxActive = 0;
  const calls: number[] = [];
  const handler: Handler = async (m, ctx) => {
    calls.push(m.seq);
    active++;
    maxActive = Math.max(maxActive, active);
    starts.of(m.seq).resolve(ctx);
    const gate = gates.wait(m.seq);
    releaseAll.push(() => gates.of(m.seq).resolve());
    try {
      if (opts.honourSignal) {
        await Promise.race([
          gate,
          new Promise<void>((resolve) =>
            ctx.signal.addEventListener('abort', () => resolve(), { once: true }),
          ),
        ]);
      } else {
        await gate;
      }
    } finally {
      active--;
    }
  };
  return {
    handler,
    calls,
    release: (seq: number) => gates.of(seq).resolve(),
    fail: (seq: number, err: unknown) => gates.of(seq).reject(err),
    started: (seq: number) => starts.wait(seq),
    get maxActive() {
      return maxActive;
    },
  };
}

describe('WorkQueue: running items', () => {
  it('runs the handler with the message and reports enqueue, start and success', async () => {
    const seen: Message[] = [];
    const { q, settledOf, enqueued, started } = setup({
      handler: (m, ctx) => {
        seen.push(m);
        expect(ctx.signal).toBeInstanceOf(AbortSignal);
        expect(ctx.signal.aborted).toBe(false);
      },
    });
    expect(q.add(msg(1), 'tp-1')).toBe(true);
    const s = await settledOf(1);
    expect(s.error).toBeUndefined();
    expect(s.durationMs).toBeGreaterThanOrEqual(0);
    expect(seen).toEqual([msg(1)]);
    expect(enqueued).toEqual([[1, 1, 'tp-1']]);
    expect(started.map(([seq]) => seq)).toEqual([1]);
    expect(started[0]![1]).toBeGreaterThanOrEqual(0);
    await until(() => expect(q.depth).toBe(0));
  });

  it('never runs more handlers at once than the concurrency', async () => {
    const g = gated();
    const { q, settledOf, enqueued } = setup({ handler: g.handler, concurrency: 2 });
    for (let seq = 1; seq <= 6; seq++) expect(q.add(msg(seq), undefined)).toBe(true);
    expect(enqueued.map(([seq, depth]) => [seq, depth])).toEqual([
      [1, 1],
      [2, 2],
      [3, 3],
      [4, 4],
      [5, 5],
      [6, 6],
    ]);
    await Promise.all([g.started(1), g.started(2)]);
    expect(q.running).toBe(2);
    expect(q.depth).toBe(6);
    expect(g.calls).toEqual([1, 2]);
    for (let seq = 1; seq <= 6; seq++) {
      g.release(seq);
      await settledOf(seq);
    }
    expect(g.maxActive).toBe(2);
    expect(g.calls).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('starts items in the order they were added', async () => {
    const order: number[] = [];
    const { q, settledOf } = setup({ handler: (m) => void order.push(m.seq), concurrency: 1 });
    for (let seq = 1; seq <= 20; seq++) q.add(msg(seq), undefined);
    await settledOf(20);
    expect(order).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
  });

  it('add returns false at capacity (waiting plus running), and true again once there is room', async () => {
    const g = gated();
    const { q, settledOf, enqueued } = setup({ handler: g.handler, capacity: 3 });
    expect([q.add(msg(1), undefined), q.add(msg(2), undefined), q.add(msg(3), undefined)]).toEqual([
      true,
      true,
      true,
    ]);
    expect(q.capacity).toBe(3);
    expect(q.add(msg(4), undefined)).toBe(false);
    expect(q.depth).toBe(3);
    expect(enqueued.map(([seq]) => seq)).toEqual([1, 2, 3]);
    g.release(1);
    await settledOf(1);
    await until(() => expect(q.depth).toBe(2));
    expect(q.add(msg(4), undefined)).toBe(true);
    expect(q.add(msg(5), undefined)).toBe(false);
    for (const seq of [2, 3, 4]) g.release(seq);
    await settledOf(4);
    expect(g.calls).toEqual([1, 2, 3, 4]);
  });

  it('passes each item through `around` with its traceparent', async () => {
    const trail: string[] = [];
    const { q, settledOf } = setup({
      handler: (m) => void trail.push(`handler ${m.seq}`),
      around: async (m, tp, fn) => {
        trail.push(`before ${m.seq} ${tp}`);
        await fn();
        trail.push(`after ${m.seq}`);
      },
    });
    q.add(msg(1), 'tp-a');
    expect((await settledOf(1)).error).toBeUndefined();
    expect(trail).toEqual(['before 1 tp-a', 'handler 1', 'after 1']);
  });

  it('settles a synchronous handler inside add() when `around` passes the call through (an untraced message)', () => {
    const { q, settled } = setup({ handler: () => {}, around: (_m, _tp, fn) => fn() });
    q.add(msg(1), undefined);
    expect(settled.map((s) => [s.seq, s.error])).toEqual([[1, undefined]]);
  });

  it('hands `around` a promise that rejects when a synchronous handler throws, and settles the item failed', async () => {
    const seen: string[] = [];
    const { q, settledOf } = setup({
      handler: () => {
        throw new TypeError('boom');
      },
      around: (_m, _tp, fn) =>
        fn().catch((err: unknown) => {
          seen.push((err as Error).message);
          throw err;
        }),
    });
    q.add(msg(1), undefined);
    expect((await settledOf(1)).error?.code).toBe('LW_ERR_HANDLER_FAILED');
    expect(seen).toEqual(['boom']);
  });
});

describe('WorkQueue: failures and deadlines', () => {
  it('settles a handler that throws as LW_ERR_HANDLER_FAILED with the cause', async () => {
    const boom = new TypeError('boom');
    const { q, settledOf } = setup({
      handler: (m) => {
        if (m.seq === 1) throw boom; // synchronous throw
        if (m.seq === 2) return Promise.reject(new Error('async boom'));
        if (m.seq === 3) return Promise.reject('a string');
        if (m.seq === 4) return Promise.reject(Object.assign(new Error('reset'), { code: 'ECONNRESET' }));
      },
    });
    for (let seq = 1; seq <= 5; seq++) q.add(msg(seq), undefined);
    const [s1, s2, s3, s4, s5] = await Promise.all([1, 2, 3, 4, 5].map(settledOf));
    expect(s1!.error).toBeInstanceOf(LinkwatchError);
    expect(s1!.error).toMatchObject({ code: 'LW_ERR_HANDLER_FAILED', message: 'handler failed: TypeError' });
    expect(s1!.error!.cause).toBe(boom);
    expect(s2!.error).toMatchObject({ code: 'LW_ERR_HANDLER_FAILED', message: 'handler failed: Error' });
    expect(s3!.error).toMatchObject({ code: 'LW_ERR_HANDLER_FAILED', message: 'handler failed: unknown' });
    expect(s3!.error!.cause).toBe('a string');
    expect(s4!.error).toMatchObject({ code: 'LW_ERR_HANDLER_FAILED', message: 'handler failed: ECONNRESET' });
    expect(s5!.error).toBeUndefined();
  });

  it('passes a LinkwatchError thrown by the handler through unchanged', async () => {
    const own = new LinkwatchError('LW_ERR_CLOSED', 'gone');
    const { q, settledOf } = setup({
      handler: () => {
        throw own;
      },
    });
    q.add(msg(1), undefined);
    expect((await settledOf(1)).error).toBe(own);
  });

  it('settles an item past its deadline as LW_ERR_HANDLER_TIMEOUT and frees its slot', async () => {
    const g = gated(); // ignores its signal: a truly hung handler
    const { q, settledOf } = setup({
      handler: (m, ctx) => (m.seq === 1 ? g.handler(m, ctx) : undefined),
      timeoutMs: SHORT,
    });
    q.add(msg(1), undefined);
    q.add(msg(2), undefined);
    const s1 = await settledOf(1);
    expect(s1.error).toBeInstanceOf(DeadlineError);
    expect(s1.error).toMatchObject({
      name: 'DeadlineError',
      code: 'LW_ERR_HANDLER_TIMEOUT',
      timeoutMs: SHORT,
      message: `handler for w1 seq 1 ran past ${SHORT} ms`,
    });
    // Timers can fire a fraction of a millisecond "early" against performance.now().
    expect(s1.durationMs).toBeGreaterThanOrEqual(SHORT - 2);
    // The hung handler no longer holds the only slot: item 2 runs and succeeds.
    expect((await settledOf(2)).error).toBeUndefined();
    expect(q.hung).toBe(1);
    await until(() => expect(q.depth).toBe(0));
    g.release(1);
    await until(() => expect(q.hung).toBe(0));
  });

  it('a queue full of hung handlers keeps draining at one deadline per slot', async () => {
    const g = gated();
    const { q, settledOf, settled } = setup({ handler: g.handler, timeoutMs: SHORT, concurrency: 2 });
    for (let seq = 1; seq <= 6; seq++) q.add(msg(seq), undefined);
    await Promise.all([1, 2, 3, 4, 5, 6].map(settledOf));
    expect(settled.map((s) => s.error?.code)).toEqual(Array(6).fill('LW_ERR_HANDLER_TIMEOUT'));
    expect(q.hung).toBe(6);
    await until(() => expect(q.depth).toBe(0));
    for (let seq = 1; seq <= 6; seq++) g.release(seq);
    await until(() => expect(q.hung).toBe(0));
  });

  it('aborts the handler signal with the DeadlineError on timeout', async () => {
    const g = gated();
    const { q, settledOf } = setup({ handler: g.handler, timeoutMs: SHORT });
    q.add(msg(1), undefined);
    const ctx = await g.started(1);
    expect(ctx.signal.aborted).toBe(false);
    const s = await settledOf(1);
    expect(ctx.signal.aborted).toBe(true);
    expect(ctx.signal.reason).toBe(s.error);
  });

  it('a handler that stops on abort is still settled as a timeout, and is not left counted as hung', async () => {
    const g = gated({ honourSignal: true });
    const { q, settledOf } = setup({ handler: g.handler, timeoutMs: SHORT });
    q.add(msg(1), undefined);
    expect((await settledOf(1)).error?.code).toBe('LW_ERR_HANDLER_TIMEOUT');
    await until(() => expect(q.hung).toBe(0));
  });

  it('calls onSettled exactly once per item, also when a timed-out handler finishes later', async () => {
    const late = new Events<void>();
    const { q, settled, settledOf } = setup({
      timeoutMs: SHORT,
      concurrency: 4,
      handler: async (m) => {
        switch (m.seq % 4) {
          case 0:
            return;
          case 1:
            throw new Error('fails');
          case 2: // times out, then resolves
            await late.wait(m.seq);
            return;
          default: // times out, then rejects
            await late.wait(m.seq);
            throw new Error('late failure');
        }
      },
    });
    const seqs = Array.from({ length: 16 }, (_, i) => i + 1);
    for (const seq of seqs) q.add(msg(seq), undefined);
    await Promise.all(seqs.map(settledOf));
    for (const seq of seqs) late.of(seq).resolve();
    await until(() => expect(q.hung).toBe(0));
    await expect(q.idle(1000)).resolves.toBe(true);
    const counts = new Map<number, number>();
    for (const s of settled) counts.set(s.seq, (counts.get(s.seq) ?? 0) + 1);
    expect([...counts.keys()].sort((a, b) => a - b)).toEqual(seqs);
    expect([...counts.values()].every((c) => c === 1)).toBe(true);
    const codeOf = (seq: number) => settled.find((s) => s.seq === seq)?.error?.code;
    expect(seqs.map(codeOf)).toEqual(
      seqs.map(
        (seq) =>
          [undefined, 'LW_ERR_HANDLER_FAILED', 'LW_ERR_HANDLER_TIMEOUT', 'LW_ERR_HANDLER_TIMEOUT'][seq % 4],
      ),
    );
  });
});

describe('WorkQueue: idle and close', () => {
  it('idle() is true at once when nothing is queued', async () => {
    const { q } = setup({ handler: () => undefined });
    await expect(q.idle(0)).resolves.toBe(true);
  });

  it('idle(timeout) is false when work is stuck, and true once it drains', async () => {
    const g = gated();
    const { q } = setup({ handler: g.handler, timeoutMs: 10_000 });
    q.add(msg(1), undefined);
    q.add(msg(2), undefined);
    await g.started(1);
    const t = performance.now();
    await expect(q.idle(SHORT)).resolves.toBe(false);
    expect(performance.now() - t).toBeGreaterThanOrEqual(SHORT - 2);
    expect(q.depth).toBe(2);
    const drained = q.idle(5000);
    g.release(1);
    g.release(2);
    await expect(drained).resolves.toBe(true);
    expect(q.depth).toBe(0);
  });

  it('close() aborts running handlers, drops waiting ones and returns how many it dropped', async () => {
    const g = gated();
    const { q, settledOf, settled } = setup({
      handler: async (m, ctx) => {
        const aborted = new Promise((_, reject) =>
          ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason), { once: true }),
        );
        await Promise.race([aborted, g.handler(m, ctx)]);
      },
      concurrency: 2,
    });
    for (let seq = 1; seq <= 5; seq++) q.add(msg(seq), undefined);
    const [c1, c2] = await Promise.all([g.started(1), g.started(2)]);
    expect(q.close()).toBe(3);
    for (const ctx of [c1!, c2!]) {
      expect(ctx.signal.aborted).toBe(true);
      expect(ctx.signal.reason).toBeInstanceOf(LinkwatchError);
      expect(ctx.signal.reason).toMatchObject({ code: 'LW_ERR_CLOSED', message: 'work queue closed' });
    }
    const [s1, s2] = await Promise.all([settledOf(1), settledOf(2)]);
    expect(s1!.error?.code).toBe('LW_ERR_CLOSED');
    expect(s2!.error?.code).toBe('LW_ERR_CLOSED');
    await expect(q.idle(1000)).resolves.toBe(true);
    // Dropped items never start and never settle; close()'s return value accounts for them.
    expect(g.calls).toEqual([1, 2]);
    expect(settled.map((s) => s.seq).sort()).toEqual([1, 2]);
    expect(q.depth).toBe(0);
  });

  it('close() on an idle queue drops nothing', async () => {
    const { q } = setup({ handler: () => undefined });
    expect(q.close()).toBe(0);
  });

  it('close() leaves no unhandled rejection for the dropped items', async () => {
    const g = gated();
    const { q } = setup({ handler: g.handler });
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      for (let seq = 1; seq <= 4; seq++) q.add(msg(seq), undefined);
      await g.started(1);
      expect(q.close()).toBe(3);
      g.release(1);
      await expect(q.idle(1000)).resolves.toBe(true);
      // Unhandled rejections are reported after the microtask queue drains; give it one macrotask.
      await new Promise((resolve) => setImmediate(resolve));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });
});

describe('WorkQueue: cost per item', () => {
  it('arms one deadline timer per concurrency slot, not one per item', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval'] });
    try {
      let handled = 0;
      const { q } = setup({ handler: () => void handled++, concurrency: 2, capacity: 1000 });
      for (let seq = 1; seq <= 1000; seq++) q.add(msg(seq), undefined);
      await vi.waitFor(() => expect(handled).toBe(1000));
      expect(vi.getTimerCount()).toBeLessThanOrEqual(2);
    } finally {
      vi.useRealTimers();
    }
  });

  it('re-arms a slot deadline for the running item, so a later item still gets its full deadline', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    try {
      const g = gated();
      const { q, settled, settledOf } = setup({
        handler: (m, ctx) => (m.seq === 1 ? undefined : g.handler(m, ctx)),
        timeoutMs: 150,
      });
      q.add(msg(1), undefined); // arms the slot's timer for t = 150
      await settledOf(1);
      vi.advanceTimersByTime(100);
      q.add(msg(2), undefined); // starts at t = 100: due at t = 250
      await g.started(2);
      vi.advanceTimersByTime(60); // the slot timer fires at t = 150 and re-arms
      expect(settled.map((s) => s.seq)).toEqual([1]);
      vi.advanceTimersByTime(100);
      const s2 = await settledOf(2);
      expect(s2.error?.code).toBe('LW_ERR_HANDLER_TIMEOUT');
      expect(s2.durationMs).toBeGreaterThanOrEqual(149);
    } finally {
      vi.useRealTimers();
    }
  });

  it('starts an item that finds the queue idle inside add(), with no hop first (issue 11 latency)', async () => {
    const order: string[] = [];
    const { q, settledOf } = setup({ handler: (m) => void order.push(`run ${m.seq}`) });
    for (let seq = 1; seq <= 3; seq++) {
      q.add(msg(seq), undefined);
      order.push(`added ${seq}`);
    }
    await settledOf(3);
    // A synchronous handler settles inside add(), so each item finds the queue idle again.
    expect(order).toEqual(['run 1', 'added 1', 'run 2', 'added 2', 'run 3', 'added 3']);
  });

  it('queues what arrives while a handler runs, and starts it in order once the slot is free', async () => {
    const order: string[] = [];
    let release: () => void = () => {};
    const { q, settledOf } = setup({
      handler: (m) => {
        order.push(`run ${m.seq}`);
        if (m.seq === 1) return new Promise<void>((resolve) => (release = resolve));
      },
    });
    for (let seq = 1; seq <= 3; seq++) {
      q.add(msg(seq), undefined);
      order.push(`added ${seq}`);
    }
    await new Promise((resolve) => setImmediate(resolve));
    expect(order).toEqual(['run 1', 'added 1', 'added 2', 'added 3']);
    release();
    await settledOf(3);
    expect(order).toEqual(['run 1', 'added 1', 'added 2', 'added 3', 'run 2', 'run 3']);
  });

  it('refuses items once closed', () => {
    const { q } = setup({ handler: () => {} });
    q.close();
    expect(q.closed).toBe(true);
    expect(q.add(msg(1), undefined)).toBe(false);
    expect(q.depth).toBe(0);
  });

  it('hands each item’s tag back to onSettled', async () => {
    const tags: unknown[] = [];
    const q = new WorkQueue({
      handler: () => {},
      concurrency: 1,
      capacity: 10,
      timeoutMs: 1000,
      onSettled: (_m, _d, _e, tag) => tags.push(tag),
    });
    queues.push(q);
    const a = { inbox: 'a' };
    q.add(msg(1), undefined, a);
    q.add(msg(2), undefined);
    await vi.waitFor(() => expect(tags).toEqual([a, undefined]));
  });
});
