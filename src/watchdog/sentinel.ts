import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { type HttpEndpoint, httpEndpointOption } from '../validate.js';

/**
 * The sentinel thread. It runs on its own event loop, so it still works
 * while the main thread is blocked: it compares the main thread's beat in
 * shared memory with the clock, writes a log line on stderr and posts to
 * Alertmanager by itself, then tells the main thread when it is back.
 * Kept as plain JS evaluated in the thread, so it runs the same from
 * `src/` under the test runner and from `dist/`.
 */
const THREAD_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { writeSync } = require('node:fs');
const beat = new BigInt64Array(workerData.buffer);
const { thresholdMs, checkMs, alertsUrl, headers, labels, annotations } = workerData;
let blockedSince = 0;
let postedAt = 0;
function log(level, msg, fields) {
  try {
    writeSync(2, JSON.stringify({ time: new Date().toISOString(), level, msg, ...labels, ...fields }) + '\\n');
  } catch {}
}
function post(startsAt, endsAt) {
  postedAt = Date.now();
  if (!alertsUrl) return;
  const body = [{ labels: { alertname: 'LinkwatchEventLoopBlocked', severity: 'critical', linkwatch_reason: 'event-loop-blocked', source: 'linkwatch-sentinel', ...labels }, annotations, startsAt: new Date(startsAt).toISOString(), ...(endsAt ? { endsAt: new Date(endsAt).toISOString() } : {}) }];
  fetch(alertsUrl, { method: 'POST', headers, body: JSON.stringify(body), signal: AbortSignal.timeout(2000) }).catch(() => {});
}
const timer = setInterval(() => {
  if (Atomics.load(beat, 1) === 1n) { clearInterval(timer); return; }
  const last = Number(Atomics.load(beat, 0));
  const lag = Date.now() - last;
  if (!blockedSince && lag >= thresholdMs) {
    blockedSince = last;
    log('error', 'event loop blocked (sentinel)', { blocked_ms: lag });
    post(last, undefined);
    parentPort.postMessage({ type: 'blocked', since: last });
  } else if (blockedSince && lag < thresholdMs) {
    const blockedMs = Date.now() - blockedSince;
    log('warn', 'event loop unblocked (sentinel)', { blocked_ms: blockedMs });
    post(blockedSince, Date.now());
    parentPort.postMessage({ type: 'unblocked', since: blockedSince, blockedMs });
    blockedSince = 0;
  } else if (blockedSince && Date.now() - postedAt >= 5000) {
    // Still blocked: re-send now and then so Alertmanager keeps the alert firing.
    post(blockedSince, undefined);
  }
}, checkMs);
`;

export interface SentinelOptions {
  /** The main thread is blocked when its beat is this old, ms. @default 1000 */
  thresholdMs?: number;
  /** How often the main thread beats and the sentinel checks, ms. @default 100 */
  checkMs?: number;
  /**
   * Alertmanager base URL the sentinel posts to on its own (no main thread
   * needed). `user:pass@` is sent as Basic auth.
   */
  alertmanagerUrl?: string | undefined;
  /** Labels for the sentinel's log lines and alerts (worker id, hub id, side). */
  labels?: Record<string, string>;
  onBlocked?: (since: number) => void;
  onUnblocked?: (blockedMs: number) => void;
}

export class EventLoopSentinel {
  readonly #options: SentinelOptions;
  readonly #buffer = new SharedArrayBuffer(16);
  readonly #beat = new BigInt64Array(this.#buffer);
  #thread: Worker | undefined;
  #timer: ReturnType<typeof setInterval> | undefined;
  readonly #delay = monitorEventLoopDelay({ resolution: 20 });
  #blocked = false;
  #ready: Promise<void> = Promise.resolve();
  blocks = 0;

  /** Resolves once the sentinel thread runs. */
  get ready(): Promise<void> {
    return this.#ready;
  }

  // Where the thread posts, with credentials moved into headers; set when alertmanagerUrl is.
  readonly #alertmanager: HttpEndpoint | undefined;

  constructor(options: SentinelOptions = {}) {
    this.#options = options;
    this.#alertmanager =
      options.alertmanagerUrl === undefined
        ? undefined
        : httpEndpointOption('alertmanagerUrl', options.alertmanagerUrl);
  }

  get blocked(): boolean {
    return this.#blocked;
  }

  /** p99 event-loop delay since the last call, ms; resets the histogram. */
  takeDelayP99Ms(): number {
    const p99 = this.#delay.percentile(99) / 1e6;
    this.#delay.reset();
    return Number.isFinite(p99) ? p99 : 0;
  }

  start(): this {
    this.stop();
    const checkMs = this.#options.checkMs ?? 100;
    Atomics.store(this.#beat, 0, BigInt(Date.now()));
    Atomics.store(this.#beat, 1, 0n);
    this.#timer = setInterval(() => Atomics.store(this.#beat, 0, BigInt(Date.now())), checkMs);
    this.#timer.unref();
    this.#delay.enable();
    const thread = new Worker(THREAD_SOURCE, {
      eval: true,
      workerData: {
        buffer: this.#buffer,
        thresholdMs: this.#options.thresholdMs ?? 1000,
        checkMs,
        alertsUrl: this.#alertmanager ? `${this.#alertmanager.url}/api/v2/alerts` : undefined,
        headers: { 'content-type': 'application/json', ...this.#alertmanager?.headers },
        labels: this.#options.labels ?? {},
        annotations: {
          summary: 'The event loop of a linkwatch process is blocked.',
          description: 'The sentinel thread saw no main-thread beat for longer than the threshold.',
          runbook_url:
            'https://github.com/linkwatch/linkwatch/blob/main/docs/runbooks.md#linkwatcheventloopblocked',
        },
      },
    });
    thread.unref();
    this.#ready = new Promise((resolve) => thread.once('online', () => resolve()));
    thread.on('message', (m: { type: string; since: number; blockedMs?: number }) => {
      if (m.type === 'blocked') {
        this.#blocked = true;
        this.blocks++;
        this.#options.onBlocked?.(m.since);
      } else if (m.type === 'unblocked') {
        this.#blocked = false;
        this.#options.onUnblocked?.(m.blockedMs ?? 0);
      }
    });
    thread.on('error', () => {});
    this.#thread = thread;
    return this;
  }

  stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    this.#delay.disable();
    const thread = this.#thread;
    this.#thread = undefined;
    if (!thread) return Promise.resolve();
    Atomics.store(this.#beat, 1, 1n);
    return thread.terminate().then(() => {});
  }
}
