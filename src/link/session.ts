import { randomUUID } from 'node:crypto';
import { errorCode, LinkwatchError } from '../errors.js';
import { CloseCode } from '../protocol/close-codes.js';
import { MAX_PAYLOAD_DEPTH, payloadProblem, TRACEPARENT } from '../protocol/codec.js';
import { BUFFER_FRAME_BYTES, FrameSlab, slabDataFrame } from '../protocol/data-frames.js';
import type { BatchItem, JsonValue, Progress } from '../protocol/frames.js';
import type { Handler, Message, WorkQueue, WorkQueueOptions } from '../queue/work-queue.js';
import type { LinkEvents, Side } from './events.js';
import type { LinkHooks } from './hooks.js';
import { Inbox } from './inbox.js';
import { Outbox, type OverflowPolicy, type SendReceipt } from './outbox.js';

/** Counters a side reports in its summary and on /links. Monotonic within a process. */
export interface SessionCounters {
  sent: number;
  acked: number;
  replayed: number;
  dropped: number;
  /** Peer messages accepted into the work queue (duplicates and window breakers are not). */
  received: number;
  processed: number;
  duplicates: number;
  failed: number;
  /**
   * Received but dropped unprocessed when the queue closed (shutdown, session
   * expiry); the peer still holds them unacked. With `processed`, `failed`
   * and the queue depth, accounts for every received message.
   */
  rejected: number;
  timedOut: number;
  reconnects: number;
  /** Bytes of data and batch frames written (replays included) and received (duplicates included). Telemetry reads these. */
  bytesSent: number;
  bytesReceived: number;
  heartbeatsSent: number;
  heartbeatsReceived: number;
  /** Heartbeat intervals that passed without an ack. */
  heartbeatsMissed: number;
}

/** A zeroed SessionCounters. */
export function newSessionCounters(): SessionCounters {
  return {
    sent: 0,
    acked: 0,
    replayed: 0,
    dropped: 0,
    received: 0,
    processed: 0,
    duplicates: 0,
    failed: 0,
    rejected: 0,
    timedOut: 0,
    reconnects: 0,
    bytesSent: 0,
    bytesReceived: 0,
    heartbeatsSent: 0,
    heartbeatsReceived: 0,
    heartbeatsMissed: 0,
  };
}

export interface SessionOptions {
  side: Side;
  workerId: string;
  events: LinkEvents;
  handler: Handler;
  /** Shared with the owning Hub or Worker. */
  hooks: LinkHooks;
  outbox: { maxMessages: number; maxBytes: number; policy: OverflowPolicy };
  queue: { concurrency: number; capacity: number; timeoutMs: number };
  /**
   * Builds the work queue (the hub and the worker pass `(o) => new WorkQueue(o)`),
   * so link/ depends on the queue's type only and imports point one way.
   */
  createQueue: (options: WorkQueueOptions) => WorkQueue;
  maxFrameBytes: number;
  /**
   * Called when `processed` advances, so durable checkpoints can follow. With
   * it, only what it recorded is acked: a seq counts as processed once this
   * returned (or its promise resolved). A throw or a rejection is a
   * 'checkpoint-failed' event and closes the link with 4005.
   */
  onProcessed?: ((stream: string, processed: number) => void | Promise<void>) | undefined;
}

/** The part of a live link the session drives. */
export interface SessionLink {
  /** Close the link with this code (the session found a fault the peer must recover from). */
  fail(error: LinkwatchError, closeCode: number): void;
  /** Write what is waiting once this tick's sends are in, as one frame; `messageBytes` is the newest one's size. */
  requestPump(messageBytes: number): void;
  scheduleAck(): void;
}

/**
 * One worker's two streams on one side, across reconnects: our outbox (what
 * we send), our inbox and work queue (what the peer sends us), and counters.
 * A Link is attached while connected; the session outlives it.
 */
export class Session {
  readonly side: Side;
  readonly workerId: string;
  readonly events: LinkEvents;
  readonly hooks: LinkHooks;
  /** Identifies this side's outgoing seq space; a new process starts a new stream. */
  readonly stream = randomUUID();
  hubId: string | undefined;
  readonly outbox: Outbox;
  readonly queue: WorkQueue;
  readonly counters: SessionCounters = newSessionCounters();
  // The peer's stream this inbox belongs to; a different one means the peer restarted.
  #peerStream: string | undefined;
  #inbox = new Inbox();
  // Highest seq of this inbox the checkpoint store recorded; what may be acked when there is a store.
  #committed = 0;
  /** Commits the checkpoint store failed (threw or rejected). */
  checkpointFailures = 0;
  #link: SessionLink | undefined;
  // Large payloads are encoded into it; let go of whenever the outbox empties.
  readonly #slab = new FrameSlab();
  readonly #maxFrameBytes: number;
  readonly #onProcessed: SessionOptions['onProcessed'];
  peerProgress: Progress | undefined;
  // Set once per heartbeat: NaN until the first, doubles from the start, never undefined (V8 then
  // updates them in place; a field that held undefined got a new heap number per heartbeat).
  #lastHeartbeatAt = Number.NaN;
  #lastRttMs = Number.NaN;

  /** performance.now() of the last heartbeat heard from the peer. */
  get lastHeartbeatAt(): number | undefined {
    return Number.isNaN(this.#lastHeartbeatAt) ? undefined : this.#lastHeartbeatAt;
  }
  set lastHeartbeatAt(at: number | undefined) {
    this.#lastHeartbeatAt = at ?? Number.NaN;
  }
  get lastRttMs(): number | undefined {
    return Number.isNaN(this.#lastRttMs) ? undefined : this.#lastRttMs;
  }
  set lastRttMs(ms: number | undefined) {
    this.#lastRttMs = ms ?? Number.NaN;
  }

  constructor(options: SessionOptions) {
    this.side = options.side;
    this.workerId = options.workerId;
    this.events = options.events;
    this.hooks = options.hooks;
    this.#maxFrameBytes = options.maxFrameBytes;
    this.#onProcessed = options.onProcessed;
    this.outbox = new Outbox({
      ...options.outbox,
      onAcked: (seq) => this.#slab.acked(seq),
      onEmpty: () => this.#slab.release(),
      onDrop: (seq, reason) => {
        this.#slab.dropped();
        this.counters.dropped++;
        if (this.events.active) this.events.emit({ ...this.#base(), type: 'outbox-dropped', seq, reason });
      },
    });
    const hooks = options.hooks;
    this.queue = options.createQueue({
      ...options.queue,
      // The window bounds each peer stream; a restarted peer's old backlog may sit beside a new one.
      limit: options.queue.capacity * 2,
      handler: options.handler,
      // Read at each handler start, so hooks added later apply; none (no tracing) means the handler is
      // called directly and a synchronous one settles without a promise.
      get around() {
        return hooks.around;
      },
      onEnqueued: (seq, depth, traceparent) => {
        if (this.events.perMessage)
          this.events.emit({ ...this.#base(), type: 'queue-enqueued', seq, depth, traceparent });
      },
      onStarted: (seq, waitMs) => {
        if (this.events.perMessage) this.events.emit({ ...this.#base(), type: 'queue-started', seq, waitMs });
      },
      onSettled: (message, startedAt, error, inbox) => this.#settled(message, startedAt, error, inbox),
    });
  }

  get peerStream(): string | undefined {
    return this.#peerStream;
  }
  get inbox(): Inbox {
    return this.#inbox;
  }
  get link(): SessionLink | undefined {
    return this.#link;
  }

  /** Highest seq of the peer's that may be acked: processed, and recorded when there is a checkpoint store. */
  get ackable(): number {
    return this.#onProcessed ? this.#committed : this.#inbox.processed;
  }

  attach(link: SessionLink | undefined): void {
    this.#link = link;
  }

  /**
   * The peer announced its stream. A new stream means the peer restarted its
   * seq space: start a fresh inbox at `checkpoint` (0 when unknown).
   */
  bindPeerStream(stream: string, checkpoint = 0): void {
    if (this.#peerStream === stream) return;
    this.#peerStream = stream;
    this.#inbox = new Inbox(checkpoint);
    this.#committed = checkpoint;
  }

  progress(): Progress {
    return {
      sent: this.outbox.lastSeq,
      acked: this.outbox.acked,
      processed: this.#inbox.processed,
      depth: this.queue.depth,
    };
  }

  /** Queues one message for the peer. Rejects payloads that could never fit in a frame. */
  send(payload: JsonValue, traceparent?: string): Promise<SendReceipt> {
    const trace = this.hooks.send?.(this);
    const pending = this.#send(payload, traceparent ?? trace?.traceparent);
    if (!trace) return pending;
    return pending.then(
      (receipt) => {
        trace.queued(receipt.seq, receipt.status);
        return receipt;
      },
      (err: unknown) => {
        trace.failed(err);
        throw err;
      },
    );
  }

  #send(payload: JsonValue, traceparent: string | undefined): Promise<SendReceipt> {
    // The peer rejects such a frame and closes the link; replayed, it would close every link after.
    const problem = payloadProblem(payload);
    if (problem) {
      return Promise.reject(
        new TypeError(
          `Expected \`payload\` to be JSON with finite numbers and at most ${MAX_PAYLOAD_DEPTH} levels of nesting, got a payload that ${problem}`,
        ),
      );
    }
    let probe: string;
    try {
      probe = JSON.stringify(payload);
    } catch (cause) {
      return Promise.reject(new TypeError('payload must be JSON-serializable', { cause }));
    }
    if (probe === undefined)
      return Promise.reject(new TypeError('payload must be JSON-serializable, got undefined'));
    // A large payload is encoded once, into the slab (see FrameSlab); else measured, and encoded at enqueue.
    const inSlab = probe.length >= BUFFER_FRAME_BYTES ? this.#slab.write(probe) : undefined;
    // No encoding argument: UTF-8 is the default, and naming it costs an encoding lookup per send.
    const payloadBytes = inSlab ? inSlab.bytes : Buffer.byteLength(probe);
    // 64 bytes covers the frame envelope around the payload.
    const size = payloadBytes + 64 + (traceparent ? 64 : 0);
    if (size > this.#maxFrameBytes) {
      if (inSlab) this.#slab.undo(inSlab);
      return Promise.reject(
        new RangeError(
          `payload of ${size} bytes (with envelope) exceeds maxFrameBytes ${this.#maxFrameBytes}`,
        ),
      );
    }
    // The peer would reject the frame (1007) and every replay of it: a poison message.
    if (traceparent !== undefined && !(typeof traceparent === 'string' && TRACEPARENT.test(traceparent))) {
      if (inSlab) this.#slab.undo(inSlab);
      return Promise.reject(
        new TypeError(`Expected \`traceparent\` to be a W3C traceparent, got ${typeof traceparent}`),
      );
    }
    const pending = inSlab
      ? this.outbox.enqueue((seq) => slabDataFrame(inSlab, seq, traceparent))
      : this.outbox.enqueueData(probe, payloadBytes, traceparent);
    if (this.outbox.waiting > 0) {
      if (this.events.perMessage)
        this.events.emit({ ...this.#base(), type: 'outbox-blocked', waiting: this.outbox.waiting });
    } else {
      // Queued now (a producer admitted later is written by the ack that made room).
      this.#link?.requestPump(payloadBytes);
    }
    return pending;
  }

  /**
   * Closes the work queue: waiting items are dropped (the peer still holds
   * them unacked and replays them on its next link), running ones aborted.
   * Returns how many were dropped.
   */
  closeQueue(reason: 'shutdown' | 'session-expired'): number {
    const dropped = this.queue.close();
    this.counters.rejected += dropped;
    if (dropped > 0 && this.events.active) {
      this.events.emit({ ...this.#base(), type: 'queue-dropped', count: dropped, reason });
    }
    return dropped;
  }

  /**
   * A data message arrived (a data frame or one item of a batch). Returns
   * false when it broke the flow-control window; such a message is neither
   * accepted nor counted as received, so the peer replays it and
   * received = processed + failed + rejected + queued holds.
   */
  receive(frame: BatchItem, bytes: number, window: number): boolean {
    const inbox = this.#inbox;
    if (frame.seq <= inbox.lastAccepted) {
      this.counters.duplicates++;
      if (this.events.active)
        this.events.emit({ ...this.#base(), type: 'duplicate-dropped', seq: frame.seq });
      return true;
    }
    // Closed (shutdown or expiry, maybe by a handler of this very batch): not accepted, the peer replays it.
    if (this.queue.closed) return true;
    if (inbox.inFlight >= window || this.queue.full) return false;
    inbox.accept(frame.seq);
    this.counters.received++;
    if (this.events.perMessage)
      this.events.emit({ ...this.#base(), type: 'data-received', seq: frame.seq, bytes });
    const message: Message = {
      workerId: this.workerId,
      stream: this.#peerStream ?? '',
      seq: frame.seq,
      payload: frame.p,
    };
    // Tagged with its inbox: the peer may restart (a new inbox) before it settles.
    return this.queue.add(message, frame.tp, inbox);
  }

  #settled(message: Message, startedAt: number, error: LinkwatchError | undefined, tag: unknown): void {
    const seq = message.seq;
    // Cut short by shutdown: not processed, so neither acked nor checkpointed; the peer replays it.
    // A drop, not a handler failure.
    if (error?.code === 'LW_ERR_CLOSED') {
      this.counters.rejected++;
      if (this.events.active)
        this.events.emit({ ...this.#base(), type: 'queue-dropped', count: 1, reason: 'shutdown' });
      return;
    }
    if (error) {
      this.counters.failed++;
      if (error.code === 'LW_ERR_HANDLER_TIMEOUT') this.counters.timedOut++;
      if (this.events.active) {
        const durationMs = performance.now() - startedAt;
        this.events.emit({ ...this.#base(), type: 'queue-failed', seq, durationMs, errorType: error.code });
      }
    } else {
      this.counters.processed++;
      if (this.events.perMessage)
        this.events.emit({
          ...this.#base(),
          type: 'queue-completed',
          seq,
          durationMs: performance.now() - startedAt,
        });
    }
    // The inbox the message was accepted into; the peer may have restarted since.
    const inbox = tag as Inbox;
    if (inbox !== this.#inbox) return;
    if (inbox.complete(seq)) {
      if (this.#onProcessed && this.#peerStream) this.#commit(inbox, this.#peerStream, inbox.processed);
      else this.#link?.scheduleAck();
    }
  }

  /** Records `processed` in the checkpoint store; acks follow only what it recorded. */
  #commit(inbox: Inbox, stream: string, processed: number): void {
    let result: unknown;
    try {
      result = this.#onProcessed!(stream, processed);
    } catch (err) {
      this.#checkpointFailed(inbox, stream, processed, err);
      return;
    }
    if (result && typeof (result as Promise<void>).then === 'function') {
      (result as Promise<void>).then(
        () => this.#recorded(inbox, processed),
        (err: unknown) => this.#checkpointFailed(inbox, stream, processed, err),
      );
    } else {
      this.#recorded(inbox, processed);
    }
  }

  #recorded(inbox: Inbox, processed: number): void {
    if (inbox !== this.#inbox) return;
    if (processed > this.#committed) this.#committed = processed;
    this.#link?.scheduleAck();
  }

  /**
   * The store did not record `processed`, so what it covers is not processed
   * as far as anyone outside this process can tell: rewind the inbox to what
   * the store holds, and close the link so the peer replays the rest
   * (at-least-once: the handler may see those messages again).
   */
  #checkpointFailed(inbox: Inbox, stream: string, processed: number, err: unknown): void {
    if (inbox !== this.#inbox) return;
    this.checkpointFailures++;
    const errorType = errorCode(err);
    if (this.events.active) {
      this.events.emit({ ...this.#base(), type: 'checkpoint-failed', stream, processed, errorType });
    }
    this.#inbox = new Inbox(this.#committed);
    this.#link?.fail(
      new LinkwatchError(
        'LW_ERR_CHECKPOINT_FAILED',
        `checkpoint store failed to record seq ${processed}: ${errorType}`,
        { cause: err },
      ),
      CloseCode.checkpointFailed,
    );
  }

  #base() {
    return { side: this.side, workerId: this.workerId, hubId: this.hubId, at: performance.now() };
  }

  /** For Link: a common event base. */
  eventBase() {
    return this.#base();
  }
}
