import { randomBytes } from 'node:crypto';
import { type FaultProxy, startFaultProxy } from '../chaos/fault-proxy.js';
import { Hub } from '../hub/hub.js';
import type { LinkEvent, LinkState } from '../link/events.js';
import type { Logger } from '../log/logger.js';
import type { Alert } from '../watchdog/alerts.js';
import { type AttachOptions, attachWatchdog } from '../watchdog/attach.js';
import type { Watchdog } from '../watchdog/watchdog.js';
import { produceSynthetic } from '../worker/synthetic-traffic.js';
import { Worker } from '../worker/worker.js';
import { type FaultKind, type FaultStep, faultCycle } from './schedule.js';

export interface DemoOptions {
  /** @default 3 */
  workers?: number;
  /** Synthetic messages per second per worker. @default 50 */
  ratePerWorker?: number;
  /** @default 256 */
  payloadBytes?: number;
  /** Run the fault schedule. @default true */
  faults?: boolean;
  /** One fault cycle, repeated while the demo runs, ms. @default 30000 */
  cycleMs?: number;
  /** @default 1000 */
  heartbeatIntervalMs?: number;
  /** @default 3 */
  heartbeatMisses?: number;
  /** @default 2000 */
  handlerTimeoutMs?: number;
  /** Where the hub listens. @default 127.0.0.1, a free port */
  listen?: { host: string; port: number };
  /** Also post watchdog alerts to Alertmanager's v2 API. */
  alertmanager?: string;
  logger?: Logger;
  /** Watchdog options shared by every watchdog (export health, providers). */
  watchdog?: Pick<AttachOptions, 'exportHealth' | 'meterProvider' | 'tracerProvider'>;
  /** Called for the hub and each worker before they start (the CLI attaches telemetry here). */
  onHub?: (hub: Hub) => void;
  onWorker?: (worker: Worker) => void;
}

/** What happened to one injected fault, in ms since the demo started. */
export interface FaultRecord {
  kind: FaultKind;
  workerId: string;
  injectedAt: number;
  clearedAt: number | undefined;
  /** First watchdog alert (or heartbeat teardown) for this worker after injection. */
  detectedAt: number | undefined;
  detectedBy: string | undefined;
  /** Link back up and every alert of this worker resolved, after the fault cleared. */
  recoveredAt: number | undefined;
  /** Cleared by stop() before its time was up, so recovery was never awaited. */
  interrupted: boolean;
}

export type DemoEvent =
  | { type: 'fault'; phase: 'injected' | 'cleared'; fault: FaultRecord }
  | { type: 'detected' | 'recovered'; fault: FaultRecord }
  | { type: 'alert'; alert: Alert }
  | { type: 'link'; side: 'hub' | 'worker'; workerId: string; up: boolean; errorType: string | undefined };

export interface WorkerRow {
  workerId: string;
  /** The worker's watchdog state and the hub's, for the same link. */
  workerState: LinkState | undefined;
  hubState: LinkState | undefined;
  heartbeatAgeMs: number | undefined;
  rttMs: number | undefined;
  /** The hub's work queue for this worker. */
  queueDepth: number;
  hung: number;
  outbox: number;
  sent: number;
  acked: number;
  processed: number;
  alerts: string[];
  fault: FaultKind | undefined;
}

export interface DemoSnapshot {
  hubId: string;
  hubUrl: string;
  linksUrl: string;
  uptimeMs: number;
  /** Ms until the next fault is injected, if one is scheduled. */
  nextFaultInMs: number | undefined;
  rows: WorkerRow[];
  /** Process-level alerts (event loop, telemetry export). */
  processAlerts: string[];
}

export interface DemoSummary {
  role: 'demo';
  hubId: string;
  durationS: number;
  workers: number;
  sent: number;
  acked: number;
  replayed: number;
  processed: number;
  duplicatesDropped: number;
  handlerTimeouts: number;
  faults: {
    kind: FaultKind;
    workerId: string;
    injectedAtS: number;
    detectedBy: string | null;
    detectedAfterMs: number | null;
    /** From the fault clearing to link up with every alert resolved. */
    recoveredAfterMs: number | null;
    /** The demo stopped while the fault was still on. */
    interrupted: boolean;
  }[];
  alerts: { fired: number; resolved: number; firingAtExit: string[] };
}

const BLACKHOLE_SIGNS = new Set([
  'LinkwatchHeartbeatMissed',
  'LinkwatchLinkDown',
  'LinkwatchProgressStalled',
  'LinkwatchTransportStalled',
]);
const HANG_SIGNS = new Set(['LinkwatchHandlerHung', 'LinkwatchProgressStalled']);

/**
 * `linkwatch demo` without the terminal: a hub, workers behind fault proxies,
 * a watchdog on every link, synthetic traffic, and a fault schedule. It
 * records when each fault was injected, detected and recovered from.
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
  // Every pending schedule and tick timer; stop() clears them all.
  readonly #timers = new Set<ReturnType<typeof setTimeout>>();
  #tick: ReturnType<typeof setInterval> | undefined;
  readonly #faults: FaultRecord[] = [];
  readonly #active = new Map<string, FaultRecord>();
  readonly #listeners = new Set<(e: DemoEvent) => void>();
  readonly #producing = new AbortController();
  readonly #producers: Promise<void>[] = [];
  #startedAt = 0;
  #nextFaultAt: number | undefined;
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
    if (o.faults) this.#scheduleCycle(0);
    this.#tick = setInterval(() => this.#checkRecovery(), 250);
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

  #scheduleCycle(startMs: number): void {
    const o = this.#o;
    const steps = faultCycle({
      workerIds: this.#ids,
      cycleMs: o.cycleMs,
      deadAfterMs: o.heartbeatIntervalMs * o.heartbeatMisses,
      handlerTimeoutMs: o.handlerTimeoutMs,
    });
    for (const step of steps) this.#after(startMs + step.atMs, () => this.#inject(step));
    this.#nextFaultAt = startMs + Math.min(...steps.map((s) => s.atMs));
    this.#after(startMs + o.cycleMs, () => this.#scheduleCycle(startMs + o.cycleMs));
  }

  #after(atMs: number, fn: () => void): void {
    const timer = setTimeout(
      () => {
        this.#timers.delete(timer);
        fn();
      },
      Math.max(0, atMs - this.#now()),
    );
    this.#timers.add(timer);
  }

  #inject(step: FaultStep): void {
    const record: FaultRecord = {
      kind: step.kind,
      workerId: step.workerId,
      injectedAt: this.#now(),
      clearedAt: undefined,
      detectedAt: undefined,
      detectedBy: undefined,
      recoveredAt: undefined,
      interrupted: false,
    };
    this.#faults.push(record);
    this.#active.set(step.workerId, record);
    if (this.#nextFaultAt !== undefined && this.#nextFaultAt <= record.injectedAt)
      this.#nextFaultAt = undefined;
    if (step.kind === 'blackhole') {
      this.#proxies.get(step.workerId)?.blackhole('both');
    } else {
      let release = () => {};
      // The hung handler ignores its abort signal, like a consumer that never checks deadlines.
      const promise = new Promise<void>((resolve) => {
        release = resolve;
      });
      this.#hangs.set(step.workerId, { promise, release });
    }
    this.#emit({ type: 'fault', phase: 'injected', fault: record });
    this.#after(record.injectedAt + step.forMs, () => this.#clear(record));
  }

  #clear(record: FaultRecord): void {
    if (record.clearedAt !== undefined) return;
    record.clearedAt = this.#now();
    if (record.kind === 'blackhole') this.#proxies.get(record.workerId)?.heal();
    else {
      this.#hangs.get(record.workerId)?.release();
      this.#hangs.delete(record.workerId);
    }
    if (this.#active.get(record.workerId) === record) this.#active.delete(record.workerId);
    this.#emit({ type: 'fault', phase: 'cleared', fault: record });
  }

  #detected(workerId: string, by: string, signs: (kind: FaultKind) => boolean): void {
    for (const f of this.#faults) {
      if (f.workerId !== workerId || f.detectedAt !== undefined || f.clearedAt !== undefined) continue;
      if (!signs(f.kind)) continue;
      f.detectedAt = this.#now();
      f.detectedBy = by;
      this.#emit({ type: 'detected', fault: f });
    }
  }

  #onAlert(alert: Alert): void {
    if (alert.status === 'firing') this.#fired++;
    else this.#resolved++;
    this.#emit({ type: 'alert', alert });
    const workerId = alert.labels.linkwatch_worker_id;
    if (alert.status === 'firing' && workerId) {
      this.#detected(workerId, alert.name, (kind) =>
        kind === 'blackhole' ? BLACKHOLE_SIGNS.has(alert.name) : HANG_SIGNS.has(alert.name),
      );
    }
  }

  #onLinkEvent(e: LinkEvent): void {
    // Links closed by stop() itself are not news.
    if (this.#stopped) return;
    if (e.type === 'connected') {
      this.#emit({ type: 'link', side: e.side, workerId: e.workerId, up: true, errorType: undefined });
    } else if (e.type === 'disconnected') {
      this.#emit({ type: 'link', side: e.side, workerId: e.workerId, up: false, errorType: e.errorType });
      if (e.errorType === 'LW_ERR_HEARTBEAT_TIMEOUT') {
        this.#detected(e.workerId, `${e.errorType} (${e.side})`, (kind) => kind === 'blackhole');
      }
    }
  }

  /** A cleared fault has recovered once the link is up again and nothing fires for that worker. */
  #checkRecovery(): void {
    for (const f of this.#faults) {
      if (f.clearedAt === undefined || f.recoveredAt !== undefined || this.#active.has(f.workerId)) continue;
      const worker = this.#workers.get(f.workerId);
      const hubSession = this.#hub?.sessions().get(f.workerId);
      if (worker?.state !== 'connected' || !this.#hub?.linkOf(f.workerId)) continue;
      if ((hubSession?.queue.hung ?? 0) > 0) continue;
      if (this.#alertsOf(f.workerId).length > 0) continue;
      f.recoveredAt = this.#now();
      this.#emit({ type: 'recovered', fault: f });
    }
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
        fault: this.#active.get(workerId)?.kind,
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
      nextFaultInMs:
        this.#nextFaultAt === undefined ? undefined : Math.max(0, this.#nextFaultAt - this.#now()),
      rows,
      processAlerts: [...processAlerts],
    };
  }

  faults(): readonly FaultRecord[] {
    return this.#faults;
  }

  /** Stops traffic and faults, drains within `timeoutMs`, and reports. Safe to call twice. */
  stop({ timeoutMs = 3_000 }: { timeoutMs?: number } = {}): Promise<DemoSummary> {
    this.#stopped ??= this.#stop(timeoutMs);
    return this.#stopped;
  }

  async #stop(timeoutMs: number): Promise<DemoSummary> {
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    if (this.#tick) clearInterval(this.#tick);
    this.#tick = undefined;
    this.#nextFaultAt = undefined;
    for (const f of this.#faults) {
      if (f.clearedAt === undefined) f.interrupted = true;
      this.#clear(f);
    }
    this.#producing.abort();
    const durationMs = this.#now();
    // Stopping a worker closes its outbox, which releases a producer blocked on a full one.
    await Promise.all([...this.#workers.values()].map((w) => w.stop({ timeoutMs })));
    await Promise.all(this.#producers);
    const firingAtExit = [...new Set(this.#watchdogs.flatMap((w) => w.activeAlerts().map((a) => a.name)))];
    await this.#hub?.close({ timeoutMs });
    await Promise.all(this.#watchdogs.map((w) => w.stop()));
    await Promise.all([...this.#proxies.values()].map((p) => p.close()));
    const counters = [...this.#workers.values()].map((w) => w.status().counters);
    const sum = (k: keyof (typeof counters)[number]) => counters.reduce((n, c) => n + c[k], 0);
    const hubTotals = this.#hub?.totals();
    return {
      role: 'demo',
      hubId: this.#hub?.hubId ?? '',
      durationS: Math.round(durationMs / 100) / 10,
      workers: this.#ids.length,
      sent: sum('sent'),
      acked: sum('acked'),
      replayed: sum('replayed'),
      processed: hubTotals?.processed ?? 0,
      duplicatesDropped: hubTotals?.duplicates ?? 0,
      handlerTimeouts: hubTotals?.timedOut ?? 0,
      faults: this.#faults.map((f) => ({
        kind: f.kind,
        workerId: f.workerId,
        injectedAtS: Math.round(f.injectedAt / 100) / 10,
        detectedBy: f.detectedBy ?? null,
        detectedAfterMs: f.detectedAt === undefined ? null : Math.round(f.detectedAt - f.injectedAt),
        recoveredAfterMs:
          f.recoveredAt === undefined || f.clearedAt === undefined
            ? null
            : Math.round(f.recoveredAt - f.clearedAt),
        interrupted: f.interrupted,
      })),
      alerts: { fired: this.#fired, resolved: this.#resolved, firingAtExit },
    };
  }
}
