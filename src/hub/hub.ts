import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { hostname } from 'node:os';
import { type WebSocket, WebSocketServer } from 'ws';
import * as D from '../defaults.js';
import {
  ClosedError,
  ConnectionError,
  type DeadlineError,
  type LinkwatchError,
  ProtocolError,
} from '../errors.js';
import { type EventScope, type LinkEventListener, LinkEvents } from '../link/events.js';
import type { LinkHooks } from '../link/hooks.js';
import { Link, type LinkDown } from '../link/link.js';
import { OVERFLOW_POLICIES, type SendReceipt } from '../link/outbox.js';
import { Session, type SessionCounters } from '../link/session.js';
import { CloseCode, clampReason } from '../protocol/close-codes.js';
import { decodeFrame, encodeFrame } from '../protocol/codec.js';
import { BATCH_REVISION, type HelloFrame, type JsonValue, PROTOCOL_REVISION } from '../protocol/frames.js';
import type { Handler } from '../queue/work-queue.js';
import { functionOption, intOption, oneOf, stringOption } from '../validate.js';
import { TokenAuthenticator, type TokenEntry } from './auth.js';
import { type LinkInfo, linkInfo } from './link-info.js';

/** Durable "processed up to" per worker stream, so dedupe survives a hub restart. */
export interface CheckpointStore {
  load(workerId: string, stream: string): number | undefined;
  /**
   * Records that every seq ≤ `processed` of this stream was processed. The hub
   * acks only what this recorded (returned, or its promise resolved). A throw
   * or rejection is a `checkpoint-failed` event and closes the link with 4005,
   * so the worker replays what was not recorded.
   */
  commit(workerId: string, stream: string, processed: number): void | Promise<void>;
}

export interface HubOptions {
  /** @default '127.0.0.1' */
  host?: string;
  /** 0 picks a free port. @default 0 */
  port?: number;
  /** @default `<hostname>:<port>` for a fixed port, else 'hub-' + 8 random hex chars */
  hubId?: string;
  tokens: TokenEntry[];
  /** Processes every worker message, one worker's messages in order. */
  handler: Handler;
  /** @default 5000 */
  heartbeatIntervalMs?: number;
  /** @default 3 */
  heartbeatMisses?: number;
  /** Upgrade to hello must finish within this, ms. @default 5000 */
  handshakeTimeoutMs?: number;
  /** @default 1 MiB */
  maxFrameBytes?: number;
  /** Handlers running at once per worker; above 1, completion order may differ. @default 1 */
  queueConcurrency?: number;
  /** Per-worker items waiting plus running; the worker's flow-control window. @default 1000 */
  queueCapacity?: number;
  /** Per-item handler deadline, ms. @default 30000 */
  handlerTimeoutMs?: number;
  /** Hub→worker command outbox, per worker. @default 10000 */
  outboxMaxMessages?: number;
  /** @default 64 MiB */
  outboxMaxBytes?: number;
  /** @default 'block' */
  overflow?: 'block' | 'drop-oldest' | 'drop-newest' | 'reject';
  /** @default 20 */
  ackDelayMs?: number;
  /** @default 64 */
  ackBatch?: number;
  /** @default 1 MiB */
  highWatermarkBytes?: number;
  /**
   * Once the socket buffer passes the watermark, it must drain to half of it
   * within this, or it is a transport stall: tear down and reconnect, ms. The
   * slowest link accepted is `highWatermarkBytes / 2` per this time (about
   * 52 KB/s by default); lower the watermark for slower links. @default 10000
   */
  sendStallTimeoutMs?: number;
  /** Forget a disconnected worker's session after this, ms. @default 600000 */
  sessionTtlMs?: number;
  checkpoint?: CheckpointStore;
  /** Extra HTTP routes on the hub's port, keyed `'METHOD /path'` (the CLI's fault drills). */
  routes?: Record<string, (req: IncomingMessage, res: ServerResponse) => void>;
  /** Serve `wss://` with this PEM cert and key. */
  tls?: { cert: string | Buffer; key: string | Buffer };
}

export interface ShutdownReport {
  /** Items left in work queues when the deadline passed. */
  abandoned: number;
  /** Commands to workers never acked. */
  unacked: number;
  timedOut: boolean;
  workers: number;
}

interface Peer {
  session: Session;
  ws: WebSocket | undefined;
  link: Link | undefined;
  epoch: number;
  connectedAt: number | undefined;
  disconnectedAt: number | undefined;
  ttlTimer: ReturnType<typeof setTimeout> | undefined;
  lastError: string | undefined;
}

type Parsed = Required<Omit<HubOptions, 'checkpoint' | 'tls' | 'tokens' | 'overflow' | 'routes'>> &
  Pick<HubOptions, 'checkpoint' | 'tls' | 'overflow' | 'routes'>;

/**
 * The hub: an HTTP server that authenticates before upgrading, one Session
 * per worker id that outlives reconnects, and /healthz, /readyz, /links.
 */
export class Hub {
  readonly hubId: string;
  readonly #o: Parsed;
  readonly #auth: TokenAuthenticator;
  readonly #events = new LinkEvents();
  /** Telemetry installs its producer/consumer span hooks here. */
  readonly hooks: LinkHooks = {};
  readonly #peers = new Map<string, Peer>();
  // The same sessions by worker id, kept beside #peers so sessions() never rebuilds a fleet-wide map.
  readonly #sessions = new Map<string, Session>();
  readonly #server: Server;
  readonly #wss: WebSocketServer;
  // Sockets between accept and upgrade/hello; destroyed on close.
  readonly #pending = new Set<Socket | WebSocket>();
  #closing: Promise<ShutdownReport> | undefined;
  // Counters of sessions dropped after their TTL, so totals() stays monotonic.
  readonly #forgotten: SessionCounters = {
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
  };
  #listening = false;
  // Set by listen(); 0 before.
  #port = 0;
  /** Hub-wide counters that have no single worker. */
  readonly stats = { authFailures: 0, framesRejected: 0, handshakeTimeouts: 0 };

  constructor(options: HubOptions) {
    if (typeof options !== 'object' || options === null)
      throw new TypeError('Expected `options` to be an object');
    this.#auth = new TokenAuthenticator(options.tokens);
    this.hubId =
      options.hubId === undefined
        ? defaultHubId(options.port)
        : stringOption(
            'hubId',
            options.hubId,
            /^[A-Za-z0-9._:-]{1,128}$/,
            'an id of [A-Za-z0-9._:-], 1-128 chars',
          );
    this.#o = {
      host: options.host === undefined ? '127.0.0.1' : stringOption('host', options.host),
      port: intOption('port', options.port, 0, { max: 65535 }),
      hubId: this.hubId,
      handler: functionOption<Handler>('handler', options.handler),
      heartbeatIntervalMs: intOption(
        'heartbeatIntervalMs',
        options.heartbeatIntervalMs,
        D.DEFAULT_HEARTBEAT_INTERVAL_MS,
        {
          min: 10,
        },
      ),
      heartbeatMisses: intOption('heartbeatMisses', options.heartbeatMisses, D.DEFAULT_HEARTBEAT_MISSES, {
        min: 1,
      }),
      handshakeTimeoutMs: intOption(
        'handshakeTimeoutMs',
        options.handshakeTimeoutMs,
        D.DEFAULT_HANDSHAKE_TIMEOUT_MS,
        {
          min: 1,
        },
      ),
      maxFrameBytes: intOption('maxFrameBytes', options.maxFrameBytes, D.DEFAULT_MAX_FRAME_BYTES, {
        min: 1024,
      }),
      queueConcurrency: intOption('queueConcurrency', options.queueConcurrency, D.DEFAULT_QUEUE_CONCURRENCY, {
        min: 1,
      }),
      queueCapacity: intOption('queueCapacity', options.queueCapacity, D.DEFAULT_QUEUE_CAPACITY, { min: 1 }),
      handlerTimeoutMs: intOption(
        'handlerTimeoutMs',
        options.handlerTimeoutMs,
        D.DEFAULT_HANDLER_TIMEOUT_MS,
        { min: 1 },
      ),
      outboxMaxMessages: intOption(
        'outboxMaxMessages',
        options.outboxMaxMessages,
        D.DEFAULT_OUTBOX_MAX_MESSAGES,
        {
          min: 1,
        },
      ),
      outboxMaxBytes: intOption('outboxMaxBytes', options.outboxMaxBytes, D.DEFAULT_OUTBOX_MAX_BYTES, {
        min: 1024,
      }),
      overflow: oneOf('overflow', options.overflow, OVERFLOW_POLICIES, 'block'),
      ackDelayMs: intOption('ackDelayMs', options.ackDelayMs, D.DEFAULT_ACK_DELAY_MS),
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
      sessionTtlMs: intOption('sessionTtlMs', options.sessionTtlMs, D.DEFAULT_SESSION_TTL_MS, { min: 0 }),
      checkpoint: options.checkpoint,
      tls: options.tls,
      routes: options.routes,
    };
    const onRequest = (req: IncomingMessage, res: ServerResponse) => this.#http(req, res);
    this.#server = options.tls ? createHttpsServer(options.tls, onRequest) : createHttpServer(onRequest);
    this.#wss = new WebSocketServer({
      noServer: true,
      // The codec enforces maxFrameBytes with a close reason; ws stops anything past twice that unread.
      maxPayload: this.#o.maxFrameBytes * 2,
      perMessageDeflate: false,
    });
    this.#server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) =>
      this.#upgrade(req, socket, head),
    );
    this.#server.on('connection', (socket: Socket) => socket.setNoDelay(true));
  }

  /** Starts listening; resolves with the bound port. */
  async listen(): Promise<this> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(this.#o.port, this.#o.host, () => {
        this.#server.off('error', reject);
        resolve();
      });
    });
    this.#listening = true;
    this.#port = (this.#server.address() as AddressInfo).port;
    return this;
  }

  /** The bound port; still readable after close(). */
  get port(): number {
    return this.#port;
  }
  get url(): string {
    return `${this.#o.tls ? 'wss' : 'ws'}://${this.#o.host.includes(':') ? `[${this.#o.host}]` : this.#o.host}:${this.port}`;
  }
  get httpUrl(): string {
    return this.url.replace(/^ws/, 'http');
  }
  get server(): Server {
    return this.#server;
  }
  get settings(): Readonly<Parsed> {
    return this.#o;
  }

  /**
   * Subscribes to link events; returns the unsubscribe function. `scope`
   * 'lifecycle' skips the per-message events (cheaper: they are then not built).
   */
  on(listener: LinkEventListener, scope: EventScope = 'all'): () => void {
    return this.#events.subscribe(listener, scope);
  }

  /** Sessions by worker id, connected or within their TTL. */
  sessions(): ReadonlyMap<string, Session> {
    return this.#sessions;
  }

  /** The live link of a worker, if connected. */
  linkOf(workerId: string): Link | undefined {
    return this.#peers.get(workerId)?.link;
  }

  /** One entry per known worker, as served on GET /links. */
  links(): LinkInfo[] {
    return [...this.#peers.entries()].map(([workerId, p]) =>
      linkInfo(workerId, p, this.hooks.stateOf?.(workerId), this.hooks.alertsOf?.(workerId)),
    );
  }

  /** Sends a command to one worker; waits for room under the `block` policy. */
  send(workerId: string, payload: JsonValue, traceparent?: string): Promise<SendReceipt> {
    const peer = this.#peers.get(workerId);
    if (!peer)
      return Promise.reject(new ConnectionError('LW_ERR_CONNECT', `no session for worker ${workerId}`));
    return peer.session.send(payload, traceparent);
  }

  /** Drops a worker's live link (the watchdog's self-heal on the hub side). */
  evict(workerId: string, reason: string): boolean {
    const peer = this.#peers.get(workerId);
    if (!peer?.link) return false;
    if (this.#events.active) this.#events.emit({ ...peer.session.eventBase(), type: 'evicted', reason });
    peer.link.teardown(new ConnectionError('LW_ERR_EVICTED', `evicted: ${reason}`), {
      closeCode: CloseCode.evicted,
    });
    return true;
  }

  #http(req: IncomingMessage, res: ServerResponse): void {
    const path = (req.url ?? '/').split('?')[0];
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(`${JSON.stringify(body)}\n`);
    };
    const route = this.#o.routes?.[`${req.method} ${path}`];
    if (route) {
      route(req, res);
      return;
    }
    if (req.method !== 'GET') {
      json(405, { error: 'method not allowed' });
      return;
    }
    if (path === '/healthz') {
      json(200, { status: 'ok', hubId: this.hubId });
      return;
    }
    if (path === '/readyz') {
      const ready = this.#listening && !this.#closing;
      json(ready ? 200 : 503, { status: ready ? 'ready' : 'not ready', hubId: this.hubId });
      return;
    }
    if (path === '/links') {
      json(200, { hubId: this.hubId, links: this.links() });
      return;
    }
    json(404, { error: 'not found', routes: ['/healthz', '/readyz', '/links'] });
  }

  #upgrade(req: IncomingMessage, socket: Socket, head: Buffer): void {
    socket.on('error', () => socket.destroy());
    if (this.#closing) {
      rejectUpgrade(socket, 503, 'shutting down');
      return;
    }
    const auth = this.#auth.authenticate(req);
    if (!auth.ok) {
      this.stats.authFailures++;
      if (this.#events.active) {
        this.#events.emit({
          side: 'hub',
          workerId: safeId(req.headers['x-linkwatch-worker-id']),
          hubId: this.hubId,
          at: performance.now(),
          type: 'auth-failed',
          errorType: auth.errorType,
          remoteAddress: socket.remoteAddress,
        });
      }
      rejectUpgrade(socket, auth.status, auth.reason);
      return;
    }
    this.#pending.add(socket);
    this.#wss.handleUpgrade(req, socket, head, (ws) => {
      this.#pending.delete(socket);
      this.#handshake(ws, auth.workerId);
    });
  }

  #handshake(ws: WebSocket, workerId: string): void {
    this.#pending.add(ws);
    const done = () => {
      clearTimeout(timer);
      this.#pending.delete(ws);
    };
    const timer = setTimeout(() => {
      done();
      this.stats.handshakeTimeouts++;
      ws.removeAllListeners('message');
      ws.close(CloseCode.handshakeTimeout, 'no hello in time');
      ws.once('close', () => ws.removeAllListeners());
      setTimeout(() => ws.terminate(), 1000).unref();
    }, this.#o.handshakeTimeoutMs);
    ws.on('error', () => {});
    ws.once('close', done);
    ws.once('message', (raw: Buffer, isBinary: boolean) => {
      done();
      let hello: HelloFrame;
      try {
        const frame = decodeFrame(raw, isBinary, this.#o.maxFrameBytes);
        if (frame.t !== 'hello') {
          throw new ProtocolError(
            'LW_ERR_OUT_OF_ORDER',
            CloseCode.protocolError,
            `expected hello, got ${frame.t}`,
          );
        }
        if (frame.workerId !== workerId) {
          throw new ProtocolError(
            'LW_ERR_WORKER_ID_MISMATCH',
            CloseCode.policyViolation,
            'hello.workerId differs from the authenticated worker id',
          );
        }
        hello = frame;
      } catch (err) {
        const e =
          err instanceof ProtocolError
            ? err
            : new ProtocolError('LW_ERR_PROTOCOL', CloseCode.protocolError, String(err));
        this.stats.framesRejected++;
        if (this.#events.active) {
          this.#events.emit({
            side: 'hub',
            workerId,
            hubId: this.hubId,
            at: performance.now(),
            type: 'frame-rejected',
            errorType: e.code,
            closeCode: e.closeCode,
            reason: e.message,
          });
        }
        ws.close(e.closeCode, clampReason(e.message));
        ws.once('close', () => ws.removeAllListeners());
        return;
      }
      this.#attach(ws, hello);
    });
  }

  #peer(workerId: string): Peer {
    let peer = this.#peers.get(workerId);
    if (!peer) {
      const checkpoint = this.#o.checkpoint;
      peer = {
        session: new Session({
          side: 'hub',
          workerId,
          events: this.#events,
          handler: this.#o.handler,
          hooks: this.hooks,
          outbox: {
            maxMessages: this.#o.outboxMaxMessages,
            maxBytes: this.#o.outboxMaxBytes,
            policy: this.#o.overflow ?? 'block',
          },
          queue: {
            concurrency: this.#o.queueConcurrency,
            capacity: this.#o.queueCapacity,
            timeoutMs: this.#o.handlerTimeoutMs,
          },
          maxFrameBytes: this.#o.maxFrameBytes,
          onProcessed: checkpoint
            ? (stream, processed) => checkpoint.commit(workerId, stream, processed)
            : undefined,
        }),
        ws: undefined,
        link: undefined,
        epoch: 0,
        connectedAt: undefined,
        disconnectedAt: undefined,
        ttlTimer: undefined,
        lastError: undefined,
      };
      peer.session.hubId = this.hubId;
      this.#peers.set(workerId, peer);
      this.#sessions.set(workerId, peer.session);
    }
    return peer;
  }

  #attach(ws: WebSocket, hello: HelloFrame): void {
    const peer = this.#peer(hello.workerId);
    const s = peer.session;
    if (peer.link) {
      // Newest wins: fence the older link with a higher epoch and close it.
      if (this.#events.active) this.#events.emit({ ...s.eventBase(), type: 'superseded', epoch: peer.epoch });
      peer.link.teardown(new ConnectionError('LW_ERR_SUPERSEDED', 'superseded by a newer connection'), {
        closeCode: CloseCode.superseded,
      });
    }
    clearTimeout(peer.ttlTimer);
    peer.ttlTimer = undefined;
    const epoch = ++peer.epoch;
    if (s.peerStream !== hello.stream)
      s.bindPeerStream(hello.stream, this.#o.checkpoint?.load(hello.workerId, hello.stream));
    else if (peer.connectedAt !== undefined || peer.disconnectedAt !== undefined) s.counters.reconnects++;
    const peerProcessed = hello.peerStream === s.stream ? hello.processed : 0;
    ws.send(
      encodeFrame({
        v: 1,
        t: 'welcome',
        hubId: this.hubId,
        stream: s.stream,
        epoch,
        processed: s.ackable,
        heartbeatIntervalMs: this.#o.heartbeatIntervalMs,
        heartbeatMisses: this.#o.heartbeatMisses,
        window: this.#o.queueCapacity,
        maxFrameBytes: this.#o.maxFrameBytes,
        rev: PROTOCOL_REVISION,
      }),
    );
    const link = new Link(
      ws,
      s,
      {
        heartbeatIntervalMs: this.#o.heartbeatIntervalMs,
        heartbeatMisses: this.#o.heartbeatMisses,
        sendWindow: hello.window,
        receiveWindow: this.#o.queueCapacity,
        maxFrameBytes: this.#o.maxFrameBytes,
        ackDelayMs: this.#o.ackDelayMs,
        ackBatch: this.#o.ackBatch,
        highWatermarkBytes: this.#o.highWatermarkBytes,
        sendStallTimeoutMs: this.#o.sendStallTimeoutMs,
        batch: (hello.rev ?? 1) >= BATCH_REVISION,
      },
      (down) => this.#onLinkDown(peer, link, ws, down),
    );
    peer.ws = ws;
    peer.link = link;
    peer.connectedAt = performance.now();
    peer.disconnectedAt = undefined;
    ws.on('message', (raw: Buffer, isBinary: boolean) => link.receive(raw, isBinary));
    ws.on('error', (err: Error & { code?: string }) => {
      // ws already closes with 1009/1007/1002 on payload errors; count them as rejected frames.
      if (err.code?.startsWith('WS_ERR_')) {
        const closeCode =
          err.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH'
            ? CloseCode.messageTooBig
            : CloseCode.protocolError;
        link.reject(
          new ProtocolError(
            closeCode === CloseCode.messageTooBig ? 'LW_ERR_FRAME_TOO_LARGE' : 'LW_ERR_PROTOCOL',
            closeCode,
            err.message,
          ),
        );
      }
    });
    ws.on('close', (code: number, reason: Buffer) => {
      link.transportClosed();
      ws.removeAllListeners();
      link.teardown(
        new ConnectionError(
          'LW_ERR_CONNECTION_LOST',
          `worker closed the link: ${code} ${reason.toString().slice(0, 120)}`,
        ),
        { closeCode: undefined, peerCode: code },
      );
    });
    const replayed = link.start(peerProcessed);
    // start() closes a link whose hello claims more than was ever sent; it never connected.
    if (link.isDown) return;
    if (this.#events.active) {
      this.#events.emit({
        ...s.eventBase(),
        type: 'connected',
        url: '',
        epoch,
        handshakeMs: 0,
        replayed,
        peerProcessed,
      });
    }
  }

  #onLinkDown(peer: Peer, link: Link, ws: WebSocket, down: LinkDown): void {
    if (down.error.code === 'LW_ERR_PROTOCOL' || down.error instanceof ProtocolError)
      this.stats.framesRejected++;
    peer.lastError = down.error.code;
    if (peer.link !== link) return;
    peer.link = undefined;
    peer.ws = undefined;
    const uptimeMs = peer.connectedAt === undefined ? 0 : performance.now() - peer.connectedAt;
    peer.disconnectedAt = performance.now();
    if (this.#events.active) {
      this.#events.emit({
        ...peer.session.eventBase(),
        type: 'disconnected',
        errorType: down.error.code,
        closeCode: down.closeCode,
        uptimeMs,
      });
    }
    if (!this.#closing) {
      peer.ttlTimer = setTimeout(() => this.#forget(peer), this.#o.sessionTtlMs);
    }
    void ws;
  }

  /** Counters summed over every session this hub has had, forgotten ones included. */
  totals(): SessionCounters {
    const sum = { ...this.#forgotten };
    for (const p of this.#peers.values()) {
      for (const k of Object.keys(sum) as (keyof SessionCounters)[]) sum[k] += p.session.counters[k];
    }
    return sum;
  }

  #forget(peer: Peer): void {
    const id = peer.session.workerId;
    if (this.#peers.get(id) !== peer || peer.link) return;
    for (const k of Object.keys(this.#forgotten) as (keyof SessionCounters)[]) {
      this.#forgotten[k] += peer.session.counters[k];
    }
    peer.session.closeQueue('session-expired');
    peer.session.outbox.close(new ClosedError('session expired'));
    this.#peers.delete(id);
    this.#sessions.delete(id);
  }

  /**
   * Graceful shutdown with a deadline: stop accepting, let queued work
   * finish and acks go out, close every link with 1001, terminate whatever
   * has not closed when time is up, and report what was left behind.
   */
  close({ timeoutMs = D.DEFAULT_SHUTDOWN_TIMEOUT_MS }: { timeoutMs?: number } = {}): Promise<ShutdownReport> {
    this.#closing ??= this.#close(timeoutMs);
    return this.#closing;
  }

  async #close(timeoutMs: number): Promise<ShutdownReport> {
    const deadline = performance.now() + timeoutMs;
    const serverClosed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    for (const p of this.#pending) {
      if ('terminate' in p) p.terminate();
      else p.destroy();
    }
    this.#pending.clear();
    const peers = [...this.#peers.values()];
    const idle = await Promise.all(
      peers.map((p) => p.session.queue.idle(Math.max(1, deadline - performance.now()))),
    );
    let abandoned = 0;
    let unacked = 0;
    const closes: Promise<void>[] = [];
    for (const p of peers) {
      clearTimeout(p.ttlTimer);
      p.link?.flushAck();
      abandoned += p.session.queue.depth;
      p.session.closeQueue('shutdown');
      unacked += p.session.outbox.size;
      p.session.outbox.close(new ClosedError('hub shutting down'));
      const ws = p.ws;
      if (p.link && ws) {
        closes.push(new Promise((resolve) => ws.once('close', () => resolve())));
        p.link.teardown(new ClosedError('hub shutting down'), { closeCode: CloseCode.goingAway });
      }
    }
    const remaining = Math.max(1, deadline - performance.now());
    let timer: ReturnType<typeof setTimeout> | undefined;
    const allClosed = Promise.all(closes).then(() => true);
    const finished = await Promise.race([
      allClosed,
      new Promise<false>((resolve) => {
        timer = setTimeout(() => resolve(false), remaining);
      }),
    ]);
    clearTimeout(timer);
    if (!finished) for (const ws of this.#wss.clients) ws.terminate();
    await allClosed;
    this.#server.closeAllConnections?.();
    await serverClosed;
    this.#wss.close();
    return { abandoned, unacked, timedOut: !finished || idle.includes(false), workers: peers.length };
  }
}

/**
 * `host:port` when the port is fixed, so a restarted hub keeps its id (and its
 * series, alerts and silences); a random id when the OS picks the port.
 */
function defaultHubId(port: unknown): string {
  const host =
    hostname()
      .replace(/[^A-Za-z0-9._-]/g, '-')
      .slice(0, 100) || 'hub';
  return typeof port === 'number' && port > 0 ? `${host}:${port}` : `hub-${randomUUID().slice(0, 8)}`;
}

function rejectUpgrade(socket: Socket, status: number, reason: string): void {
  const text = status === 401 ? 'Unauthorized' : status === 403 ? 'Forbidden' : 'Service Unavailable';
  const body = `${reason}\n`;
  socket.end(
    `HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}

function safeId(v: unknown): string {
  return typeof v === 'string' && /^[A-Za-z0-9._:-]{1,128}$/.test(v) ? v : 'unknown';
}

/** Reads PEM files for `tls`; the error names the file. */
export function readTlsFiles(certFile: string, keyFile: string): { cert: Buffer; key: Buffer } {
  const read = (f: string, what: string) => {
    try {
      return readFileSync(f);
    } catch (err) {
      throw new Error(`${what} file ${f}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  };
  return { cert: read(certFile, 'TLS cert'), key: read(keyFile, 'TLS key') };
}

export type { DeadlineError, LinkwatchError };
