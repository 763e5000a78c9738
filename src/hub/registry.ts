import type { WebSocket } from 'ws';
import { ClosedError } from '../errors.js';
import type { LinkEvents } from '../link/events.js';
import type { LinkHooks } from '../link/hooks.js';
import type { Link } from '../link/link.js';
import { newSessionCounters, Session, type SessionCounters } from '../link/session.js';
import { WorkQueue } from '../queue/work-queue.js';
import type { ParsedHubOptions } from './options.js';

/** One worker id's state on this hub: its session, outliving links, and the live link if any. */
export interface Peer {
  session: Session;
  ws: WebSocket | undefined;
  link: Link | undefined;
  epoch: number;
  connectedAt: number | undefined;
  disconnectedAt: number | undefined;
  ttlTimer: ReturnType<typeof setTimeout> | undefined;
  lastError: string | undefined;
}

/**
 * The hub's workers by id. A session is created at a worker's first hello and
 * forgotten `sessionTtlMs` after its last link went down; its counters are
 * then folded into `forgotten`, so totals stay monotonic.
 */
export class Registry {
  readonly #o: ParsedHubOptions;
  readonly #events: LinkEvents;
  readonly #hooks: LinkHooks;
  readonly #peers = new Map<string, Peer>();
  // The same sessions by worker id, so sessions() never rebuilds a fleet-wide map.
  readonly #sessions = new Map<string, Session>();
  readonly #forgotten: SessionCounters = newSessionCounters();

  constructor(options: ParsedHubOptions, events: LinkEvents, hooks: LinkHooks) {
    this.#o = options;
    this.#events = events;
    this.#hooks = hooks;
  }

  get sessions(): ReadonlyMap<string, Session> {
    return this.#sessions;
  }
  get(workerId: string): Peer | undefined {
    return this.#peers.get(workerId);
  }
  values(): IterableIterator<Peer> {
    return this.#peers.values();
  }
  entries(): IterableIterator<[string, Peer]> {
    return this.#peers.entries();
  }

  /** The worker's peer, created with a fresh session at its first hello. */
  peer(workerId: string): Peer {
    let peer = this.#peers.get(workerId);
    if (peer) return peer;
    const o = this.#o;
    const checkpoint = o.checkpoint;
    const session = new Session({
      side: 'hub',
      workerId,
      events: this.#events,
      handler: o.handler,
      hooks: this.#hooks,
      outbox: { maxMessages: o.outboxMaxMessages, maxBytes: o.outboxMaxBytes, policy: o.overflow },
      queue: { concurrency: o.queueConcurrency, capacity: o.queueCapacity, timeoutMs: o.handlerTimeoutMs },
      maxFrameBytes: o.maxFrameBytes,
      createQueue: (options) => new WorkQueue(options),
      onProcessed: checkpoint
        ? (stream, processed) => checkpoint.commit(workerId, stream, processed)
        : undefined,
    });
    session.hubId = o.hubId;
    peer = {
      session,
      ws: undefined,
      link: undefined,
      epoch: 0,
      connectedAt: undefined,
      disconnectedAt: undefined,
      ttlTimer: undefined,
      lastError: undefined,
    };
    this.#peers.set(workerId, peer);
    this.#sessions.set(workerId, session);
    return peer;
  }

  /** Starts the TTL after which a disconnected worker's session is forgotten. */
  expireLater(peer: Peer): void {
    clearTimeout(peer.ttlTimer);
    peer.ttlTimer = setTimeout(() => this.#forget(peer), this.#o.sessionTtlMs);
  }

  #forget(peer: Peer): void {
    const id = peer.session.workerId;
    if (this.#peers.get(id) !== peer || peer.link) return;
    addCounters(this.#forgotten, peer.session.counters);
    peer.session.closeQueue('session-expired');
    peer.session.outbox.close(new ClosedError('session expired'));
    this.#peers.delete(id);
    this.#sessions.delete(id);
  }

  /** Counters summed over every session this hub has had, forgotten ones included. */
  totals(): SessionCounters {
    const sum = { ...this.#forgotten };
    for (const p of this.#peers.values()) addCounters(sum, p.session.counters);
    return sum;
  }
}

function addCounters(into: SessionCounters, from: SessionCounters): void {
  for (const k of Object.keys(from) as (keyof SessionCounters)[]) into[k] = (into[k] ?? 0) + from[k];
}
