import type { Socket } from 'node:net';

/** Why a connection was turned away before it became a link. */
export type RefusalCode = 'LW_ERR_BUSY' | 'LW_ERR_CONNECTION_LIMIT' | 'LW_ERR_REQUEST_TIMEOUT';

export interface AdmissionOptions {
  maxPreAuthConnections: number;
  maxConcurrentHandshakes: number;
  /** Idle limit on a connection before its upgrade completes, ms. */
  headTimeoutMs: number;
  onRefused(code: RefusalCode): void;
}

type Tracked = Socket & { [kOwner]?: Admission; [kPreAuth]?: boolean };
const kOwner = Symbol('linkwatch.admission');
const kPreAuth = Symbol('linkwatch.preAuth');

/**
 * What the hub lets in before a link exists. It tracks every socket the
 * server ever accepted (so shutdown can destroy them all by its deadline),
 * bounds the connections that have not upgraded yet and gives each an idle
 * deadline, and bounds the handshakes in progress so a connect storm gets a
 * fast "busy, retry after" instead of timeouts.
 */
export class Admission {
  readonly #o: AdmissionOptions;
  // Every accepted socket until it closes; shutdown destroys what is left.
  readonly #all = new Set<Socket>();
  // Accepted sockets not upgraded yet (flagged kPreAuth); each has an idle deadline.
  #preAuth = 0;
  // Handshake slots taken: upgrade accepted, hello not yet settled.
  #handshakes = 0;
  // Handshakes settled and upgrades refused busy in the current and the last one-second window.
  readonly #rate = new BusyRate();

  constructor(options: AdmissionOptions) {
    this.#o = options;
  }

  get connections(): number {
    return this.#all.size;
  }
  get preAuth(): number {
    return this.#preAuth;
  }
  get handshakes(): number {
    return this.#handshakes;
  }

  /** The server accepted a TCP connection. */
  accepted(socket: Socket): void {
    socket.setNoDelay(true);
    if (this.#preAuth >= this.#o.maxPreAuthConnections) {
      this.#o.onRefused('LW_ERR_CONNECTION_LIMIT');
      socket.destroy();
      return;
    }
    const t = socket as Tracked;
    t[kOwner] = this;
    t[kPreAuth] = true;
    this.#all.add(socket);
    this.#preAuth++;
    socket.setTimeout(this.#o.headTimeoutMs, onHeadTimeout);
    socket.once('close', onSocketClose);
  }

  /** The socket upgraded (or is being answered): it no longer counts as pre-auth. */
  upgraded(socket: Socket): void {
    const raw = rawSocket(socket) as Tracked;
    if (raw[kOwner] !== this || !raw[kPreAuth]) return;
    raw[kPreAuth] = false;
    this.#preAuth--;
    raw.setTimeout(0);
  }

  /** Takes a handshake slot; false when all are taken (answer busy, then ask retryAfterSeconds()). */
  tryBeginHandshake(): boolean {
    if (this.#handshakes >= this.#o.maxConcurrentHandshakes) {
      this.#rate.refused(performance.now());
      return false;
    }
    this.#handshakes++;
    return true;
  }

  endHandshake(): void {
    this.#handshakes--;
    this.#rate.settled(performance.now());
  }

  /** How long a refused worker should wait: enough for the hub to work through those refused before it. */
  retryAfterSeconds(min: number): number {
    return this.#rate.retryAfterSeconds(performance.now(), min);
  }

  /** Destroys every socket still open. */
  destroyAll(): void {
    for (const socket of this.#all) socket.destroy();
  }

  /** Resolves true once every accepted socket has closed, or false at the deadline. */
  async drained(deadline: number): Promise<boolean> {
    while (this.#all.size > 0) {
      const left = deadline - performance.now();
      if (left <= 0) return false;
      const [first] = this.#all as Set<Socket>;
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          first!.off('close', done);
          resolve();
        };
        const timer = setTimeout(done, left);
        first!.once('close', done);
      });
    }
    return true;
  }

  /** @internal the socket closed. */
  closed(socket: Tracked): void {
    if (socket[kPreAuth]) {
      socket[kPreAuth] = false;
      this.#preAuth--;
    }
    this.#all.delete(socket);
  }

  /** @internal the socket sat idle before its upgrade for too long. */
  headTimedOut(socket: Tracked): void {
    if (!socket[kPreAuth]) return;
    this.#o.onRefused('LW_ERR_REQUEST_TIMEOUT');
    socket.destroy();
  }
}

function onHeadTimeout(this: Tracked): void {
  this[kOwner]?.headTimedOut(this);
}

function onSocketClose(this: Tracked): void {
  this[kOwner]?.closed(this);
}

/** Under TLS the upgrade hands over the TLS socket; the tracked one is the TCP socket beneath. */
function rawSocket(socket: Socket): Socket {
  return (socket as Socket & { _parent?: Socket })._parent ?? socket;
}

/**
 * The longest Retry-After a busy hub asks for, s. Longer made a cold start of
 * 10,000 workers take 61 s: the first second's burst is not lasting demand.
 */
export const MAX_RETRY_AFTER_SECONDS = 5;

/**
 * Sizes Retry-After to the storm. Refused upgrades in the last second, over
 * the handshakes the hub settled in that second, is how many seconds it
 * needs to work through them; asking for that (workers add 0-100 % jitter)
 * spreads the retries over the time the hub can serve them, instead of
 * bringing the whole storm back a second later. Two counters and a window
 * start: no allocation per connection.
 */
export class BusyRate {
  #windowStart = 0;
  #settled = 0;
  #refused = 0;
  #lastSettled = 0;
  #lastRefused = 0;

  settled(now: number): void {
    this.#roll(now);
    this.#settled++;
  }

  refused(now: number): void {
    this.#roll(now);
    this.#refused++;
  }

  retryAfterSeconds(now: number, min: number): number {
    this.#roll(now);
    const refused = Math.max(this.#refused, this.#lastRefused);
    const served = Math.max(this.#settled, this.#lastSettled, 1);
    return Math.min(MAX_RETRY_AFTER_SECONDS, Math.max(min, Math.ceil(refused / served)));
  }

  #roll(now: number): void {
    if (now - this.#windowStart < 1000) return;
    const idle = now - this.#windowStart >= 2000;
    this.#lastSettled = idle ? 0 : this.#settled;
    this.#lastRefused = idle ? 0 : this.#refused;
    this.#settled = 0;
    this.#refused = 0;
    this.#windowStart = now;
  }
}
