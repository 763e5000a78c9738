import type { Progress } from '../protocol/frames.js';
import type { EventScope, LinkEventListener } from './events.js';
import type { LinkHooks } from './hooks.js';
import type { SessionCounters } from './session.js';

/**
 * The one read-only interface subscribers (telemetry, the watchdog, your own
 * code) have to a Hub or a Worker: events to react to, and snapshots to read
 * at collection or check time. Nothing here lets a subscriber change a link;
 * the views are the live objects seen through read-only types, so reading
 * them allocates nothing per link.
 */
export interface LinkSource {
  /** Link events; 'lifecycle' skips the per-message ones (then they are not even built). */
  on(listener: LinkEventListener, scope?: EventScope): () => void;
  /** Hooks a subscriber adds (the returned function removes only its own), and the composed ones it may read. */
  readonly hooks: LinkHooks;
  /** Every session by worker id (a hub's: connected or within their TTL). A live view: read it, do not hold it. */
  sessions(): ReadonlyMap<string, SessionView>;
  /** The live link of a worker, if connected. */
  linkOf(workerId: string): LinkView | undefined;
}

/** One worker's session on this side, read-only. */
export interface SessionView {
  readonly workerId: string;
  /** This side's outgoing seq space; a new process starts a new one. */
  readonly stream: string;
  /** Known once a handshake completed. */
  readonly hubId: string | undefined;
  readonly counters: Readonly<SessionCounters>;
  /** performance.now() of the last heartbeat heard from the peer. */
  readonly lastHeartbeatAt: number | undefined;
  readonly lastRttMs: number | undefined;
  /** The peer's progress counters from its last heartbeat. */
  readonly peerProgress: Readonly<Progress> | undefined;
  readonly queue: QueueView;
  readonly outbox: OutboxView;
  /** CheckpointStore commits that threw or rejected (hub side). */
  readonly checkpointFailures: number;
}

export interface QueueView {
  /** Waiting plus running. */
  readonly depth: number;
  readonly capacity: number;
  readonly running: number;
  /** Handlers past their deadline that are still running. */
  readonly hung: number;
}

export interface OutboxView {
  /** Messages kept until acked. */
  readonly size: number;
  readonly bytes: number;
  /** Senders waiting for room (backpressure). */
  readonly waiting: number;
  /** Sent and not yet acked. */
  readonly inFlight: number;
  oldestAgeMs(now?: number): number;
}

/** A live link, read-only. */
export interface LinkView {
  /** Ms since the last proven round trip. */
  silentMs(): number;
  /** Bytes the socket holds in user space. */
  readonly bufferedAmount: number;
  readonly lastRttMs: number | undefined;
  /** Heartbeats unanswered in a row; a round trip, or data moving, resets it. */
  readonly consecutiveMisses: number;
  /** Data frames on this link (a batch is one frame): sent, and received from the peer. */
  readonly dataFrames: { readonly sent: number; readonly received: number };
  readonly settings: {
    readonly heartbeatIntervalMs: number;
    readonly heartbeatMisses: number;
    readonly highWatermarkBytes: number;
    readonly sendStallTimeoutMs: number;
  };
}
