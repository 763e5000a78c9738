import { randomUUID } from 'node:crypto';
import type { LinkwatchError } from '../errors.js';
import { encodeDataFrame, MAX_PAYLOAD_DEPTH, payloadProblem } from '../protocol/codec.js';
import type { DataFrame, JsonValue, Progress } from '../protocol/frames.js';
import { type Handler, type Message, WorkQueue } from '../queue/work-queue.js';
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
  received: number;
  processed: number;
  duplicates: number;
  failed: number;
  timedOut: number;
  reconnects: number;
  /** Data frame bytes written (replays included) and received (duplicates included). Telemetry reads these. */
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
  maxFrameBytes: number;
  /** Called when `processed` advances, so durable checkpoints can follow. */
  onProcessed?: ((stream: string, processed: number) => void) | undefined;
}

/** The part of a live link the session drives. */
export interface SessionLink {
  pump(): void;
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
  // Which inbox accepted each queued message; weak so settled messages are collectable.
  readonly #inboxOf = new WeakMap<Message, Inbox>();
  #link: SessionLink | undefined;
  readonly #maxFrameBytes: number;
  readonly #onProcessed: SessionOptions['onProcessed'];
  /** performance.now() of the last heartbeat heard from the peer. */
  lastHeartbeatAt: number | undefined;
  peerProgress: Progress | undefined;
  lastRttMs: number | undefined;

  constructor(options: SessionOptions) {
    this.side = options.side;
    this.workerId = options.workerId;
    this.events = options.events;
    this.hooks = options.hooks;
    this.#maxFrameBytes = options.maxFrameBytes;
    this.#onProcessed = options.onProcessed;
    this.outbox = new Outbox({
      ...options.outbox,
      onDrop: (seq, reason) => {
        this.counters.dropped++;
        if (this.events.active) this.events.emit({ ...this.#base(), type: 'outbox-dropped', seq, reason });
      },
    });
    this.queue = new WorkQueue({
      ...options.queue,
      // The window bounds each peer stream; a restarted peer's old backlog may sit beside a new one.
      limit: options.queue.capacity * 2,
      handler: options.handler,
      around: (message, traceparent, fn) => {
        const around = this.hooks.around;
        return around ? around(message, traceparent, fn) : fn();
      },
      onEnqueued: (seq, depth, traceparent) => {
        if (this.events.perMessage)
          this.events.emit({ ...this.#base(), type: 'queue-enqueued', seq, depth, traceparent });
      },
      onStarted: (seq, waitMs) => {
        if (this.events.perMessage) this.events.emit({ ...this.#base(), type: 'queue-started', seq, waitMs });
      },
      onSettled: (message, durationMs, error) => this.#settled(message, durationMs, error),
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
    // 64 bytes covers the frame envelope around the payload.
    const size = Buffer.byteLength(probe, 'utf8') + 64 + (traceparent ? 64 : 0);
    if (size > this.#maxFrameBytes) {
      return Promise.reject(
        new RangeError(
          `payload of ${size} bytes (with envelope) exceeds maxFrameBytes ${this.#maxFrameBytes}`,
        ),
      );
    }
    const pending = this.outbox.enqueue((seq) => encodeDataFrame(seq, probe, traceparent));
    if (this.outbox.waiting > 0 && this.events.perMessage) {
      this.events.emit({ ...this.#base(), type: 'outbox-blocked', waiting: this.outbox.waiting });
    }
    return pending.then((receipt) => {
      if (receipt.status === 'queued') this.#link?.pump();
      return receipt;
    });
  }

  /**
   * Closes the work queue: waiting items are dropped (the peer still holds
   * them unacked and replays them on its next link), running ones aborted.
   * Returns how many were dropped.
   */
  closeQueue(reason: 'shutdown' | 'session-expired'): number {
    const dropped = this.queue.close();
    if (dropped > 0 && this.events.active) {
      this.events.emit({ ...this.#base(), type: 'queue-dropped', count: dropped, reason });
    }
    return dropped;
  }

  /** A data frame arrived. Returns false when it broke the flow-control window. */
  receive(frame: DataFrame, bytes: number, window: number): boolean {
    if (this.#inbox.accept(frame.seq) === 'duplicate') {
      this.counters.duplicates++;
      if (this.events.active)
        this.events.emit({ ...this.#base(), type: 'duplicate-dropped', seq: frame.seq });
      return true;
    }
    this.counters.received++;
    if (this.events.perMessage)
      this.events.emit({ ...this.#base(), type: 'data-received', seq: frame.seq, bytes });
    if (this.#inbox.inFlight > window) return false;
    const message: Message = {
      workerId: this.workerId,
      stream: this.#peerStream ?? '',
      seq: frame.seq,
      payload: frame.p,
    };
    this.#inboxOf.set(message, this.#inbox);
    return this.queue.add(message, frame.tp);
  }

  #settled(message: Message, durationMs: number, error: LinkwatchError | undefined): void {
    const seq = message.seq;
    // Cut short by shutdown: not processed, so neither acked nor checkpointed; the peer replays it.
    // A drop, not a handler failure.
    if (error?.code === 'LW_ERR_CLOSED') {
      if (this.events.active)
        this.events.emit({ ...this.#base(), type: 'queue-dropped', count: 1, reason: 'shutdown' });
      return;
    }
    if (error) {
      this.counters.failed++;
      if (error.code === 'LW_ERR_HANDLER_TIMEOUT') this.counters.timedOut++;
      if (this.events.active) {
        this.events.emit({ ...this.#base(), type: 'queue-failed', seq, durationMs, errorType: error.code });
      }
    } else {
      this.counters.processed++;
      if (this.events.perMessage)
        this.events.emit({ ...this.#base(), type: 'queue-completed', seq, durationMs });
    }
    // The inbox the message was accepted into; the peer may have restarted since.
    const inbox = this.#inboxOf.get(message);
    if (inbox !== this.#inbox) return;
    if (inbox.complete(seq)) {
      if (this.#peerStream) this.#onProcessed?.(this.#peerStream, inbox.processed);
      this.#link?.scheduleAck();
    }
  }

  #base() {
    return { side: this.side, workerId: this.workerId, hubId: this.hubId, at: performance.now() };
  }

  /** For Link: a common event base. */
  eventBase() {
    return this.#base();
  }
}
