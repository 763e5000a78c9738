import { DeadlineError, LinkwatchError } from '../errors.js';
import type { JsonValue } from '../protocol/frames.js';
import { asError, callHandler, SETTLED } from './handler-call.js';

/** One delivered message, as the app handler sees it. */
export interface Message {
  workerId: string;
  /** The sender's seq space; `(workerId, stream, seq)` is unique, so apps can checkpoint on it. */
  stream: string;
  seq: number;
  payload: JsonValue;
}

export interface HandlerContext {
  /** Aborts when the item passes its deadline or the queue shuts down. */
  signal: AbortSignal;
}

export type Handler = (message: Message, context: HandlerContext) => void | Promise<void>;

/** Runs `fn` inside whatever context the caller needs (telemetry wraps it in a consumer span). */
export type AroundHandler = (
  message: Message,
  traceparent: string | undefined,
  fn: () => Promise<void>,
) => Promise<void>;

export interface WorkQueueOptions {
  handler: Handler;
  concurrency: number;
  /** Max items waiting plus running: the window one peer stream may fill. */
  capacity: number;
  /**
   * Hard bound on depth. Above `capacity` only while the backlog of a peer's
   * previous stream (a restarted worker) drains next to its new one.
   * @default capacity
   */
  limit?: number;
  /** Per-item deadline, measured from when the handler starts, ms. */
  timeoutMs: number;
  around?: AroundHandler;
  onEnqueued?: (seq: number, depth: number, traceparent: string | undefined) => void;
  onStarted?: (seq: number, waitMs: number) => void;
  /**
   * Called exactly once per item that started: `error` is undefined on
   * success. `tag` is what add() was given with the item. `startedAt` is
   * performance.now() when its handler started; the duration is left to the
   * caller, since most settles need none and a cold clock read costs about
   * 2 µs.
   */
  onSettled: (message: Message, startedAt: number, error: LinkwatchError | undefined, tag: unknown) => void;
}

interface Item {
  readonly message: Message;
  readonly traceparent: string | undefined;
  readonly enqueuedAt: number;
  readonly tag: unknown;
  // Settled (done, failed or timed out); a later return of a hung handler only releases `hung`.
  settled: boolean;
}

/** One concurrency slot: runs one item at a time, with one deadline timer that outlives its items. */
interface Slot {
  item: Item | undefined;
  startedAt: number;
  // Aborted by this slot's deadline or by close(); replaced after a deadline, so the next item starts clean.
  controller: AbortController;
  context: HandlerContext;
  // Fires at the running item's deadline at the earliest; re-armed lazily (see #deadline).
  timer: ReturnType<typeof setTimeout> | undefined;
  // Bound once per slot, so arming the timer allocates nothing.
  onDeadline: () => void;
}

/**
 * A bounded per-worker work queue. Items past their deadline are settled as
 * `LW_ERR_HANDLER_TIMEOUT` and free their slot, so one hung handler cannot
 * wedge the queue; its signal aborts so the handler can stop.
 *
 * Per item it allocates one small record and nothing else: each concurrency
 * slot owns its abort signal and one deadline timer that is not reset per
 * item (it fires, checks the running item's start time and re-arms), and a
 * handler that returns synchronously settles without a promise. It replaced
 * p-queue here: p-queue's per-task promise, events and a timer plus
 * AbortSignal.any and a promise race per item cost more than the handler
 * in the throughput benchmark.
 */
export class WorkQueue {
  readonly #options: WorkQueueOptions;
  readonly #limit: number;
  // waiting[head..] are the items not started yet, FIFO.
  #waiting: Item[] = [];
  #head = 0;
  readonly #slots: Slot[];
  #running = 0;
  // Handlers that outlived their deadline and are still running (not counted in depth).
  #hung = 0;
  // A drain is queued as a microtask, or running now: adds and completions join it.
  #drainQueued = false;
  #draining = false;
  #closed: LinkwatchError | undefined;
  readonly #idleWaiters = new Set<() => void>();

  constructor(options: WorkQueueOptions) {
    this.#options = options;
    this.#limit = options.limit ?? options.capacity;
    this.#slots = Array.from({ length: options.concurrency }, () => {
      const controller = new AbortController();
      const slot: Slot = {
        item: undefined,
        startedAt: 0,
        controller,
        context: { signal: controller.signal },
        timer: undefined,
        onDeadline: () => this.#deadline(slot),
      };
      return slot;
    });
  }

  /** Items waiting plus running. */
  get depth(): number {
    return this.#waiting.length - this.#head + this.#running;
  }
  get capacity(): number {
    return this.#options.capacity;
  }
  get running(): number {
    return this.#running;
  }
  /** At its limit: add() would refuse. */
  get full(): boolean {
    return this.depth >= this.#limit;
  }
  /** Handlers past their deadline that have not returned yet. */
  get hung(): number {
    return this.#hung;
  }

  /** close() ran: add() refuses everything. */
  get closed(): boolean {
    return this.#closed !== undefined;
  }

  /**
   * False when at its limit (the window should prevent that) or closed. An
   * item that finds the queue idle starts inside this call, as on a raw
   * socket: the microtask hop it used to wait for cost a median 11 µs on the
   * hub at 2,000 msg/s. Else the drain after the caller's sync work starts it.
   */
  add(message: Message, traceparent: string | undefined, tag?: unknown): boolean {
    if (this.#closed || this.depth >= this.#limit) return false;
    const enqueuedAt = performance.now();
    this.#options.onEnqueued?.(message.seq, this.depth + 1, traceparent);
    const item: Item = { message, traceparent, enqueuedAt, tag, settled: false };
    if (this.#idle()) {
      // Starts now: one clock read serves as its enqueue and its start time.
      this.#start(this.#freeSlot(), item, enqueuedAt);
      return true;
    }
    this.#waiting.push(item);
    this.#queueDrain();
    return true;
  }

  /** A slot is free, nothing waits, and no drain is running or queued (it would start items before this one). */
  #idle(): boolean {
    const waiting = this.#head < this.#waiting.length;
    return this.#running < this.#slots.length && !waiting && !this.#draining && !this.#drainQueued;
  }

  /** Starts waiting items after the caller's synchronous work (the rest of a batch frame is added first). */
  #queueDrain(): void {
    if (this.#drainQueued || this.#draining) return;
    this.#drainQueued = true;
    queueMicrotask(() => {
      this.#drainQueued = false;
      this.#drain();
    });
  }

  /** Starts waiting items while slots are free. Handlers that return synchronously settle in the loop. */
  #drain(): void {
    if (this.#draining) return;
    this.#draining = true;
    const concurrency = this.#slots.length;
    while (this.#running < concurrency && this.#head < this.#waiting.length) {
      const item = this.#waiting[this.#head]!;
      this.#waiting[this.#head++] = undefined as unknown as Item;
      if (this.#head > 1024 && this.#head * 2 > this.#waiting.length) {
        this.#waiting = this.#waiting.slice(this.#head);
        this.#head = 0;
      }
      this.#start(this.#freeSlot(), item);
    }
    if (this.#head === this.#waiting.length && this.#head > 0) {
      this.#waiting.length = 0;
      this.#head = 0;
    }
    this.#draining = false;
    this.#checkIdle();
  }

  #freeSlot(): Slot {
    const slots = this.#slots;
    for (let i = 0; i < slots.length; i++) if (!slots[i]!.item) return slots[i]!;
    throw new Error('WorkQueue: no free slot while running < concurrency');
  }

  #start(slot: Slot, item: Item, startedAt = performance.now()): void {
    const opts = this.#options;
    slot.item = item;
    slot.startedAt = startedAt;
    this.#running++;
    opts.onStarted?.(item.message.seq, startedAt - item.enqueuedAt);
    slot.timer ??= setTimeout(slot.onDeadline, opts.timeoutMs);
    let result: void | Promise<void>;
    try {
      const context = slot.context;
      result = opts.around
        ? opts.around(item.message, item.traceparent, () => callHandler(opts.handler, item.message, context))
        : opts.handler(item.message, context);
    } catch (cause) {
      this.#finish(slot, item, asError(cause));
      return;
    }
    if (result !== SETTLED && result && typeof (result as Promise<void>).then === 'function') {
      (result as Promise<void>).then(
        () => this.#finish(slot, item, undefined),
        (cause: unknown) => this.#finish(slot, item, asError(cause)),
      );
    } else {
      this.#finish(slot, item, undefined);
    }
  }

  #finish(slot: Slot, item: Item, error: LinkwatchError | undefined): void {
    if (item.settled) {
      // A handler that ran past its deadline returned at last.
      this.#hung--;
      return;
    }
    item.settled = true;
    slot.item = undefined;
    this.#running--;
    // A handler that gave up because the queue closed did not process the message.
    if (error && this.#closed) {
      error = new LinkwatchError('LW_ERR_CLOSED', 'work queue closed while the handler ran', {
        cause: error,
      });
    }
    this.#options.onSettled(item.message, slot.startedAt, error, item.tag);
    if (this.#draining) return;
    if (this.#head < this.#waiting.length) this.#drain();
    else this.#checkIdle();
  }

  /** The slot's timer fired: time out its item if due, else re-arm for the item's own deadline. */
  #deadline(slot: Slot): void {
    slot.timer = undefined;
    const item = slot.item;
    if (!item || this.#closed) return;
    const { timeoutMs } = this.#options;
    const elapsed = performance.now() - slot.startedAt;
    // Timers may fire a fraction of a millisecond early against performance.now().
    if (elapsed < timeoutMs - 1) {
      slot.timer = setTimeout(slot.onDeadline, Math.max(1, timeoutMs - elapsed));
      return;
    }
    const err = new DeadlineError(
      'LW_ERR_HANDLER_TIMEOUT',
      timeoutMs,
      `handler for ${item.message.workerId} seq ${item.message.seq} ran past ${timeoutMs} ms`,
    );
    slot.controller.abort(err);
    // The hung handler keeps the aborted signal; the slot's next item gets a fresh one.
    slot.controller = new AbortController();
    slot.context = { signal: slot.controller.signal };
    item.settled = true;
    this.#hung++;
    slot.item = undefined;
    this.#running--;
    this.#options.onSettled(item.message, slot.startedAt, err, item.tag);
    this.#drain();
  }

  #checkIdle(): void {
    if (this.#idleWaiters.size === 0 || this.depth > 0) return;
    for (const resolve of this.#idleWaiters) resolve();
    this.#idleWaiters.clear();
  }

  /** Waits until nothing is waiting or running, up to `timeoutMs`. Returns true if idle. */
  idle(timeoutMs: number): Promise<boolean> {
    if (this.depth === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        resolve(true);
      };
      const timer = setTimeout(() => {
        this.#idleWaiters.delete(done);
        resolve(false);
      }, timeoutMs);
      this.#idleWaiters.add(done);
    });
  }

  /** Drops waiting items and aborts running ones. Returns how many were waiting. */
  close(): number {
    const waiting = this.#waiting.length - this.#head;
    this.#waiting = [];
    this.#head = 0;
    this.#closed ??= new LinkwatchError('LW_ERR_CLOSED', 'work queue closed');
    for (const slot of this.#slots) {
      if (slot.timer) clearTimeout(slot.timer);
      slot.timer = undefined;
      if (!slot.controller.signal.aborted) slot.controller.abort(this.#closed);
    }
    this.#checkIdle();
    return waiting;
  }
}
