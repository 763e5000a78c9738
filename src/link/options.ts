import * as D from '../defaults.js';
import { intOption, oneOf } from '../validate.js';
import type { LinkSettings } from './link.js';
import { OVERFLOW_POLICIES, type OverflowPolicy } from './outbox.js';

/**
 * Options both sides take for their end of a link: what they send (outbox),
 * what they receive (work queue, window, acks) and the send deadline. Hub and
 * Worker options extend this, so each is documented and checked once.
 */
export interface LinkOptions {
  /** Largest frame either side accepts, bytes. The smaller of the two sides' values applies. @default 1 MiB */
  maxFrameBytes?: number;
  /** Handlers running at once; above 1, completion order may differ. @default 1 */
  queueConcurrency?: number;
  /** Items waiting plus running; also the flow-control window the peer may fill. @default 1000 */
  queueCapacity?: number;
  /** Per-item handler deadline, ms. @default 30000 */
  handlerTimeoutMs?: number;
  /** Messages kept for the peer until acked. @default 10000 */
  outboxMaxMessages?: number;
  /** Bytes kept for the peer until acked. @default 64 MiB */
  outboxMaxBytes?: number;
  /**
   * What `send()` does when the outbox is full: `block` (it waits),
   * `drop-oldest`, `drop-newest`, or `reject` (`LW_ERR_OUTBOX_FULL`). Every
   * drop is counted. @default 'block'
   */
  overflow?: OverflowPolicy;
  /** Ack at most this long after a completion, ms. @default 20 */
  ackDelayMs?: number;
  /** Ack at once when this many completions are unacked. @default 64 */
  ackBatch?: number;
  /** Stop writing while the socket buffers more than this, bytes. @default 1 MiB */
  highWatermarkBytes?: number;
  /**
   * Once the socket buffer passes the watermark, it must drain to half of it
   * within this, or it is a transport stall: tear down and reconnect, ms. The
   * slowest link accepted is `highWatermarkBytes / 2` per this time (about
   * 52 KB/s by default); lower the watermark for slower links. @default 10000
   */
  sendStallTimeoutMs?: number;
}

export type ParsedLinkOptions = Required<LinkOptions>;

/** Checks the shared link options; each failure is a TypeError naming the option. */
export function parseLinkOptions(o: LinkOptions): ParsedLinkOptions {
  return {
    maxFrameBytes: intOption('maxFrameBytes', o.maxFrameBytes, D.DEFAULT_MAX_FRAME_BYTES, { min: 1024 }),
    queueConcurrency: intOption('queueConcurrency', o.queueConcurrency, D.DEFAULT_QUEUE_CONCURRENCY, {
      min: 1,
    }),
    queueCapacity: intOption('queueCapacity', o.queueCapacity, D.DEFAULT_QUEUE_CAPACITY, { min: 1 }),
    handlerTimeoutMs: intOption('handlerTimeoutMs', o.handlerTimeoutMs, D.DEFAULT_HANDLER_TIMEOUT_MS, {
      min: 1,
    }),
    outboxMaxMessages: intOption('outboxMaxMessages', o.outboxMaxMessages, D.DEFAULT_OUTBOX_MAX_MESSAGES, {
      min: 1,
    }),
    outboxMaxBytes: intOption('outboxMaxBytes', o.outboxMaxBytes, D.DEFAULT_OUTBOX_MAX_BYTES, { min: 1024 }),
    overflow: oneOf('overflow', o.overflow, OVERFLOW_POLICIES, 'block'),
    ackDelayMs: intOption('ackDelayMs', o.ackDelayMs, D.DEFAULT_ACK_DELAY_MS, { min: 0 }),
    ackBatch: intOption('ackBatch', o.ackBatch, D.DEFAULT_ACK_BATCH, { min: 1 }),
    highWatermarkBytes: intOption(
      'highWatermarkBytes',
      o.highWatermarkBytes,
      D.DEFAULT_HIGH_WATERMARK_BYTES,
      {
        min: 1,
      },
    ),
    sendStallTimeoutMs: intOption(
      'sendStallTimeoutMs',
      o.sendStallTimeoutMs,
      D.DEFAULT_SEND_STALL_TIMEOUT_MS,
      { min: 1 },
    ),
  };
}

/** What the handshake settled for one link: the hub's heartbeat, the peer's window and limits. */
export interface Negotiated {
  heartbeatIntervalMs: number;
  heartbeatMisses: number;
  /** The peer's queue capacity: how many of our data frames may be in flight. */
  peerWindow: number;
  maxFrameBytes: number;
  /** The peer announced the revision with batch frames. */
  batch: boolean;
  /**
   * Both sides speak revision 3 and the heartbeat allows it (misses ≥ 2): the
   * worker holds its answers to the hub's heartbeats (see Heartbeat).
   */
  heldAcks: boolean;
}

/** A Link's settings from this side's options and what the handshake agreed; the same on both sides. */
export function linkSettings(o: ParsedLinkOptions, n: Negotiated): LinkSettings {
  return {
    heartbeatIntervalMs: n.heartbeatIntervalMs,
    heartbeatMisses: n.heartbeatMisses,
    sendWindow: n.peerWindow,
    receiveWindow: o.queueCapacity,
    maxFrameBytes: n.maxFrameBytes,
    ackDelayMs: o.ackDelayMs,
    ackBatch: o.ackBatch,
    highWatermarkBytes: o.highWatermarkBytes,
    sendStallTimeoutMs: o.sendStallTimeoutMs,
    batch: n.batch,
    heldAcks: n.heldAcks,
  };
}
