import { afterEach, vi } from 'vitest';
import { Hub, type HubOptions } from '../../src/hub/hub.js';
import type { LinkEvent } from '../../src/link/events.js';
import type { Message } from '../../src/queue/work-queue.js';
import { Worker, type WorkerOptions } from '../../src/worker/worker.js';

export const TOKEN = 'test-token-0123456789';

/** Resolves when `predicate` holds, polling on each event or every 10 ms; rejects at the deadline. */
export async function waitFor(
  predicate: () => boolean,
  timeoutMs = 5000,
  what: string | (() => string) = 'condition',
): Promise<void> {
  const start = performance.now();
  while (!predicate()) {
    if (performance.now() - start > timeoutMs) {
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${typeof what === 'string' ? what : what()}`,
      );
    }
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Resolves with the first event matching `match`; rejects at the deadline. */
export function nextEvent<T extends LinkEvent['type']>(
  source: { on(l: (e: LinkEvent) => void): () => void },
  type: T,
  timeoutMs = 5000,
  match: (e: Extract<LinkEvent, { type: T }>) => boolean = () => true,
): Promise<Extract<LinkEvent, { type: T }>> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`no ${type} event within ${timeoutMs} ms`));
    }, timeoutMs);
    const off = source.on((e) => {
      if (e.type === type && match(e as Extract<LinkEvent, { type: T }>)) {
        clearTimeout(timer);
        off();
        resolve(e as Extract<LinkEvent, { type: T }>);
      }
    });
  });
}

export interface Received {
  messages: Message[];
  byWorker: Map<string, number[]>;
}

export function recorder(): Received & { handler: (m: Message) => void } {
  const messages: Message[] = [];
  const byWorker = new Map<string, number[]>();
  return {
    messages,
    byWorker,
    handler: (m: Message) => {
      messages.push(m);
      const list = byWorker.get(m.workerId) ?? [];
      byWorker.set(m.workerId, list);
      list.push(m.seq);
    },
  };
}

export async function startHub(options: Partial<HubOptions> & Pick<HubOptions, 'handler'>): Promise<Hub> {
  const hub = new Hub({
    tokens: [{ token: TOKEN }],
    heartbeatIntervalMs: 200,
    heartbeatMisses: 3,
    ...options,
  });
  return hub.listen();
}

export function startWorker(
  urls: string | string[],
  options: Partial<WorkerOptions> = {},
  start = true,
): Worker {
  const worker = new Worker({
    hubs: Array.isArray(urls) ? urls : [urls],
    workerId: 'w1',
    token: TOKEN,
    backoff: { initialDelayMs: 20, maxDelayMs: 200, minUptimeMs: 500 },
    ...options,
  });
  return start ? worker.start() : worker;
}

/**
 * Like waitFor, for a check that must do I/O (a scrape, a query). Polls every
 * 100 ms until the deadline; a check that rejects (nothing listening yet)
 * counts as not yet, and its last error is in the timeout message.
 */
export async function eventually(
  check: () => Promise<boolean>,
  timeoutMs = 10_000,
  what: string | (() => string) = 'condition',
): Promise<void> {
  const start = performance.now();
  let lastError: unknown;
  const attempt = () =>
    check().catch((err: unknown) => {
      lastError = err;
      return false;
    });
  while (!(await attempt())) {
    if (performance.now() - start > timeoutMs) {
      const last = lastError ? ` (last error: ${(lastError as Error).message ?? lastError})` : '';
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${typeof what === 'string' ? what : what()}${last}`,
      );
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Waits until a CLI hub on 127.0.0.1:`port` answers /readyz with 200. */
export function hubReady(port: number, timeoutMs = 15_000): Promise<void> {
  return eventually(
    async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).ok,
    timeoutMs,
    'the hub to be ready',
  );
}

/**
 * One hub and one worker per test, in the returned object: whatever a test
 * put there is stopped after it, and spies (such as socketWrites) restored.
 */
export function linkPerTest(): { hub?: Hub; worker?: Worker } {
  const link: { hub?: Hub; worker?: Worker } = {};
  afterEach(async () => {
    vi.restoreAllMocks();
    await link.worker?.stop({ timeoutMs: 500 });
    await link.hub?.close({ timeoutMs: 500 });
    link.worker = undefined;
    link.hub = undefined;
  });
  return link;
}
