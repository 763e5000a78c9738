import { randomBytes } from 'node:crypto';
import { type FaultProxy, startFaultProxy } from '../chaos/fault-proxy.js';
import { Hub } from '../hub/hub.js';
import type { LinkEvent } from '../link/events.js';
import type { Alert } from '../watchdog/alerts.js';
import { attachWatchdog } from '../watchdog/attach.js';
import type { Watchdog } from '../watchdog/watchdog.js';
import { produceSynthetic } from '../worker/synthetic-traffic.js';
import { Worker } from '../worker/worker.js';
import { FaultTracker } from './fault-tracker.js';
import { demoSummary } from './report.js';
import type { DemoEvent, DemoOptions, DemoSnapshot, DemoSummary, FaultRecord, WorkerRow } from './types.js';

/**
 * `linkwatch demo` without the terminal: a hub, workers behind fault proxies,
 * a watchdog on every link, synthetic traffic, and a fault schedule. The
 * FaultTracker runs the schedule and records when each fault was injected,
 * detected and recovered from; this class wires it to real sockets.
 */
export class Demo {
  readonly #o: Required<
    Omit<DemoOptions, 'listen' | 'alertmanager' | 'logger' | 'watchdog' | 'onHub' | 'onWorker'>
  > &
    DemoOptions;
  readonly #token = randomBytes(24).toString('base64url');
  readonly #ids: string[];
  #hub: Hub | undefined;
  readonly #workers = new Map<string, Worker>();
  readonly #proxies = new Map<string, FaultProxy>();
  readonly #watchdogs: Watchdog[] = [];
  #hubWatchdog: Watchdog | undefined;
  readonly #workerWatchdogs = new Map<string, Watchdog>();
  // Workers whose handler hangs now, with the release of every hung call.
  readonly #hangs = new Map<string, { promise: Promise<void>; release: () => void }>();
  readonly #tracker: FaultTracker;
  readonly #listeners = new Set<(e: DemoEvent) => void>();
  readonly #producing = new AbortController();
  readonly #producers: Promise<void>[] = [];
  #startedAt = 0;
  #fired = 0;
  #resolved = 0;
  #stopped: Promise<DemoSummary> | undefined;

  constructor(options: DemoOptions = {}) {
    this.#o = {
      workers: 3,
      ratePerWorker: 50,
      payloadBytes: 256,
      faults: true,
      cycleMs: 30_000,
      heartbeatIntervalMs: 1_000,
      heartbeatMisses: 3,
      handlerTimeoutMs: 2_000,
      ...options,
    };
    this.#ids = Array.from({ length: this.#o.workers }, (_, i) => `worker-${i + 1}`);
    this.#tracker = new FaultTracker({
      workerIds: this.#ids,
      cycleMs: this.#o.cycleMs,
      deadAfterMs: this.#o.heartbeatIntervalMs * this.#o.heartbeatMisses,
      handlerTimeoutMs: this.#o.handlerTimeoutMs,
      now: () => this.#now(),
      effects: { start: (f) => this.#startFault(f), stop: (f) => this.#stopFault(f) },
      isRecovered: (workerId) => this.#isRecovered(workerId),
      emit: (e) => this.#emit(e),
    });
  }

  on(listener: (e: DemoEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  get hub(): Hub | undefined {
    return this.#hub;
  }

  async start(): Promise<this> {
    const o = this.#o;
    this.#startedAt = performance.now();
    const hub = new Hub({
      host: o.listen?.host ?? '127.0.0.1',
      port: o.listen?.port ?? 0,
      hubId: 'hub-demo',
      tokens: [{ token: this.#token, workerIds: this.#ids, name: 'demo' }],
      handler: (m) => this.#hangs.get(m.workerId)?.promise,
      heartbeatIntervalMs: o.heartbeatIntervalMs,
      heartbeatMisses: o.heartbeatMisses,
      handlerTimeoutMs: o.handlerTimeoutMs,
      sessionTtlMs: 60_000,
    });
    this.#hub = hub;
    o.onHub?.(hub);
    hub.on((e) => this.#onLinkEvent(e), 'lifecycle');
    this.#hubWatchdog = this.#watch(hub, true);
    await hub.listen();
    for (const workerId of this.#ids) {
      const proxy = await startFaultProxy({ targetPort: hub.port });
      this.#proxies.set(workerId, proxy);
      const worker = new Worker({
        hubs: [proxy.url],
        workerId,
        token: this.#token,
        handshakeTimeoutMs: 1_500,
        backoff: { initialDelayMs: 200, maxDelayMs: 1_000, minUptimeMs: 5_000 },
      });
      this.#workers.set(workerId, worker);
      o.onWorker?.(worker);
      worker.on((e) => this.#onLinkEvent(e), 'lifecycle');
      this.#workerWatchdogs.set(workerId, this.#watch(worker, false));
      worker.start();
      if (o.ratePerWorker > 0) {
        const traffic = { rate: o.ratePerWorker, size: o.payloadBytes, count: undefined };
        // A send rejects only once the worker stops; that ends its producer.
        this.#producers.push(
          produceSynthetic(worker, { ...traffic, signal: this.#producing.signal }).catch(() => {}),
        );
      }
    }
    // The schedule counts from the demo's start, not from when the last worker was set up.
    if (o.faults) this.#tracker.start(0);
    return this;
  }

  #watch(target: Hub | Worker, isHub: boolean): Watchdog {
    const w = attachWatchdog(target, {
      ...this.#o.watchdog,
      ...(this.#o.logger ? { logger: this.#o.logger } : {}),
      ...(this.#o.alertmanager ? { alertmanager: { url: this.#o.alertmanager } } : {}),
      // One sentinel thread for the process is enough: it watches the one event loop.
      sentinel: isHub,
    });
    w.on((e) => {
      if (e.type === 'alert') this.#onAlert(e.alert);
    });
    this.#watchdogs.push(w);
    return w;
  }

  #now(): number {
    return performance.now() - this.#startedAt;
  }

  #emit(e: DemoEvent): void {
    for (const l of this.#listeners) {
      try {
        l(e);
      } catch {}
    }
  }

  #startFault(f: FaultRecord): void {
    if (f.kind === 'blackhole') {
      this.#proxies.get(f.workerId)?.blackhole('both');
      return;
    }
    let release = () => {};
    // The hung handler ignores its abort signal, like a consumer that never checks deadlines.
    const promise = new Promise<void>((resolve) => {
      release = resolve;
    });
    this.#hangs.set(f.workerId, { promise, release });
  }

  #stopFault(f: FaultRecord): void {
    if (f.kind === 'blackhole') {
      this.#proxies.get(f.workerId)?.heal();
      return;
    }
    this.#hangs.get(f.workerId)?.release();
    this.#hangs.delete(f.workerId);
  }

  #onAlert(alert: Alert): void {
    if (alert.status === 'firing') this.#fired++;
    else this.#resolved++;
    this.#emit({ type: 'alert', alert });
    this.#tracker.alert(alert);
  }

  #onLinkEvent(e: LinkEvent): void {
    // Links closed by stop() itself are not news.
    if (this.#stopped) return;
    if (e.type === 'connected') {
      this.#emit({ type: 'link', side: e.side, workerId: e.workerId, up: true, errorType: undefined });
    } else if (e.type === 'disconnected') {
      this.#emit({ type: 'link', side: e.side, workerId: e.workerId, up: false, errorType: e.errorType });
      this.#tracker.linkDown(e.workerId, e.side, e.errorType);
    }
  }

  /** Up on both sides, no handler hung, and no alert firing for this worker. */
  #isRecovered(workerId: string): boolean {
    const worker = this.#workers.get(workerId);
    if (worker?.state !== 'connected' || !this.#hub?.linkOf(workerId)) return false;
    if ((this.#hub.sessions().get(workerId)?.queue.hung ?? 0) > 0) return false;
    return this.#alertsOf(workerId).length === 0;
  }

  #alertsOf(workerId: string): string[] {
    const names = new Set<string>();
    for (const w of this.#watchdogs) {
      for (const a of w.activeAlerts()) if (a.labels.linkwatch_worker_id === workerId) names.add(a.name);
    }
    return [...names];
  }

  snapshot(): DemoSnapshot {
    const hub = this.#hub;
    const rows: WorkerRow[] = this.#ids.map((workerId) => {
      const worker = this.#workers.get(workerId);
      const session = hub?.sessions().get(workerId);
      const status = worker?.status();
      return {
        workerId,
        workerState: this.#workerWatchdogs.get(workerId)?.stateOf(workerId),
        hubState: this.#hubWatchdog?.stateOf(workerId),
        heartbeatAgeMs: worker?.link?.silentMs(),
        rttMs: status?.lastRttMs,
        queueDepth: session?.queue.depth ?? 0,
        hung: session?.queue.hung ?? 0,
        outbox: status?.outbox.messages ?? 0,
        sent: status?.counters.sent ?? 0,
        acked: status?.counters.acked ?? 0,
        processed: session?.counters.processed ?? 0,
        alerts: this.#alertsOf(workerId),
        fault: this.#tracker.activeKind(workerId),
      };
    });
    const processAlerts = new Set<string>();
    for (const w of this.#watchdogs) {
      for (const a of w.activeAlerts()) if (!a.labels.linkwatch_worker_id) processAlerts.add(a.name);
    }
    return {
      hubId: hub?.hubId ?? '',
      hubUrl: hub?.url ?? '',
      linksUrl: hub ? `${hub.httpUrl}/links` : '',
      uptimeMs: this.#now(),
      nextFaultInMs: this.#tracker.nextFaultInMs(),
      rows,
      processAlerts: [...processAlerts],
    };
  }

  faults(): readonly FaultRecord[] {
    return this.#tracker.faults();
  }

  /** Stops traffic and faults, drains within `timeoutMs`, and reports. Safe to call twice. */
  stop({ timeoutMs = 3_000 }: { timeoutMs?: number } = {}): Promise<DemoSummary> {
    this.#stopped ??= this.#stop(timeoutMs);
    return this.#stopped;
  }

  async #stop(timeoutMs: number): Promise<DemoSummary> {
    this.#tracker.stop();
    this.#producing.abort();
    const durationMs = this.#now();
    // Stopping a worker closes its outbox, which releases a producer blocked on a full one.
    await Promise.all([...this.#workers.values()].map((w) => w.stop({ timeoutMs })));
    await Promise.all(this.#producers);
    const firingAtExit = [...new Set(this.#watchdogs.flatMap((w) => w.activeAlerts().map((a) => a.name)))];
    await this.#hub?.close({ timeoutMs });
    await Promise.all(this.#watchdogs.map((w) => w.stop()));
    await Promise.all([...this.#proxies.values()].map((p) => p.close()));
    return demoSummary({
      hubId: this.#hub?.hubId ?? '',
      durationMs,
      workers: this.#ids.length,
      workerCounters: [...this.#workers.values()].map((w) => w.status().counters),
      hubTotals: this.#hub?.totals(),
      faults: this.#tracker.faults(),
      alerts: { fired: this.#fired, resolved: this.#resolved, firingAtExit },
    });
  }
}
