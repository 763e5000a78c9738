/**
 * A fault-injecting TCP proxy for loopback: black holes per direction (TCP
 * stays up, bytes vanish: the half-open link), latency, throttling, RST,
 * a cut in the middle of a frame, and refused connections. The link tests
 * and `linkwatch demo` put it between a worker and its hub. It only ever
 * connects to a loopback address.
 */
import net from 'node:net';

/** up = client→server, down = server→client. */
export type Direction = 'up' | 'down' | 'both';

export interface FaultProxyOptions {
  targetPort: number;
  /** Default 127.0.0.1; must be a loopback address, otherwise startFaultProxy rejects with a TypeError. */
  targetHost?: string;
}

export interface FaultProxy {
  readonly port: number;
  readonly url: string;
  readonly connectionCount: number;
  /** Connections accepted for proxying since start (refused ones are not counted). */
  readonly totalConnections: number;
  setTarget(port: number): void;
  blackhole(direction: Direction): void;
  heal(): void;
  latency(ms: number): void;
  throttle(bytesPerSecond: number): void;
  reset(): void;
  cutMidFrame(): void;
  refuse(on: boolean): void;
  waitForConnections(n: number, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

/** Bytes a lane may hold (for latency/throttle) before it pauses its source socket. */
const HIGH_WATER = 64 * 1024;

/** Fault knobs shared by every lane, read per chunk so changes reach live connections. */
interface Faults {
  blackhole: { up: boolean; down: boolean };
  latencyMs: number;
  bytesPerSecond: number; // 0 = unthrottled
}

interface Chunk {
  data: Buffer;
  due: number; // performance.now() at which the chunk may leave
}

/** One direction of one connection: src 'data' → FIFO queue → dst.write. */
class Lane {
  // Invariant: #queued is the sum of data.length over #queue; chunks leave strictly in FIFO order.
  #queue: Chunk[] = [];
  #queued = 0;
  // Invariant: at most one pending timer per lane, null when none; dispose() and heal clear it.
  #timer: NodeJS.Timeout | null = null;
  // Invariant: true from a write() that returned false until dst emits 'drain'; nothing is written meanwhile.
  #blocked = false;
  // Token bucket for throttling; never holds more than 50 ms worth of bytes.
  #tokens = 0;
  #refilledAt = performance.now();
  // Invariant: once #cutting, ingress is ignored, so the last queued chunk is the truncated one.
  #cutArmed = false;
  #cutting = false;
  #sawEnd = false; // src sent FIN (even if a black hole swallowed it)
  #ended = false; // FIN must be forwarded once the queue is empty
  #endSent = false;
  #disposed = false;

  constructor(
    readonly dir: 'up' | 'down',
    readonly src: net.Socket,
    readonly dst: net.Socket,
    readonly faults: Faults,
    readonly onCut: () => void,
  ) {
    src.on('data', (d: Buffer) => this.#ingress(d));
    src.on('end', () => {
      this.#sawEnd = true;
      // A black hole eats the FIN too, like a dead link would.
      if (this.#cutting || this.faults.blackhole[this.dir]) return;
      this.#ended = true;
      this.pump();
    });
    dst.on('drain', () => {
      this.#blocked = false;
      this.pump();
    });
  }

  get sawEnd(): boolean {
    return this.#sawEnd;
  }

  armCut(): void {
    this.#cutArmed = true;
  }

  #ingress(data: Buffer): void {
    if (this.#disposed || this.#cutting || this.faults.blackhole[this.dir]) return; // dropped, never buffered
    let chunk = data;
    if (this.#cutArmed && chunk.length >= 2) {
      chunk = chunk.subarray(0, chunk.length >> 1);
      this.#cutArmed = false;
      this.#cutting = true;
    }
    this.#queue.push({ data: chunk, due: performance.now() + this.faults.latencyMs });
    this.#queued += chunk.length;
    this.pump();
  }

  /** Black hole switched on: queued bytes are dropped, not delivered later. */
  drop(): void {
    this.#queue = [];
    this.#queued = 0;
    if (this.#cutting) {
      this.onCut(); // the truncated chunk fell into the hole: cut right away
      return;
    }
    this.pump();
  }

  /** Heal: everything queued is due now and the bucket no longer matters. */
  release(): void {
    for (const c of this.#queue) c.due = 0;
    this.pump();
  }

  /** New throttle rate: restart the bucket empty. */
  rebucket(): void {
    this.#tokens = 0;
    this.#refilledAt = performance.now();
    this.pump();
  }

  pump(): void {
    if (this.#disposed) return;
    this.#clearTimer();
    const wait = this.#drain();
    if (this.#disposed) return;
    if (wait !== null) this.#timer = setTimeout(() => this.pump(), Math.max(1, Math.ceil(wait)));
    if (this.#queue.length === 0 && this.#ended && !this.#endSent && this.dst.writable) {
      this.#endSent = true;
      this.dst.end();
    }
    // Backpressure: hold the source while dst is full or too much is queued here.
    if (this.#blocked || this.#queued >= HIGH_WATER) this.src.pause();
    else if (this.src.isPaused() && !this.src.destroyed) this.src.resume();
  }

  /** Writes every chunk that is due and affordable; returns ms until the next attempt, or null. */
  #drain(): number | null {
    while (!this.#blocked && this.#queue.length > 0) {
      if (!this.dst.writable) return null;
      const head = this.#queue[0]!;
      const now = performance.now();
      if (head.due > now) return head.due - now;
      let data = head.data;
      const rate = this.faults.bytesPerSecond;
      if (rate > 0) {
        const burst = Math.max(1, rate / 20);
        this.#tokens = Math.min(burst, this.#tokens + ((now - this.#refilledAt) * rate) / 1000);
        this.#refilledAt = now;
        const need = Math.min(data.length, burst);
        if (this.#tokens < need) return ((need - this.#tokens) * 1000) / rate;
        const n = Math.min(data.length, Math.floor(this.#tokens));
        this.#tokens -= n;
        if (n < data.length) {
          head.data = data.subarray(n);
          data = data.subarray(0, n);
        } else this.#queue.shift();
      } else this.#queue.shift();
      this.#queued -= data.length;
      if (this.#cutting && this.#queue.length === 0) {
        this.dispose();
        this.dst.write(data, () => this.onCut());
        return null;
      }
      if (!this.dst.write(data)) this.#blocked = true;
    }
    return null;
  }

  #clearTimer(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
  }

  dispose(): void {
    this.#disposed = true;
    this.#clearTimer();
    this.#queue = [];
    this.#queued = 0;
    if (!this.src.destroyed) this.src.resume(); // keep reading so FIN/close are still observed
  }
}

/** A proxied client connection: two sockets, two lanes. */
class Link {
  readonly up: Lane;
  readonly down: Lane;
  clientClosed = false;
  #serverClosed = false;

  constructor(
    readonly client: net.Socket,
    readonly server: net.Socket,
    faults: Faults,
    onDone: (link: Link) => void,
  ) {
    const cut = () => this.abort(false);
    this.up = new Lane('up', client, server, faults, cut);
    this.down = new Lane('down', server, client, faults, cut);
    // Any socket error (ECONNRESET, ECONNREFUSED, ...) tears the whole link down; never rethrown.
    client.on('error', cut);
    server.on('error', cut);
    // Invariant: a lane dies with its destination; a source that closes without FIN aborts the link.
    client.on('close', () => {
      this.clientClosed = true;
      this.down.dispose();
      if (!this.up.sawEnd) this.abort(false);
      if (this.#serverClosed) onDone(this);
    });
    server.on('close', () => {
      this.#serverClosed = true;
      this.up.dispose();
      if (!this.down.sawEnd) this.abort(false);
      if (this.clientClosed) onDone(this);
    });
  }

  abort(rst: boolean): void {
    this.up.dispose();
    this.down.dispose();
    for (const s of [this.client, this.server]) {
      if (s.destroyed) continue;
      if (rst) s.resetAndDestroy();
      else s.destroy();
    }
  }
}

interface Waiter {
  n: number;
  resolve: () => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

function checkPort(port: number): void {
  if (!Number.isInteger(port) || port <= 0 || port > 65535) throw new RangeError(`bad port ${port}`);
}

function loopbackHost(host: string): string {
  if (host === 'localhost') return '127.0.0.1'; // never resolved through DNS
  if ((net.isIPv4(host) && host.startsWith('127.')) || host === '::1') return host;
  throw new TypeError(`fault proxy target must be a loopback address, got ${JSON.stringify(host)}`);
}

class FaultProxyServer implements FaultProxy {
  readonly #server = net.createServer({ allowHalfOpen: true, noDelay: true }, (s) => this.#accept(s));
  readonly #host: string;
  #targetPort: number;
  #port = 0; // set once listening; kept after close
  #faults: Faults = { blackhole: { up: false, down: false }, latencyMs: 0, bytesPerSecond: 0 };
  #refusing = false;
  #closed = false;
  #total = 0;
  // Invariant: a Link stays here until both of its sockets emitted 'close'.
  readonly #links = new Set<Link>();
  // Invariant: every socket we own (incl. refused ones) stays here until its 'close'; close() awaits them.
  readonly #sockets = new Set<net.Socket>();
  // Invariant: each pending waiter owns exactly one timer, cleared when it settles.
  readonly #waiters = new Set<Waiter>();

  constructor(host: string, targetPort: number) {
    this.#host = host;
    this.#targetPort = targetPort;
    this.#server.on('error', () => {}); // post-listen server errors must not crash the test run
  }

  listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(0, '127.0.0.1', () => {
        this.#server.off('error', reject);
        this.#port = (this.#server.address() as net.AddressInfo).port;
        resolve();
      });
    });
  }

  get port(): number {
    return this.#port;
  }
  get url(): string {
    return `ws://127.0.0.1:${this.port}`;
  }
  get connectionCount(): number {
    let n = 0;
    for (const l of this.#links) if (!l.clientClosed) n++;
    return n;
  }
  get totalConnections(): number {
    return this.#total;
  }

  #track(s: net.Socket): net.Socket {
    this.#sockets.add(s);
    s.once('close', () => this.#sockets.delete(s));
    return s;
  }

  #accept(client: net.Socket): void {
    this.#track(client);
    if (this.#closed || this.#refusing) {
      client.on('error', () => {});
      client.resetAndDestroy();
      return;
    }
    const server = this.#track(
      net.connect({ host: this.#host, port: this.#targetPort, allowHalfOpen: true, noDelay: true }),
    );
    this.#links.add(new Link(client, server, this.#faults, (l) => this.#links.delete(l)));
    this.#total++;
    for (const w of this.#waiters) if (this.#total >= w.n) this.#settle(w);
  }

  #settle(w: Waiter, err?: Error): void {
    clearTimeout(w.timer);
    this.#waiters.delete(w);
    if (err) w.reject(err);
    else w.resolve();
  }

  #eachLane(fn: (lane: Lane) => void): void {
    for (const l of this.#links) {
      fn(l.up);
      fn(l.down);
    }
  }

  setTarget(port: number): void {
    checkPort(port);
    this.#targetPort = port;
  }

  blackhole(direction: Direction): void {
    if (direction !== 'down') this.#faults.blackhole.up = true;
    if (direction !== 'up') this.#faults.blackhole.down = true;
    this.#eachLane((lane) => {
      if (this.#faults.blackhole[lane.dir]) lane.drop();
    });
  }

  heal(): void {
    this.#faults.blackhole = { up: false, down: false };
    this.#faults.latencyMs = 0;
    this.#faults.bytesPerSecond = 0;
    this.#refusing = false;
    this.#eachLane((lane) => lane.release());
  }

  latency(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`bad latency ${ms}`);
    this.#faults.latencyMs = ms;
  }

  throttle(bytesPerSecond: number): void {
    if (!Number.isFinite(bytesPerSecond) || bytesPerSecond <= 0) {
      throw new RangeError(`bad throttle ${bytesPerSecond}`);
    }
    this.#faults.bytesPerSecond = bytesPerSecond;
    this.#eachLane((lane) => lane.rebucket());
  }

  reset(): void {
    for (const l of this.#links) l.abort(true);
  }

  cutMidFrame(): void {
    for (const l of this.#links) l.down.armCut();
  }

  refuse(on: boolean): void {
    this.#refusing = on;
  }

  waitForConnections(n: number, timeoutMs = 5000): Promise<void> {
    if (this.#total >= n) return Promise.resolve();
    if (this.#closed) return Promise.reject(new Error('fault proxy is closed'));
    return new Promise((resolve, reject) => {
      const w: Waiter = { n, resolve, reject, timer: undefined as unknown as NodeJS.Timeout };
      w.timer = setTimeout(() => {
        this.#settle(w, new Error(`only ${this.#total}/${n} connections after ${timeoutMs} ms`));
      }, timeoutMs);
      this.#waiters.add(w);
    });
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const w of this.#waiters) this.#settle(w, new Error('fault proxy closed'));
    for (const l of this.#links) l.abort(false);
    for (const s of this.#sockets) s.destroy();
    const closed = [...this.#sockets].map((s) => new Promise((r) => s.once('close', r)));
    const server = new Promise((r) => (this.#server.listening ? this.#server.close(r) : r(undefined)));
    await Promise.all([...closed, server]);
  }
}

export async function startFaultProxy(options: FaultProxyOptions): Promise<FaultProxy> {
  const host = loopbackHost(options.targetHost ?? '127.0.0.1');
  checkPort(options.targetPort);
  const proxy = new FaultProxyServer(host, options.targetPort);
  await proxy.listen();
  return proxy;
}
