import type { Link } from '../link/link.js';
import type { Session, SessionCounters } from '../link/session.js';
import type { Progress } from '../protocol/frames.js';

/** One worker as served on GET /links. */
export interface LinkInfo {
  workerId: string;
  connected: boolean;
  epoch: number;
  /** ms since the worker's last heartbeat reached us; null before the first. */
  heartbeatAgeMs: number | null;
  lastRttMs: number | null;
  seqs: { received: number; processed: number; acked: number };
  queueDepth: number;
  queueHung: number;
  reconnects: number;
  counters: SessionCounters;
  /** Worker-reported progress from its last heartbeat. */
  peerProgress: Progress | null;
  lastError: string | null;
  /** Watchdog state when a watchdog is attached, else healthy/down. */
  state: string;
  /** Watchdog alerts firing for this link. */
  alerts: string[];
}

export function linkInfo(
  workerId: string,
  p: { session: Session; link: Link | undefined; epoch: number; lastError: string | undefined },
  state?: string,
  alerts: string[] = [],
): LinkInfo {
  const s = p.session;
  const now = performance.now();
  return {
    workerId,
    connected: p.link !== undefined,
    epoch: p.epoch,
    heartbeatAgeMs: s.lastHeartbeatAt === undefined ? null : Math.round(now - s.lastHeartbeatAt),
    lastRttMs: s.lastRttMs === undefined ? null : Math.round(s.lastRttMs * 100) / 100,
    seqs: {
      received: s.inbox.lastAccepted,
      processed: s.inbox.processed,
      acked: p.link?.lastAckSent ?? s.inbox.processed,
    },
    queueDepth: s.queue.depth,
    queueHung: s.queue.hung,
    reconnects: s.counters.reconnects,
    counters: { ...s.counters },
    // A copy: the session updates its own in place at every heartbeat.
    peerProgress: s.peerProgress ? { ...s.peerProgress } : null,
    lastError: p.lastError ?? null,
    state: agreeingState(p.link !== undefined, state),
    alerts,
  };
}

/**
 * The watchdog's state, made to agree with `connected`: the watchdog samples
 * on a timer, so right after a disconnect it may still say healthy, and right
 * after a connect it may still say down.
 */
function agreeingState(connected: boolean, state: string | undefined): string {
  if (state === undefined) return connected ? 'healthy' : 'down';
  if (!connected) return state === 'connecting' ? state : 'down';
  return state === 'down' ? 'connecting' : state;
}
