import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { type WebSocket, WebSocketServer } from 'ws';
import * as D from '../defaults.js';
import {
  ClosedError,
  ConnectionError,
  type DeadlineError,
  type LinkwatchError,
  ProtocolError,
} from '../errors.js';
import { bindEndpoint } from '../link/endpoint.js';
import { type EventScope, type LinkEventListener, LinkEvents } from '../link/events.js';
import { LinkHooks } from '../link/hooks.js';
import { holdsAcks, Link, type LinkDown } from '../link/link.js';
import { linkSettings } from '../link/options.js';
import type { SendReceipt } from '../link/outbox.js';
import type { SessionCounters } from '../link/session.js';
import type { LinkView, SessionView } from '../link/view.js';
import { reuseReceiverFragments } from '../link/ws-receiver.js';
import { CloseCode } from '../protocol/close-codes.js';
import { encodeFrame } from '../protocol/codec.js';
import { BATCH_REVISION, type HelloFrame, type JsonValue, PROTOCOL_REVISION } from '../protocol/frames.js';
import { Admission, type RefusalCode } from './admission.js';
import { TokenAuthenticator } from './auth.js';
import { awaitHello, type HandshakeHost } from './handshake.js';
import { type HttpHost, serveHttp } from './http.js';
import { type LinkInfo, linkInfo } from './link-info.js';
import { type HubOptions, type ParsedHubOptions, parseHubOptions } from './options.js';
import { type Peer, Registry } from './registry.js';

export type { CheckpointStore, HubOptions, HubRoute } from './options.js';

/** Asked of listen(); the kernel caps it at net.core.somaxconn. */
const LISTEN_BACKLOG = 4096;

export interface ShutdownReport {
  /** Items left in work queues when the deadline passed. */
  abandoned: number;
  /** Commands to workers never acked. */
  unacked: number;
  /** Something was still running or open at the deadline and was cut. */
  timedOut: boolean;
  workers: number;
}

/** Hub-wide counters that have no single worker. */
export interface HubStats {
  /** Upgrades refused with 401/403. */
  authFailures: number;
  /** Frames that broke the protocol, before or after hello. */
  framesRejected: number;
  /** Upgraded sockets that sent no hello in time (closed 4003). */
  handshakeTimeouts: number;
  /** Upgrades answered 503 busy (concurrent handshakes at their bound). */
  handshakesRefused: number;
  /** Connections closed at once because pre-auth connections were at their bound. */
  connectionsRefused: number;
  /** Connections whose request head did not arrive in time. */
  requestTimeouts: number;
}

/**
 * The hub: an HTTP server that authenticates before upgrading, one Session
 * per worker id that outlives reconnects, and /healthz, /readyz, /links.
 * Admission (pre-auth bounds), the hello wait, the registry of workers and the
 * HTTP routes each live in their own file; this class wires them together.
 */
export class Hub {
  readonly hubId: string;
  readonly #o: ParsedHubOptions;
  readonly #auth: TokenAuthenticator;
  readonly #events = new LinkEvents();
  /** Where subscribers add their hooks (telemetry's spans, the watchdog's state); each removes only its own. */
  readonly hooks = new LinkHooks();
  readonly #registry: Registry;
  readonly #admission: Admission;
  readonly #server: Server;
  readonly #wss: WebSocketServer;
  // Upgraded sockets waiting for their hello; terminated on close.
  readonly #awaitingHello = new Set<WebSocket>();
  readonly #handshakeHost: HandshakeHost;
  readonly #httpHost: HttpHost;
  #closing: Promise<ShutdownReport> | undefined;
  #listening = false;
  // Set by listen(); 0 before.
  #port = 0;
  readonly stats: HubStats = {
    authFailures: 0,
    framesRejected: 0,
    handshakeTimeouts: 0,
    handshakesRefused: 0,
    connectionsRefused: 0,
    requestTimeouts: 0,
  };

  constructor(options: HubOptions) {
    this.#o = parseHubOptions(options);
    // Fewer objects promoted per message read (see ws-receiver.ts).
    reuseReceiverFragments();
    this.#auth = new TokenAuthenticator(options.tokens);
    this.hubId = this.#o.hubId;
    this.#registry = new Registry(this.#o, this.#events, this.hooks);
    this.#admission = new Admission({
      maxPreAuthConnections: this.#o.maxPreAuthConnections,
      maxConcurrentHandshakes: this.#o.maxConcurrentHandshakes,
      headTimeoutMs: this.#o.handshakeTimeoutMs,
      onRefused: (code) => this.#refused(code),
    });
    this.#handshakeHost = this.#createHandshakeHost();
    this.#httpHost = {
      hubId: this.hubId,
      bindHost: this.#o.host,
      routes: this.#o.routes,
      ready: () => this.#listening && !this.#closing,
      links: () => this.#linkInfos(),
    };
    const onRequest = (req: IncomingMessage, res: Parameters<typeof serveHttp>[2]) =>
      serveHttp(this.#httpHost, req, res);
    // The request head must arrive within the handshake timeout; Node checks it every second here.
    const serverOptions = {
      headersTimeout: this.#o.handshakeTimeoutMs,
      requestTimeout: Math.max(this.#o.handshakeTimeoutMs, 10_000),
      connectionsCheckingInterval: Math.min(1000, this.#o.handshakeTimeoutMs),
    };
    this.#server = this.#o.tls
      ? createHttpsServer({ ...this.#o.tls, ...serverOptions }, onRequest)
      : createHttpServer(serverOptions, onRequest);
    this.#wss = new WebSocketServer({
      noServer: true,
      // The codec enforces maxFrameBytes with a close reason; ws stops anything past twice that unread.
      maxPayload: this.#o.maxFrameBytes * 2,
      perMessageDeflate: false,
    });
    this.#server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) =>
      this.#upgrade(req, socket, head),
    );
    this.#server.on('connection', (socket: Socket) => this.#admission.accepted(socket));
    // Node's own request-head deadline (headersTimeout) and parse errors: count, answer, close.
    this.#server.on('clientError', (err: Error & { code?: string }, socket: Socket) => {
      const timedOut = err.code === 'ERR_HTTP_REQUEST_TIMEOUT';
      if (timedOut) this.#refused('LW_ERR_REQUEST_TIMEOUT');
      if (socket.writable)
        socket.end(
          `HTTP/1.1 ${timedOut ? '408 Request Timeout' : '400 Bad Request'}\r\nConnection: close\r\n\r\n`,
        );
      socket.destroy();
    });
  }

  /** Starts listening; resolves with the bound port. */
  async listen(): Promise<this> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      // A connect storm outruns the default accept backlog (511): dropped SYNs come back only after 1-3 s.
      this.#server.listen({ port: this.#o.port, host: this.#o.host, backlog: LISTEN_BACKLOG }, () => {
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
  get settings(): Readonly<ParsedHubOptions> {
    return this.#o;
  }

  /**
   * Subscribes to link events; returns the unsubscribe function. `scope`
   * 'lifecycle' skips the per-message events (cheaper: they are then not built).
   */
  on(listener: LinkEventListener, scope: EventScope = 'all'): () => void {
    return this.#events.subscribe(listener, scope);
  }

  /** Sessions by worker id, connected or within their TTL. A live view: do not hold it across awaits. */
  sessions(): ReadonlyMap<string, SessionView> {
    return this.#registry.sessions;
  }

  /** The live link of a worker, if connected. */
  linkOf(workerId: string): LinkView | undefined {
    return this.#registry.get(workerId)?.link;
  }

  /** One entry per known worker, as served on GET /links. */
  links(): LinkInfo[] {
    return [...this.#linkInfos()];
  }

  /** The same, one entry at a time (GET /links serializes them in slices). */
  *#linkInfos(): Generator<LinkInfo> {
    for (const [workerId, p] of this.#registry.entries())
      yield linkInfo(workerId, p, this.hooks.stateOf?.(workerId), this.hooks.alertsOf?.(workerId));
  }

  /** Sends a command to one worker; waits for room under the `block` policy. */
  send(workerId: string, payload: JsonValue, traceparent?: string): Promise<SendReceipt> {
    const peer = this.#registry.get(workerId);
    if (!peer)
      return Promise.reject(new ConnectionError('LW_ERR_CONNECT', `no session for worker ${workerId}`));
    return peer.session.send(payload, traceparent);
  }

  /** Drops a worker's live link (the watchdog's self-heal on the hub side). */
  evict(workerId: string, reason: string): boolean {
    const peer = this.#registry.get(workerId);
    if (!peer?.link) return false;
    if (this.#events.active) this.#events.emit({ ...peer.session.eventBase(), type: 'evicted', reason });
    peer.link.teardown(new ConnectionError('LW_ERR_EVICTED', `evicted: ${reason}`), {
      closeCode: CloseCode.evicted,
    });
    return true;
  }

  /** Sockets open now: all of them, those not upgraded yet, and handshakes waiting for hello. */
  connectionStats(): { open: number; preAuth: number; handshakes: number } {
    const a = this.#admission;
    return { open: a.connections, preAuth: a.preAuth, handshakes: a.handshakes };
  }

  /** Counters summed over every session this hub has had, forgotten ones included. */
  totals(): SessionCounters {
    return this.#registry.totals();
  }

  /** An event for something that has no authenticated worker: hub-wide, never a caller's id. */
  #hubEvent(): { side: 'hub'; workerId: string; hubId: string; at: number } {
    return { side: 'hub', workerId: '', hubId: this.hubId, at: performance.now() };
  }

  #refused(code: RefusalCode): void {
    if (code === 'LW_ERR_BUSY') this.stats.handshakesRefused++;
    else if (code === 'LW_ERR_CONNECTION_LIMIT') this.stats.connectionsRefused++;
    else this.stats.requestTimeouts++;
    if (this.#events.active)
      this.#events.emit({ ...this.#hubEvent(), type: 'connection-refused', errorType: code });
  }

  #upgrade(req: IncomingMessage, socket: Socket, head: Buffer): void {
    socket.on('error', () => socket.destroy());
    this.#admission.upgraded(socket);
    if (this.#closing) {
      rejectUpgrade(socket, 503, 'shutting down');
      return;
    }
    const auth = this.#auth.authenticate(req);
    if (!auth.ok) {
      this.stats.authFailures++;
      // Nothing the caller sent (its claimed worker id included) becomes a label or a key.
      if (this.#events.active) {
        this.#events.emit({
          ...this.#hubEvent(),
          type: 'auth-failed',
          errorType: auth.errorType,
          remoteAddress: socket.remoteAddress,
          detail: auth.detail,
        });
      }
      rejectUpgrade(socket, auth.status, auth.reason);
      return;
    }
    if (!this.#admission.tryBeginHandshake()) {
      this.#refused('LW_ERR_BUSY');
      rejectUpgrade(
        socket,
        503,
        'busy, retry later',
        this.#admission.retryAfterSeconds(this.#o.busyRetryAfterSeconds),
      );
      return;
    }
    this.#wss.handleUpgrade(req, socket, head, (ws) => {
      if (this.#closing) {
        this.#admission.endHandshake();
        ws.terminate();
        return;
      }
      this.#awaitingHello.add(ws);
      awaitHello(ws, auth.workerId, this.#handshakeHost);
    });
  }

  #createHandshakeHost(): HandshakeHost {
    return {
      maxFrameBytes: this.#o.maxFrameBytes,
      handshakeTimeoutMs: this.#o.handshakeTimeoutMs,
      settled: (ws) => {
        this.#awaitingHello.delete(ws);
        this.#admission.endHandshake();
      },
      timedOut: (workerId) => {
        this.stats.handshakeTimeouts++;
        if (this.#events.active) {
          this.#events.emit({
            ...this.#hubEvent(),
            workerId,
            type: 'handshake-failed',
            url: '',
            errorType: 'LW_ERR_HANDSHAKE_TIMEOUT',
            handshakeMs: this.#o.handshakeTimeoutMs,
          });
        }
      },
      rejected: (workerId, e) => {
        this.stats.framesRejected++;
        if (this.#events.active) {
          this.#events.emit({
            ...this.#hubEvent(),
            workerId,
            type: 'frame-rejected',
            errorType: e.code,
            closeCode: e.closeCode,
            reason: e.message,
          });
        }
      },
      hello: (ws, hello) => this.#attach(ws, hello),
    };
  }

  #attach(ws: WebSocket, hello: HelloFrame): void {
    const peer = this.#registry.peer(hello.workerId);
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
    const o = this.#o;
    ws.send(
      encodeFrame({
        v: 1,
        t: 'welcome',
        hubId: this.hubId,
        stream: s.stream,
        epoch,
        processed: s.ackable,
        heartbeatIntervalMs: o.heartbeatIntervalMs,
        heartbeatMisses: o.heartbeatMisses,
        window: o.queueCapacity,
        maxFrameBytes: o.maxFrameBytes,
        rev: PROTOCOL_REVISION,
      }),
    );
    const link: Link = new Link(
      ws,
      s,
      linkSettings(o, {
        heartbeatIntervalMs: o.heartbeatIntervalMs,
        heartbeatMisses: o.heartbeatMisses,
        peerWindow: hello.window,
        maxFrameBytes: o.maxFrameBytes,
        batch: (hello.rev ?? 1) >= BATCH_REVISION,
        heldAcks: holdsAcks(hello.rev, o.heartbeatMisses),
      }),
      (down) => this.#onLinkDown(peer, link, down),
    );
    peer.ws = ws;
    peer.link = link;
    peer.connectedAt = performance.now();
    peer.disconnectedAt = undefined;
    bindEndpoint(ws, link);
    const replayed = link.start(peerProcessed);
    if (this.#events.active && peer.link === link) {
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

  #onLinkDown(peer: Peer, link: Link, down: LinkDown): void {
    if (down.error instanceof ProtocolError) this.stats.framesRejected++;
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
    if (!this.#closing) this.#registry.expireLater(peer);
  }

  /**
   * Graceful shutdown with a deadline: stop accepting, let queued work
   * finish and acks go out, close every link with 1001, and at the deadline
   * destroy every socket the hub ever accepted that is still open, refused
   * and half-upgraded ones included. The report says what was cut.
   */
  close({ timeoutMs = D.DEFAULT_SHUTDOWN_TIMEOUT_MS }: { timeoutMs?: number } = {}): Promise<ShutdownReport> {
    this.#closing ??= this.#close(timeoutMs);
    return this.#closing;
  }

  async #close(timeoutMs: number): Promise<ShutdownReport> {
    const deadline = performance.now() + timeoutMs;
    const serverClosed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    for (const ws of this.#awaitingHello) ws.terminate();
    this.#awaitingHello.clear();
    const peers = [...this.#registry.values()];
    const idle = await Promise.all(
      peers.map((p) => p.session.queue.idle(Math.max(1, deadline - performance.now()))),
    );
    let abandoned = 0;
    let unacked = 0;
    for (const p of peers) {
      clearTimeout(p.ttlTimer);
      p.link?.flushAck();
      abandoned += p.session.queue.depth;
      p.session.closeQueue('shutdown');
      unacked += p.session.outbox.size;
      p.session.outbox.close(new ClosedError('hub shutting down'));
      p.link?.teardown(new ClosedError('hub shutting down'), { closeCode: CloseCode.goingAway });
    }
    // Idle keep-alive HTTP sockets have nothing to finish.
    this.#server.closeIdleConnections?.();
    const drained = await this.#admission.drained(deadline);
    if (!drained) {
      for (const ws of this.#wss.clients) ws.terminate();
      this.#admission.destroyAll();
      this.#server.closeAllConnections?.();
    }
    await serverClosed;
    this.#wss.close();
    return { abandoned, unacked, timedOut: !drained || idle.includes(false), workers: peers.length };
  }
}

function rejectUpgrade(socket: Socket, status: number, reason: string, retryAfterSeconds?: number): void {
  const text = status === 401 ? 'Unauthorized' : status === 403 ? 'Forbidden' : 'Service Unavailable';
  const body = `${reason}\n`;
  const retry = retryAfterSeconds === undefined ? '' : `Retry-After: ${retryAfterSeconds}\r\n`;
  // Destroyed once written: a client that keeps its side open must not hold the socket (or close()).
  socket.once('finish', () => socket.destroy());
  socket.end(
    `HTTP/1.1 ${status} ${text}\r\nConnection: close\r\n${retry}Content-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
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
