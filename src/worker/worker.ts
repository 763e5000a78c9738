import { WebSocket } from 'ws';
import * as D from '../defaults.js';
import { ClosedError, ConnectionError, DeadlineError, errorCode, type LinkwatchError } from '../errors.js';
import { Backoff } from '../link/backoff.js';
import { bindEndpoint } from '../link/endpoint.js';
import { type EventScope, type LinkEventListener, LinkEvents } from '../link/events.js';
import { LinkHooks } from '../link/hooks.js';
import { holdsAcks, Link, type LinkDown } from '../link/link.js';
import { linkSettings } from '../link/options.js';
import type { SendReceipt } from '../link/outbox.js';
import { Session, type SessionCounters } from '../link/session.js';
import type { LinkView, SessionView } from '../link/view.js';
import { reuseReceiverFragments } from '../link/ws-receiver.js';
import { CloseCode } from '../protocol/close-codes.js';
import { BATCH_REVISION, type JsonValue, PROTOCOL_REVISION, type WelcomeFrame } from '../protocol/frames.js';
import { WorkQueue } from '../queue/work-queue.js';
import { safeUrl } from '../validate.js';
import { type DialResult, dial } from './dialer.js';
import { Failover, type FailoverDecision } from './failover.js';
import { type ParsedWorkerOptions, parseWorkerOptions, type WorkerOptions } from './options.js';

export type { WorkerOptions } from './options.js';

/** The longest wait between dials while the hub's address refuses connections, ms. */
export const REFUSED_MAX_DELAY_MS = 3000;

/** The dial found nothing listening (ECONNREFUSED): the hub is down or restarting. */
function refused(err: LinkwatchError): boolean {
  return (
    err.code === 'LW_ERR_CONNECT' && (err.cause as { code?: string } | undefined)?.code === 'ECONNREFUSED'
  );
}

export type WorkerState = 'idle' | 'connecting' | 'connected' | 'backoff' | 'stopping' | 'stopped';

export interface WorkerStatus {
  workerId: string;
  state: WorkerState;
  url: string | undefined;
  hubId: string | undefined;
  epoch: number | undefined;
  lastRttMs: number | undefined;
  outbox: { messages: number; bytes: number; oldestAgeMs: number; waiting: number };
  counters: SessionCounters;
}

export interface StopReport {
  /** Messages sent but never acked when the deadline passed. */
  unacked: number;
  /** Commands still queued or running. */
  abandoned: number;
  timedOut: boolean;
}

/**
 * The worker end of a link: dials a hub (dialer.ts) with backoff and failover
 * (failover.ts), keeps an outbox that survives reconnects, and replays what
 * the hub has not processed.
 */
export class Worker {
  readonly #o: ParsedWorkerOptions;
  readonly #events = new LinkEvents();
  /** Where subscribers add their hooks (telemetry's spans, the watchdog's state); each removes only its own. */
  readonly hooks = new LinkHooks();
  readonly #session: Session;
  readonly #sessions: ReadonlyMap<string, Session>;
  readonly #backoff: Backoff;
  readonly #failover: Failover;
  #state: WorkerState = 'idle';
  #ws: WebSocket | undefined;
  #dialing: { abort(): void } | undefined;
  #link: Link | undefined;
  #epoch: number | undefined;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  // Start of the current outage (first failure since the last connection), if any.
  #outageStart: number | undefined;
  #outageAttempts = 0;
  #everConnected = false;
  // Resolvers waiting for the next 'connected'.
  #connectWaiters = new Set<() => void>();
  #stopped: Promise<StopReport> | undefined;
  #dialStartedAt = 0;
  /** Why the worker stopped by itself (it gave up), if it did. */
  #gaveUp: LinkwatchError | undefined;

  constructor(options: WorkerOptions) {
    const o = parseWorkerOptions(options);
    // Fewer objects promoted per message read (see ws-receiver.ts).
    reuseReceiverFragments();
    this.#o = o;
    this.#backoff = new Backoff(o.backoff);
    this.#failover = new Failover({
      urls: o.hubs,
      minUptimeMs: this.#backoff.minUptimeMs,
      maxSupersedes: o.maxSupersedes,
    });
    this.#session = new Session({
      side: 'worker',
      workerId: o.workerId,
      events: this.#events,
      handler: o.handler,
      hooks: this.hooks,
      outbox: { maxMessages: o.outboxMaxMessages, maxBytes: o.outboxMaxBytes, policy: o.overflow },
      queue: { concurrency: o.queueConcurrency, capacity: o.queueCapacity, timeoutMs: o.handlerTimeoutMs },
      maxFrameBytes: o.maxFrameBytes,
      createQueue: (options) => new WorkQueue(options),
    });
    this.#sessions = new Map([[o.workerId, this.#session]]);
  }

  get workerId(): string {
    return this.#o.workerId;
  }
  get state(): WorkerState {
    return this.#state;
  }
  get session(): SessionView {
    return this.#session;
  }
  /** Set when the worker stopped by itself (for example after repeated supersedes). */
  get gaveUp(): LinkwatchError | undefined {
    return this.#gaveUp;
  }
  /** This worker's one session, for code that handles hubs and workers alike. */
  sessions(): ReadonlyMap<string, SessionView> {
    return this.#sessions;
  }

  linkOf(workerId: string): LinkView | undefined {
    return workerId === this.#o.workerId ? this.#link : undefined;
  }

  /** The live link, if connected. */
  get link(): LinkView | undefined {
    return this.#link;
  }

  /**
   * Subscribes to link events; returns the unsubscribe function. `scope`
   * 'lifecycle' skips the per-message events (cheaper: they are then not built).
   */
  on(listener: LinkEventListener, scope: EventScope = 'all'): () => void {
    return this.#events.subscribe(listener, scope);
  }

  start(): this {
    if (this.#state !== 'idle') return this;
    this.#dial();
    return this;
  }

  /**
   * Queues one message for the hub. Resolves once it is in the outbox (not
   * when acked); under the `block` policy it waits for room.
   */
  send(payload: JsonValue, traceparent?: string): Promise<SendReceipt> {
    if (this.#stopped) return Promise.reject(this.#gaveUp ?? new ClosedError('worker is stopping'));
    return this.#session.send(payload, traceparent);
  }

  /** Resolves at the next (or current) connection; rejects after `timeoutMs`. */
  waitConnected(timeoutMs = 10_000): Promise<void> {
    if (this.#state === 'connected') return Promise.resolve();
    return new Promise((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        this.#connectWaiters.delete(done);
        resolve();
      };
      const timer = setTimeout(() => {
        this.#connectWaiters.delete(done);
        reject(
          new DeadlineError('LW_ERR_HANDSHAKE_TIMEOUT', timeoutMs, `not connected within ${timeoutMs} ms`),
        );
      }, timeoutMs);
      this.#connectWaiters.add(done);
    });
  }

  status(): WorkerStatus {
    const o = this.#session.outbox;
    return {
      workerId: this.#o.workerId,
      state: this.#state,
      url: this.#ws ? safeUrl(this.#failover.url) : undefined,
      hubId: this.#session.hubId,
      epoch: this.#epoch,
      lastRttMs: this.#session.lastRttMs,
      outbox: { messages: o.size, bytes: o.bytes, oldestAgeMs: o.oldestAgeMs(), waiting: o.waiting },
      counters: { ...this.#session.counters },
    };
  }

  /** Tears the live link down (the watchdog's self-heal) and reconnects. */
  reconnect(reason: LinkwatchError): void {
    this.#link?.teardown(reason, { closeCode: undefined });
  }

  /**
   * Stops producing, waits up to `timeoutMs` for the hub to ack everything
   * and for running commands to finish, then closes. Reports what was left.
   */
  stop({ timeoutMs = D.DEFAULT_SHUTDOWN_TIMEOUT_MS }: { timeoutMs?: number } = {}): Promise<StopReport> {
    this.#stopped ??= this.#stop(timeoutMs);
    return this.#stopped;
  }

  async #stop(timeoutMs: number): Promise<StopReport> {
    const deadline = performance.now() + timeoutMs;
    this.#session.outbox.close(this.#gaveUp ?? new ClosedError('worker stopped'));
    const outbox = this.#session.outbox;
    // Only worth waiting for acks while a link could deliver them.
    while (outbox.size > 0 && this.#state === 'connected' && performance.now() < deadline) {
      await new Promise<void>((resolve) => {
        const off = this.#events.subscribe((e) => {
          if (e.type === 'data-acked' || e.type === 'disconnected') finish();
        });
        const timer = setTimeout(finish, Math.max(1, deadline - performance.now()));
        function finish() {
          off();
          clearTimeout(timer);
          resolve();
        }
      });
    }
    const idle = await this.#session.queue.idle(Math.max(1, deadline - performance.now()));
    this.#link?.flushAck();
    this.#state = 'stopping';
    clearTimeout(this.#retryTimer);
    const abandoned = this.#session.closeQueue('shutdown');
    const ws = this.#ws;
    this.#dialing?.abort();
    this.#link?.teardown(new ClosedError('worker stopped'), { closeCode: CloseCode.normal });
    if (ws && ws.readyState !== WebSocket.CLOSED) {
      await new Promise<void>((resolve) => ws.once('close', () => resolve()));
    }
    this.#state = 'stopped';
    return {
      unacked: outbox.size,
      abandoned: abandoned + (idle ? 0 : this.#session.queue.running),
      timedOut: outbox.size > 0 || !idle,
    };
  }

  #dial(): void {
    this.#state = 'connecting';
    const url = this.#failover.url;
    if (this.#events.active) {
      this.#events.emit({
        ...this.#session.eventBase(),
        type: 'dialing',
        url: safeUrl(url),
        attempt: this.#outageAttempts + 1,
      });
    }
    this.#dialStartedAt = performance.now();
    const s = this.#session;
    this.#dialing = dial(
      {
        url,
        token: this.#o.token,
        workerId: this.#o.workerId,
        handshakeTimeoutMs: this.#o.handshakeTimeoutMs,
        maxFrameBytes: this.#o.maxFrameBytes,
        tls: this.#o.tls,
        frameMask: this.#o.frameMask,
        hello: () => ({
          v: 1,
          t: 'hello',
          workerId: this.#o.workerId,
          stream: s.stream,
          peerStream: s.peerStream ?? '',
          processed: s.inbox.processed,
          window: this.#o.queueCapacity,
          rev: PROTOCOL_REVISION,
        }),
      },
      (result) => this.#dialed(url, result),
    );
  }

  #dialed(url: string, result: DialResult): void {
    this.#dialing = undefined;
    if (result.ok) {
      if (this.#state === 'stopping' || this.#state === 'stopped') {
        result.ws.terminate();
        return;
      }
      this.#welcomed(result.ws, url, result.welcome);
      return;
    }
    const err = result.error;
    if (this.#events.active) {
      this.#events.emit({
        ...this.#session.eventBase(),
        type: 'handshake-failed',
        url: safeUrl(url),
        errorType: err.code,
        handshakeMs: performance.now() - this.#dialStartedAt,
      });
      if (err.code === 'LW_ERR_AUTH' || err.code === 'LW_ERR_WORKER_ID_MISMATCH') {
        this.#events.emit({
          ...this.#session.eventBase(),
          type: 'auth-failed',
          errorType: err.code,
          remoteAddress: undefined,
        });
      }
    }
    // A busy hub said when to come back: honour it with jitter (1x to 2x), without growing the backoff.
    const delayMs =
      result.retryAfterMs === undefined ? undefined : Math.round(result.retryAfterMs * (1 + Math.random()));
    this.#scheduleRetry(err, this.#failover.dialFailed(), delayMs, refused(err));
  }

  #welcomed(ws: WebSocket, url: string, welcome: WelcomeFrame): void {
    const s = this.#session;
    s.hubId = welcome.hubId;
    s.bindPeerStream(welcome.stream);
    this.#epoch = welcome.epoch;
    this.#ws = ws;
    const o = this.#o;
    const link: Link = new Link(
      ws,
      s,
      linkSettings(o, {
        heartbeatIntervalMs: welcome.heartbeatIntervalMs,
        heartbeatMisses: welcome.heartbeatMisses,
        peerWindow: welcome.window,
        maxFrameBytes: Math.min(o.maxFrameBytes, welcome.maxFrameBytes),
        batch: (welcome.rev ?? 1) >= BATCH_REVISION,
        heldAcks: holdsAcks(welcome.rev, welcome.heartbeatMisses),
      }),
      (down) => this.#onLinkDown(ws, link, down),
    );
    this.#link = link;
    this.#state = 'connected';
    this.#backoff.connected(performance.now());
    if (this.#everConnected) s.counters.reconnects++;
    this.#everConnected = true;
    bindEndpoint(ws, link);
    const replayed = link.start(welcome.processed);
    // start() may have found the welcome itself broken (an ack beyond what was sent) and torn down.
    if (this.#link !== link) return;
    if (this.#events.active) {
      const base = s.eventBase();
      this.#events.emit({
        ...base,
        type: 'connected',
        url: safeUrl(url),
        epoch: welcome.epoch,
        handshakeMs: base.at - this.#dialStartedAt,
        replayed,
        peerProcessed: welcome.processed,
      });
      if (this.#outageStart !== undefined) {
        this.#events.emit({
          ...base,
          type: 'outage-ended',
          attempts: this.#outageAttempts,
          durationMs: base.at - this.#outageStart,
        });
      }
    }
    this.#outageStart = undefined;
    this.#outageAttempts = 0;
    for (const resolve of [...this.#connectWaiters]) resolve();
  }

  #onLinkDown(ws: WebSocket, link: Link, down: LinkDown): void {
    if (this.#link !== link) return;
    this.#link = undefined;
    if (this.#ws === ws) this.#ws = undefined;
    const uptimeMs = this.#backoff.disconnected(performance.now());
    if (this.#events.active) {
      this.#events.emit({
        ...this.#session.eventBase(),
        type: 'disconnected',
        errorType: down.error.code,
        closeCode: down.closeCode,
        uptimeMs,
      });
    }
    if (this.#state === 'stopping' || this.#state === 'stopped') return;
    const decision = this.#failover.linkDown(uptimeMs, down.error.code === 'LW_ERR_SUPERSEDED');
    this.#scheduleRetry(down.error, decision);
  }

  #scheduleRetry(
    error: LinkwatchError,
    decision: FailoverDecision,
    delayOverrideMs?: number,
    refusedNow = false,
  ): void {
    if (this.#state === 'stopping' || this.#state === 'stopped') return;
    if (decision.type === 'give-up') {
      this.#giveUp(decision.supersedes);
      return;
    }
    this.#state = 'backoff';
    this.#outageStart ??= performance.now();
    this.#outageAttempts++;
    if (decision.failedOver && this.#events.active) {
      this.#events.emit({
        ...this.#session.eventBase(),
        type: 'failover',
        fromUrl: safeUrl(decision.failedOver.from),
        toUrl: safeUrl(decision.failedOver.to),
      });
    }
    const next =
      delayOverrideMs === undefined
        ? this.#backoff.next()
        : { attempt: this.#backoff.attempt + 1, delayMs: delayOverrideMs };
    // Nothing listens (a hub restarting): a refused dial costs neither side anything, and a
    // restarted hub should see its fleet back within seconds, not after grown delays.
    if (refusedNow) next.delayMs = Math.min(next.delayMs, REFUSED_MAX_DELAY_MS);
    if (this.#events.active) {
      this.#events.emit({
        ...this.#session.eventBase(),
        type: 'reconnect-scheduled',
        attempt: next.attempt,
        delayMs: next.delayMs,
        url: safeUrl(decision.url),
        errorType: errorCode(error),
      });
    }
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      this.#dial();
    }, next.delayMs);
  }

  /**
   * Another process holds this worker id: retrying would flap both forever.
   * Stop, say so once with the id, and let the owner of this process decide.
   */
  #giveUp(supersedes: number): void {
    this.#gaveUp = new ConnectionError(
      'LW_ERR_SUPERSEDED',
      `worker id ${this.#o.workerId} was superseded ${supersedes} times in a row: another process uses the same id; stopping`,
    );
    if (this.#events.active) {
      this.#events.emit({
        ...this.#session.eventBase(),
        type: 'gave-up',
        errorType: 'LW_ERR_SUPERSEDED',
        reason: this.#gaveUp.message,
      });
    }
    void this.stop({ timeoutMs: 0 });
  }
}
