import { WebSocket } from 'ws';
import * as D from '../defaults.js';
import {
  AuthError,
  ClosedError,
  ConnectionError,
  DeadlineError,
  errorCode,
  type LinkwatchError,
  ProtocolError,
} from '../errors.js';
import { Backoff, type BackoffOptions } from '../link/backoff.js';
import { type EventScope, type LinkEventListener, LinkEvents, type Side } from '../link/events.js';
import type { LinkHooks } from '../link/hooks.js';
import { Link, type LinkDown } from '../link/link.js';
import { OVERFLOW_POLICIES, type OverflowPolicy, type SendReceipt } from '../link/outbox.js';
import { Session, type SessionCounters } from '../link/session.js';
import { CloseCode } from '../protocol/close-codes.js';
import { decodeFrame, encodeFrame, WORKER_ID_PATTERN } from '../protocol/codec.js';
import { BATCH_REVISION, type JsonValue, PROTOCOL_REVISION, type WelcomeFrame } from '../protocol/frames.js';
import type { Handler } from '../queue/work-queue.js';
import { functionOption, intOption, oneOf, safeUrl, stringOption, urlOption } from '../validate.js';

export interface WorkerOptions {
  /** Hub URLs (`ws://` or `wss://`), tried in order; failover rotates through them. */
  hubs: string[];
  /** This worker's id: `[A-Za-z0-9._:-]`, up to 128 chars. It is a metric label, so keep it stable. */
  workerId: string;
  /** Bearer token. Never logged, never in telemetry. */
  token: string;
  /** Handles hub→worker commands. @default ignores them */
  handler?: Handler;
  /** Dial plus upgrade plus welcome must finish within this, ms. @default 5000 */
  handshakeTimeoutMs?: number;
  backoff?: BackoffOptions;
  /** @default 10000 */
  outboxMaxMessages?: number;
  /** @default 64 MiB */
  outboxMaxBytes?: number;
  /** What `send()` does when the outbox is full. @default 'block' */
  overflow?: OverflowPolicy;
  /** Command handlers running at once. @default 1 */
  queueConcurrency?: number;
  /** Commands waiting plus running; also the window the hub may fill. @default 1000 */
  queueCapacity?: number;
  /** Per-command handler deadline, ms. @default 30000 */
  handlerTimeoutMs?: number;
  /** @default 20 */
  ackDelayMs?: number;
  /** @default 64 */
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
  /** @default 1 MiB */
  maxFrameBytes?: number;
  /** Extra TLS options for `wss://` (a private CA, say). */
  tls?: { ca?: string | Buffer; rejectUnauthorized?: boolean };
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

interface Parsed {
  hubs: string[];
  workerId: string;
  token: string;
  handshakeTimeoutMs: number;
  queueCapacity: number;
  ackDelayMs: number;
  ackBatch: number;
  highWatermarkBytes: number;
  sendStallTimeoutMs: number;
  maxFrameBytes: number;
  tls: WorkerOptions['tls'];
}

/**
 * The worker end of a link: dials a hub with backoff and failover, keeps an
 * outbox that survives reconnects, and replays what the hub has not processed.
 */
export class Worker {
  readonly #o: Parsed;
  readonly #events = new LinkEvents();
  /** Telemetry installs its producer/consumer span hooks here. */
  readonly hooks: LinkHooks = {};
  readonly #session: Session;
  readonly #backoff: Backoff;
  #state: WorkerState = 'idle';
  #urlIndex = 0;
  #ws: WebSocket | undefined;
  #link: Link | undefined;
  #epoch: number | undefined;
  #handshakeTimer: ReturnType<typeof setTimeout> | undefined;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  // Start of the current outage (first failure since the last connection), if any.
  #outageStart: number | undefined;
  #outageAttempts = 0;
  #everConnected = false;
  // Links in a row at the current URL that died before minUptimeMs; the second one moves on.
  #unstableLinks = 0;
  // Resolvers waiting for the next 'connected'.
  #connectWaiters = new Set<() => void>();
  #stopped: Promise<StopReport> | undefined;
  #dialStartedAt = 0;

  constructor(options: WorkerOptions) {
    if (typeof options !== 'object' || options === null)
      throw new TypeError('Expected `options` to be an object');
    if (!Array.isArray(options.hubs) || options.hubs.length === 0) {
      throw new TypeError(
        `Expected \`hubs\` to be a non-empty array of ws:// or wss:// URLs, got ${typeof options.hubs}`,
      );
    }
    const hubs = options.hubs.map((u, i) => urlOption(`hubs[${i}]`, u));
    const workerId = stringOption(
      'workerId',
      options.workerId,
      WORKER_ID_PATTERN,
      'an id of [A-Za-z0-9._:-], 1-128 chars',
    );
    if (typeof options.token !== 'string' || options.token.length === 0) {
      throw new TypeError('Expected `token` to be a non-empty string');
    }
    const maxFrameBytes = intOption('maxFrameBytes', options.maxFrameBytes, D.DEFAULT_MAX_FRAME_BYTES, {
      min: 1024,
    });
    const queueCapacity = intOption('queueCapacity', options.queueCapacity, D.DEFAULT_QUEUE_CAPACITY, {
      min: 1,
    });
    this.#o = {
      hubs,
      workerId,
      token: options.token,
      handshakeTimeoutMs: intOption(
        'handshakeTimeoutMs',
        options.handshakeTimeoutMs,
        D.DEFAULT_HANDSHAKE_TIMEOUT_MS,
        {
          min: 1,
        },
      ),
      queueCapacity,
      ackDelayMs: intOption('ackDelayMs', options.ackDelayMs, D.DEFAULT_ACK_DELAY_MS, { min: 0 }),
      ackBatch: intOption('ackBatch', options.ackBatch, D.DEFAULT_ACK_BATCH, { min: 1 }),
      highWatermarkBytes: intOption(
        'highWatermarkBytes',
        options.highWatermarkBytes,
        D.DEFAULT_HIGH_WATERMARK_BYTES,
        {
          min: 1,
        },
      ),
      sendStallTimeoutMs: intOption(
        'sendStallTimeoutMs',
        options.sendStallTimeoutMs,
        D.DEFAULT_SEND_STALL_TIMEOUT_MS,
        {
          min: 1,
        },
      ),
      maxFrameBytes,
      tls: options.tls,
    };
    this.#backoff = new Backoff(validateBackoff(options.backoff));
    this.#session = new Session({
      side: 'worker' satisfies Side,
      workerId,
      events: this.#events,
      handler: functionOption<Handler>('handler', options.handler, () => {}),
      hooks: this.hooks,
      outbox: {
        maxMessages: intOption(
          'outboxMaxMessages',
          options.outboxMaxMessages,
          D.DEFAULT_OUTBOX_MAX_MESSAGES,
          { min: 1 },
        ),
        maxBytes: intOption('outboxMaxBytes', options.outboxMaxBytes, D.DEFAULT_OUTBOX_MAX_BYTES, {
          min: 1024,
        }),
        policy: oneOf('overflow', options.overflow, OVERFLOW_POLICIES, 'block'),
      },
      queue: {
        concurrency: intOption('queueConcurrency', options.queueConcurrency, D.DEFAULT_QUEUE_CONCURRENCY, {
          min: 1,
        }),
        capacity: queueCapacity,
        timeoutMs: intOption('handlerTimeoutMs', options.handlerTimeoutMs, D.DEFAULT_HANDLER_TIMEOUT_MS, {
          min: 1,
        }),
      },
      maxFrameBytes,
    });
  }

  get workerId(): string {
    return this.#o.workerId;
  }
  get state(): WorkerState {
    return this.#state;
  }
  get session(): Session {
    return this.#session;
  }
  /** This worker's one session, for code that handles hubs and workers alike. */
  sessions(): ReadonlyMap<string, Session> {
    return new Map([[this.#o.workerId, this.#session]]);
  }

  linkOf(workerId: string): Link | undefined {
    return workerId === this.#o.workerId ? this.#link : undefined;
  }

  /** The live link, if connected. */
  get link(): Link | undefined {
    return this.#link;
  }

  /** Subscribes to every link event; returns the unsubscribe function. */
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
    if (this.#stopped) return Promise.reject(new ClosedError('worker is stopping'));
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
      url: this.#ws ? safeUrl(this.#o.hubs[this.#urlIndex]!) : undefined,
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
    this.#session.outbox.close(new ClosedError('worker stopped'));
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
    clearTimeout(this.#handshakeTimer);
    const abandoned = this.#session.closeQueue('shutdown');
    const ws = this.#ws;
    this.#link?.teardown(new ClosedError('worker stopped'), { closeCode: CloseCode.normal });
    if (ws && !this.#link) ws.terminate();
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

  #emit = (type: 'dialing', url: string, attempt: number) => {
    if (this.#events.active)
      this.#events.emit({ ...this.#session.eventBase(), type, url: safeUrl(url), attempt });
  };

  #dial(): void {
    this.#state = 'connecting';
    const url = this.#o.hubs[this.#urlIndex]!;
    this.#emit('dialing', url, this.#outageAttempts + 1);
    this.#dialStartedAt = performance.now();
    const ws = new WebSocket(url, {
      headers: { authorization: `Bearer ${this.#o.token}`, 'x-linkwatch-worker-id': this.#o.workerId },
      handshakeTimeout: this.#o.handshakeTimeoutMs,
      // The codec enforces maxFrameBytes with a close reason; ws stops anything past twice that unread.
      maxPayload: this.#o.maxFrameBytes * 2,
      perMessageDeflate: false,
      ...(this.#o.tls ?? {}),
    });
    this.#ws = ws;
    let failure: LinkwatchError | undefined;
    // This socket's link; this.#link may already belong to a newer socket.
    let link: Link | undefined;
    this.#handshakeTimer = setTimeout(() => {
      failure = new DeadlineError(
        'LW_ERR_HANDSHAKE_TIMEOUT',
        this.#o.handshakeTimeoutMs,
        `no welcome within ${this.#o.handshakeTimeoutMs} ms`,
      );
      ws.terminate();
    }, this.#o.handshakeTimeoutMs);
    ws.on('open', () => {
      const s = this.#session;
      ws.send(
        encodeFrame({
          v: 1,
          t: 'hello',
          workerId: this.#o.workerId,
          stream: s.stream,
          peerStream: s.peerStream ?? '',
          processed: s.inbox.processed,
          window: this.#o.queueCapacity,
          rev: PROTOCOL_REVISION,
        }),
      );
    });
    ws.on('message', (raw: Buffer, isBinary: boolean) => {
      if (link) {
        link.receive(raw, isBinary);
        return;
      }
      try {
        const frame = decodeFrame(raw, isBinary, this.#o.maxFrameBytes);
        if (frame.t !== 'welcome') {
          throw new ProtocolError(
            'LW_ERR_OUT_OF_ORDER',
            CloseCode.protocolError,
            `expected welcome, got ${frame.t}`,
          );
        }
        link = this.#welcomed(ws, url, frame);
      } catch (err) {
        failure = err instanceof ProtocolError ? err : new ConnectionError('LW_ERR_PROTOCOL', String(err));
        const code = err instanceof ProtocolError ? err.closeCode : CloseCode.protocolError;
        ws.close(code, failure.message.slice(0, 120));
      }
    });
    ws.on('error', (err: Error) => {
      failure ??= classifyDialError(err);
    });
    ws.on('close', (code: number, reason: Buffer) => {
      clearTimeout(this.#handshakeTimer);
      if (link) {
        link.transportClosed();
        if (!link.isDown) {
          link.teardown(
            new ConnectionError(
              code === CloseCode.superseded ? 'LW_ERR_SUPERSEDED' : 'LW_ERR_CONNECTION_LOST',
              `hub closed the link: ${code} ${reason.toString().slice(0, 120)}`,
            ),
            { closeCode: undefined, peerCode: code },
          );
        }
        return; // onLinkDown handles the rest
      }
      ws.removeAllListeners();
      this.#ws = undefined;
      const err =
        failure ??
        new ConnectionError(
          'LW_ERR_CONNECT',
          `closed during handshake: ${code} ${reason.toString().slice(0, 120)}`,
        );
      if (this.#events.active) {
        this.#events.emit({
          ...this.#session.eventBase(),
          type: 'handshake-failed',
          url: safeUrl(url),
          errorType: err.code,
          handshakeMs: performance.now() - this.#dialStartedAt,
        });
        if (err instanceof AuthError) {
          this.#events.emit({
            ...this.#session.eventBase(),
            type: 'auth-failed',
            errorType: err.code,
            remoteAddress: undefined,
          });
        }
      }
      this.#scheduleRetry(err, false);
    });
  }

  #welcomed(ws: WebSocket, url: string, welcome: WelcomeFrame): Link {
    clearTimeout(this.#handshakeTimer);
    const s = this.#session;
    s.hubId = welcome.hubId;
    s.bindPeerStream(welcome.stream);
    this.#epoch = welcome.epoch;
    const link = new Link(
      ws,
      s,
      {
        heartbeatIntervalMs: welcome.heartbeatIntervalMs,
        heartbeatMisses: welcome.heartbeatMisses,
        sendWindow: welcome.window,
        receiveWindow: this.#o.queueCapacity,
        maxFrameBytes: Math.min(this.#o.maxFrameBytes, welcome.maxFrameBytes),
        ackDelayMs: this.#o.ackDelayMs,
        ackBatch: this.#o.ackBatch,
        highWatermarkBytes: this.#o.highWatermarkBytes,
        sendStallTimeoutMs: this.#o.sendStallTimeoutMs,
        batch: (welcome.rev ?? 1) >= BATCH_REVISION,
      },
      (down) => this.#onLinkDown(ws, link, down),
    );
    this.#link = link;
    this.#state = 'connected';
    this.#backoff.connected(performance.now());
    if (this.#everConnected) s.counters.reconnects++;
    this.#everConnected = true;
    const replayed = link.start(welcome.processed);
    // start() closes a link whose welcome claims more than was ever sent; it never connected.
    if (link.isDown) return link;
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
    return link;
  }

  #onLinkDown(ws: WebSocket, link: Link, down: LinkDown): void {
    if (this.#link !== link) return;
    this.#link = undefined;
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
    if (this.#state === 'stopping') {
      ws.once('close', () => ws.removeAllListeners());
      return;
    }
    // Listeners stay until the socket's 'close' so late errors are swallowed, then go.
    ws.once('close', () => ws.removeAllListeners());
    this.#ws = undefined;
    this.#unstableLinks = uptimeMs >= this.#backoff.minUptimeMs ? 0 : this.#unstableLinks + 1;
    this.#scheduleRetry(down.error, this.#unstableLinks <= 1);
  }

  /**
   * A link that was up gets one retry at the same hub (`stay`); a failed dial
   * moves on, and so does a second link in a row that died before
   * minUptimeMs, or a hub that accepts and drops us would hold us forever.
   */
  #scheduleRetry(error: LinkwatchError, stay: boolean): void {
    if (this.#state === 'stopping' || this.#state === 'stopped') return;
    this.#state = 'backoff';
    this.#outageStart ??= performance.now();
    this.#outageAttempts++;
    const from = this.#o.hubs[this.#urlIndex]!;
    if (!stay && this.#o.hubs.length > 1) {
      this.#urlIndex = (this.#urlIndex + 1) % this.#o.hubs.length;
      this.#unstableLinks = 0;
      if (this.#events.active) {
        this.#events.emit({
          ...this.#session.eventBase(),
          type: 'failover',
          fromUrl: safeUrl(from),
          toUrl: safeUrl(this.#o.hubs[this.#urlIndex]!),
        });
      }
    }
    const { attempt, delayMs } = this.#backoff.next();
    if (this.#events.active) {
      this.#events.emit({
        ...this.#session.eventBase(),
        type: 'reconnect-scheduled',
        attempt,
        delayMs,
        url: safeUrl(this.#o.hubs[this.#urlIndex]!),
        errorType: errorCode(error),
      });
    }
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      this.#dial();
    }, delayMs);
  }
}

function classifyDialError(err: Error): LinkwatchError {
  const m = /Unexpected server response: (\d+)/.exec(err.message);
  if (m) {
    const status = Number(m[1]);
    if (status === 401) return new AuthError('LW_ERR_AUTH', 'hub rejected the token (HTTP 401)');
    if (status === 403)
      return new AuthError(
        'LW_ERR_WORKER_ID_MISMATCH',
        'hub refused this worker id for the token (HTTP 403)',
      );
    return new ConnectionError('LW_ERR_CONNECT', `hub answered HTTP ${status}`);
  }
  // Connection errors: keep the errno code only, never the message (it may carry the URL).
  const code = (err as NodeJS.ErrnoException).code;
  return new ConnectionError('LW_ERR_CONNECT', `dial failed: ${code ?? err.name}`, { cause: err });
}

function validateBackoff(b: BackoffOptions | undefined): BackoffOptions {
  if (b === undefined) return {};
  if (typeof b !== 'object' || b === null) throw new TypeError('Expected `backoff` to be an object');
  const out: BackoffOptions = {
    initialDelayMs: intOption('backoff.initialDelayMs', b.initialDelayMs, 250, { min: 1 }),
    maxDelayMs: intOption('backoff.maxDelayMs', b.maxDelayMs, 30_000, { min: 1 }),
    multiplier: b.multiplier === undefined ? 2 : b.multiplier,
    minUptimeMs: intOption('backoff.minUptimeMs', b.minUptimeMs, 10_000, { min: 0 }),
  };
  if (typeof out.multiplier !== 'number' || !(out.multiplier >= 1)) {
    throw new TypeError(`Expected \`backoff.multiplier\` to be a number ≥ 1, got ${String(b.multiplier)}`);
  }
  if (b.random) out.random = b.random;
  return out;
}
