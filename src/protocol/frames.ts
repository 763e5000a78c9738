/**
 * Wire frames, protocol version 1. Frames are JSON text messages: every frame
 * is readable in a packet capture, validation is a few typeof checks, and app
 * payloads are JSON already. See docs/protocol.md for every frame type and
 * README "Protocol" for the measured cost against raw `ws`.
 *
 * `v` is the envelope version: a change an older peer cannot parse bumps it.
 * `rev` (in hello and welcome) is the protocol revision within that envelope:
 * additions an older peer never sees unless it announced them. Revision 2 adds
 * the batch frame. A side sends batches only to a peer that announced rev ≥ 2,
 * so a revision-1 peer is served as before. Revision 3 adds `held` to hb-ack:
 * a worker answers a hub of rev ≥ 3 with its own next heartbeat, in one write.
 */
export const PROTOCOL_VERSION = 1;
/** The highest protocol revision this side speaks (3: held hb-acks). A missing `rev` means 1. */
export const PROTOCOL_REVISION = 3;
/** The first revision with the batch frame. */
export const BATCH_REVISION = 2;
/** The first revision whose hub takes a held hb-ack (`held`, see HeartbeatAckFrame). */
export const HELD_ACK_REVISION = 3;

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** Progress counters carried by every heartbeat. The watchdog compares them over time. */
export interface Progress {
  /** Highest seq this side has sent. */
  sent: number;
  /** Highest seq of ours the peer has acked. */
  acked: number;
  /** Highest seq of the peer's this side has fully processed. */
  processed: number;
  /** Items waiting or running in this side's work queue. */
  depth: number;
}

/** Worker → hub, first frame. The token travels in the Authorization header, never here. */
export interface HelloFrame {
  v: 1;
  t: 'hello';
  workerId: string;
  /** Random id of the worker's outgoing seq space; a restarted worker process starts a new one. */
  stream: string;
  /** The hub→worker stream the worker's inbox belongs to ('' when none yet). */
  peerStream: string;
  /** Highest hub→worker seq the worker has processed, so the hub resumes after it. */
  processed: number;
  /** Max unacked hub→worker data frames the worker accepts in flight. */
  window: number;
  /** Highest protocol revision the worker speaks; absent (revision 1) from older workers. */
  rev?: number;
}

/** Hub → worker, reply to hello. */
export interface WelcomeFrame {
  v: 1;
  t: 'welcome';
  hubId: string;
  /** Random id of the hub's outgoing (command) seq space for this worker. */
  stream: string;
  /** Fences older links of the same worker id: higher wins. */
  epoch: number;
  /** Highest worker→hub seq the hub has processed; the worker replays after it. */
  processed: number;
  heartbeatIntervalMs: number;
  heartbeatMisses: number;
  /** Max unacked data frames the worker may have in flight (flow-control window). */
  window: number;
  maxFrameBytes: number;
  /** Highest protocol revision the hub speaks; absent (revision 1) from older hubs. */
  rev?: number;
}

export interface DataFrame {
  v: 1;
  t: 'data';
  seq: number;
  /** W3C traceparent of the producer span, when tracing is on. */
  tp?: string;
  p: JsonValue;
}

/** One message inside a batch frame: a data frame without its envelope. */
export interface BatchItem {
  seq: number;
  /** W3C traceparent of this message's producer span, when tracing is on. */
  tp?: string;
  p: JsonValue;
}

/**
 * Revision 2: the data messages that were waiting, in one frame and one
 * write. Each keeps its own seq and traceparent; seqs strictly increase
 * (gaps are messages the sender dropped under a drop policy).
 */
export interface BatchFrame {
  v: 1;
  t: 'batch';
  m: BatchItem[];
}

/** Cumulative: every seq ≤ `seq` has been processed by the receiver. */
export interface AckFrame {
  v: 1;
  t: 'ack';
  seq: number;
}

export interface HeartbeatFrame {
  v: 1;
  t: 'hb';
  id: number;
  /** Sender's wall clock, ms since epoch. */
  ts: number;
  progress: Progress;
}

export interface HeartbeatAckFrame {
  v: 1;
  t: 'hb-ack';
  id: number;
  /** Echo of the heartbeat's `ts`, so the sender computes RTT on its own clock. */
  ts: number;
  /**
   * Revision 3: ms the answer was held, to leave with the answerer's own next
   * heartbeat in one write (one syscall and one read fewer per interval and
   * link). The sender's RTT is the round trip less this. Absent: answered at once.
   */
  held?: number;
}

/** Sent just before a deliberate close so the peer logs a reason even if the close frame is lost. */
export interface CloseReasonFrame {
  v: 1;
  t: 'close';
  code: number;
  reason: string;
}

export type Frame =
  | HelloFrame
  | WelcomeFrame
  | DataFrame
  | BatchFrame
  | AckFrame
  | HeartbeatFrame
  | HeartbeatAckFrame
  | CloseReasonFrame;

export type FrameType = Frame['t'];

export const FRAME_TYPES: readonly FrameType[] = [
  'hello',
  'welcome',
  'data',
  'batch',
  'ack',
  'hb',
  'hb-ack',
  'close',
];
