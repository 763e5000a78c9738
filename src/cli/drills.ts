import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../log/logger.js';
import { parseDuration } from './args.js';

/**
 * Fault drills for game days and the end-to-end tests, off unless `--drills`
 * is given. They make the failures linkwatch exists to catch happen on
 * purpose, so an operator can watch the alerts fire and resolve:
 *
 * - hub: `POST /drills/hang?worker=ID&duration=10s` makes that worker's
 *   handler hang past its deadline (ignoring its abort signal) for the duration;
 * - hub: `POST /drills/block?duration=5s` blocks the hub's event loop;
 * - worker: `SIGUSR2` blocks the worker's event loop for `--drill-block`.
 *
 * Drill requests are accepted from loopback only.
 */

/** Spins the main thread: no timers, no I/O, no scrapes answered. */
export function blockEventLoop(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // busy on purpose
  }
}

export class HubDrills {
  readonly #logger: Logger;
  // Worker id → when its handler stops hanging (performance.now()).
  readonly #hangUntil = new Map<string, number>();

  constructor(logger: Logger) {
    this.#logger = logger;
  }

  /** Resolves when the drill lets this worker's handler go on; ignores the abort signal on purpose. */
  hang(workerId: string): Promise<void> | undefined {
    const until = this.#hangUntil.get(workerId);
    if (until === undefined) return undefined;
    const left = until - performance.now();
    if (left <= 0) {
      this.#hangUntil.delete(workerId);
      return undefined;
    }
    return new Promise((resolve) => setTimeout(resolve, left));
  }

  routes(): Record<string, (req: IncomingMessage, res: ServerResponse) => void> {
    return {
      'POST /drills/hang': (req, res) =>
        this.#handle(req, res, (q) => {
          const worker = q.get('worker');
          if (!worker) throw new Error('worker=ID is required');
          const ms = parseDuration('duration', q.get('duration') ?? '10s');
          this.#hangUntil.set(worker, performance.now() + ms);
          this.#logger.warn('drill: handler hangs', { worker_id: worker, duration_ms: ms });
          return { drill: 'hang', worker, durationMs: ms };
        }),
      'POST /drills/block': (req, res) =>
        this.#handle(
          req,
          res,
          (q) => {
            const ms = parseDuration('duration', q.get('duration') ?? '5s');
            this.#logger.warn('drill: event loop blocked', { duration_ms: ms });
            return { drill: 'block', durationMs: ms };
          },
          (body) => setImmediate(() => blockEventLoop((body as { durationMs: number }).durationMs)),
        ),
    };
  }

  #handle(
    req: IncomingMessage,
    res: ServerResponse,
    run: (query: URLSearchParams) => unknown,
    after?: (body: unknown) => void,
  ): void {
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(`${JSON.stringify(body)}\n`);
    };
    const from = req.socket.remoteAddress ?? '';
    if (!(from.startsWith('127.') || from === '::1' || from === '::ffff:127.0.0.1')) {
      send(403, { error: 'drills are accepted from loopback only' });
      return;
    }
    let body: unknown;
    try {
      body = run(new URL(req.url ?? '/', 'http://localhost').searchParams);
    } catch (err) {
      send(400, { error: (err as Error).message });
      return;
    }
    send(200, body);
    after?.(body);
  }
}
