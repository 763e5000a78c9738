import { httpEndpointOption } from '../validate.js';
import type { Alert, AlertSink } from './alerts.js';

export interface AlertmanagerSinkOptions {
  /**
   * Base URL, e.g. http://127.0.0.1:9093. `user:pass@` in it is sent as
   * Basic auth (Alertmanager's web config), never logged.
   */
  url: string;
  /** Firing alerts are re-sent this often, as Alertmanager expects, ms. @default 30000 */
  resendIntervalMs?: number;
  /** Per-request deadline, ms. @default 2000 */
  timeoutMs?: number;
  /** Most alerts waiting for delivery; the oldest go first when full. @default 1000 */
  maxPending?: number;
  /** Called once per failed POST (counted in telemetry). */
  onFailure?: (error: string) => void;
  /** Called once per successful POST. */
  onDelivered?: (count: number) => void;
}

/**
 * Posts alerts to Alertmanager's v2 API. Never blocks the caller: deliver()
 * only queues. Firing alerts are re-sent every interval (Alertmanager
 * resolves an alert that stops arriving); a resolve is sent with `endsAt`.
 * Failures are counted and retried with backoff; memory is bounded by
 * `maxPending` and by the number of distinct firing alerts.
 */
export class AlertmanagerSink implements AlertSink {
  readonly #url: string;
  readonly #headers: Record<string, string>;
  readonly #o: Required<Omit<AlertmanagerSinkOptions, 'onFailure' | 'onDelivered' | 'url'>> &
    Pick<AlertmanagerSinkOptions, 'onFailure' | 'onDelivered'>;
  // Alerts to post next, keyed by fingerprint so a re-fire replaces a stale entry.
  readonly #pending = new Map<string, Alert>();
  // Every alert currently firing, re-sent each interval.
  readonly #firing = new Map<string, Alert>();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #resendTimer: ReturnType<typeof setInterval> | undefined;
  #inFlight = false;
  // The POST on the wire, if any; close() waits for it (bounded by timeoutMs).
  #flushing: Promise<void> | undefined;
  #closing: Promise<void> | undefined;
  #failures = 0;
  #closed = false;
  delivered = 0;
  failed = 0;
  dropped = 0;

  constructor(options: AlertmanagerSinkOptions) {
    const endpoint = httpEndpointOption('alertmanager.url', options?.url);
    this.#url = `${endpoint.url}/api/v2/alerts`;
    this.#headers = { 'content-type': 'application/json', ...endpoint.headers };
    this.#o = {
      resendIntervalMs: options.resendIntervalMs ?? 30_000,
      timeoutMs: options.timeoutMs ?? 2_000,
      maxPending: options.maxPending ?? 1_000,
      onFailure: options.onFailure,
      onDelivered: options.onDelivered,
    };
    this.#resendTimer = setInterval(() => {
      for (const [key, alert] of this.#firing) this.#enqueue(key, alert);
    }, this.#o.resendIntervalMs);
    this.#resendTimer.unref();
  }

  get pending(): number {
    return this.#pending.size;
  }

  deliver(alert: Alert): void {
    if (this.#closed) return;
    const key = fingerprint(alert);
    if (alert.status === 'firing') this.#firing.set(key, alert);
    else this.#firing.delete(key);
    this.#enqueue(key, alert);
  }

  #enqueue(key: string, alert: Alert): void {
    this.#pending.delete(key);
    this.#pending.set(key, alert);
    while (this.#pending.size > this.#o.maxPending) {
      const oldest = this.#pending.keys().next().value as string;
      this.#pending.delete(oldest);
      this.dropped++;
    }
    this.#schedule(0);
  }

  #schedule(delayMs: number): void {
    if (this.#timer || this.#inFlight || this.#closed) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.#run();
    }, delayMs);
    this.#timer.unref();
  }

  #run(): Promise<void> {
    const flushing = this.#flush().finally(() => {
      if (this.#flushing === flushing) this.#flushing = undefined;
    });
    this.#flushing = flushing;
    return flushing;
  }

  async #flush(): Promise<void> {
    if (this.#pending.size === 0) return;
    const batch = [...this.#pending.entries()];
    this.#pending.clear();
    this.#inFlight = true;
    let ok = false;
    let error = '';
    try {
      const res = await fetch(this.#url, {
        method: 'POST',
        headers: this.#headers,
        body: JSON.stringify(batch.map(([, a]) => toApi(a))),
        signal: AbortSignal.timeout(this.#o.timeoutMs),
      });
      await res.arrayBuffer().catch(() => {});
      ok = res.ok;
      if (!ok) error = `HTTP ${res.status}`;
    } catch (err) {
      error =
        (err as Error).name === 'TimeoutError'
          ? 'timeout'
          : ((err as { cause?: { code?: string } }).cause?.code ?? 'fetch failed');
    }
    this.#inFlight = false;
    if (ok) {
      this.#failures = 0;
      this.delivered += batch.length;
      this.#o.onDelivered?.(batch.length);
    } else {
      this.#failures++;
      this.failed++;
      this.#o.onFailure?.(error);
      // Put the batch back unless newer versions of those alerts arrived meanwhile.
      for (const [key, alert] of batch) if (!this.#pending.has(key)) this.#pending.set(key, alert);
      while (this.#pending.size > this.#o.maxPending) {
        this.#pending.delete(this.#pending.keys().next().value as string);
        this.dropped++;
      }
    }
    if (this.#pending.size > 0)
      this.#schedule(ok ? 0 : Math.min(30_000, 250 * 2 ** Math.min(this.#failures, 7)));
  }

  /**
   * Stops timers, waits for a POST already on the wire (at most `timeoutMs`),
   * then sends what is pending once more (best effort). Nothing is retried
   * or re-sent after it resolves.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    // Closed first: a failed last attempt must not arm a retry timer.
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#resendTimer) clearInterval(this.#resendTimer);
    this.#resendTimer = undefined;
    await this.#flushing;
    await this.#run();
  }
}

function fingerprint(a: Alert): string {
  return `${a.name}|${a.labels.linkwatch_worker_id}|${a.labels.linkwatch_link_side}`;
}

function toApi(a: Alert) {
  return {
    labels: a.labels,
    annotations: a.annotations,
    startsAt: a.startsAt.toISOString(),
    ...(a.endsAt ? { endsAt: a.endsAt.toISOString() } : {}),
  };
}
