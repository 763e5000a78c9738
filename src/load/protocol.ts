import type { SparseCounts } from './rtt-histogram.js';

/** What the load parent tells a child, over the fork IPC channel (tokens never go on argv). */
export type ParentMessage =
  | {
      type: 'start';
      hubs: string[];
      /** Worker ids this child runs. */
      ids: string[];
      /** The token of each id: one shared token, or one per id (same order as `ids`). */
      token: string | string[];
      rate: number;
      size: number;
      backoffMaxMs: number | undefined;
      handshakeTimeoutMs: number | undefined;
    }
  /** Start dialing now; `at` is the parent's Date.now(), the zero of connect times. */
  | { type: 'go'; at: number }
  | { type: 'stop'; timeoutMs: number };

export interface ChildCounts {
  /** Workers connected now. */
  connected: number;
  /** Connected, and acks moved since the link came up: data flows again. */
  streaming: number;
  /** Workers connected at least once. */
  everConnected: number;
  /** ms from go to the last of this child's workers' first connect (while everConnected < ids). */
  lastFirstConnectMs: number;
  sent: number;
  acked: number;
  replayed: number;
  dropped: number;
  reconnects: number;
  /** Sends skipped because the worker's outbox was full and a send already waited. */
  throttled: number;
  /** This process's event-loop delay p99 since the last report, ms: RTT above it is not the hub's. */
  loopDelayP99Ms: number;
  /** Failed handshakes by error code (LW_ERR_HANDSHAKE_TIMEOUT, LW_ERR_HUB_BUSY, ...). */
  handshakeFailures: Record<string, number>;
}

/** What a child tells its parent. */
export type ChildMessage =
  | { type: 'ready'; pid: number }
  | ({
      type: 'report';
      rtt: { counts: SparseCounts; max: number };
      connectMs: number[] | undefined;
    } & ChildCounts)
  | ({
      type: 'stopped';
      rtt: { counts: SparseCounts; max: number };
      connectMs: number[] | undefined;
      /** Messages sent and never acked when the drain deadline passed. */
      unacked: number;
    } & ChildCounts)
  | { type: 'error'; message: string };
