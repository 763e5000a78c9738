import PQueue from 'p-queue';
import { DeadlineError, errorCode, LinkwatchError } from '../errors.js';
import type { JsonValue } from '../protocol/frames.js';

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
  /** Called exactly once per item: `error` is undefined on success. */
  onSettled: (message: Message, durationMs: number, error: LinkwatchError | undefined) => void;
}

/**
 * A bounded per-worker work queue on p-queue. Items past their deadline are
 * settled as `LW_ERR_HANDLER_TIMEOUT` and free their slot, so one hung handler
 * cannot wedge the queue; its signal aborts so the handler can stop.
 */
export class WorkQueue {
  readonly #queue: PQueue;
  readonly #options: WorkQueueOptions;
  // Aborted by close(): running handlers see it through their signal.
  readonly #shutdown = new AbortController();
  // Handlers that outlived their deadline and are still running (not counted in depth).
  #hung = 0;

  constructor(options: WorkQueueOptions) {
    this.#options = options;
    this.#queue = new PQueue({ concurrency: options.concurrency });
  }

  /** Items waiting plus running. */
  get depth(): number {
    return this.#queue.size + this.#queue.pending;
  }
  get capacity(): number {
    return this.#options.capacity;
  }
  get running(): number {
    return this.#queue.pending;
  }
  /** At its limit: add() would refuse. */
  get full(): boolean {
    return this.depth >= (this.#options.limit ?? this.#options.capacity);
  }
  /** Handlers past their deadline that have not returned yet. */
  get hung(): number {
    return this.#hung;
  }

  /** Returns false when the queue is at its limit (the flow-control window should prevent that). */
  add(message: Message, traceparent: string | undefined): boolean {
    if (this.depth >= (this.#options.limit ?? this.#options.capacity)) return false;
    const enqueuedAt = performance.now();
    const opts = this.#options;
    opts.onEnqueued?.(message.seq, this.depth + 1, traceparent);
    void this.#queue.add(async () => {
      const startedAt = performance.now();
      opts.onStarted?.(message.seq, startedAt - enqueuedAt);
      const error = await this.#run(message, traceparent);
      opts.onSettled(message, performance.now() - startedAt, error);
    });
    return true;
  }

  async #run(message: Message, traceparent: string | undefined): Promise<LinkwatchError | undefined> {
    const { handler, timeoutMs, around } = this.#options;
    const deadline = new AbortController();
    const signal = AbortSignal.any([deadline.signal, this.#shutdown.signal]);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timedOut = new Promise<LinkwatchError>((resolve) => {
      timer = setTimeout(() => {
        const err = new DeadlineError(
          'LW_ERR_HANDLER_TIMEOUT',
          timeoutMs,
          `handler for ${message.workerId} seq ${message.seq} ran past ${timeoutMs} ms`,
        );
        deadline.abort(err);
        resolve(err);
      }, timeoutMs);
    });
    const call = async (): Promise<void> => {
      await handler(message, { signal });
    };
    const running = (around ? around(message, traceparent, call) : call()).then(
      () => undefined,
      (cause: unknown) =>
        cause instanceof LinkwatchError
          ? cause
          : new LinkwatchError('LW_ERR_HANDLER_FAILED', `handler failed: ${errorCode(cause)}`, { cause }),
    );
    const result = await Promise.race([running, timedOut]);
    clearTimeout(timer);
    // A handler that gave up because the queue closed did not process the message.
    if (result && result.code !== 'LW_ERR_HANDLER_TIMEOUT' && this.#shutdown.signal.aborted) {
      return new LinkwatchError('LW_ERR_CLOSED', 'work queue closed while the handler ran', {
        cause: result,
      });
    }
    if (result?.code === 'LW_ERR_HANDLER_TIMEOUT') {
      this.#hung++;
      void running.finally(() => this.#hung--);
    }
    return result;
  }

  /** Waits until nothing is waiting or running, up to `timeoutMs`. Returns true if idle. */
  async idle(timeoutMs: number): Promise<boolean> {
    if (this.depth === 0) return true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const expired = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    const done = this.#queue.onIdle().then(() => true as const);
    const result = await Promise.race([done, expired]);
    clearTimeout(timer);
    return result;
  }

  /** Drops waiting items and aborts running ones. Returns how many were waiting. */
  close(): number {
    const waiting = this.#queue.size;
    this.#queue.clear();
    this.#shutdown.abort(new LinkwatchError('LW_ERR_CLOSED', 'work queue closed'));
    return waiting;
  }
}
