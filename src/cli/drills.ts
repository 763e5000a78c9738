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
 * - hub: `POST /drills/fail?worker=ID&duration=10s` makes that worker's
 *   handler throw on every call for the duration;
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
  // Worker id → when its handler stops failing (performance.now()).
  readonly #failUntil = new Map<string, number>();

  constructor(logger: Logger) {
    this.#logger = logger;
  }

  /** Resolves when the drill lets this worker's handler go on; ignores the abort signal on purpose. */
  hang(workerId: string): Promise<void> | undefined {
    const left = remaining(this.#hangUntil, workerId);
    return left > 0 ? new Promise((resolve) => setTimeout(resolve, left)) : undefined;
  }

  /** Throws while a fail drill runs for this worker: the call settles as LW_ERR_HANDLER_FAILED. */
  fail(workerId: string): void {
    if (remaining(this.#failUntil, workerId) > 0) throw new Error('drill: handler fails');
  }

  routes(): Record<string, (req: IncomingMessage, res: ServerResponse) => void> {
    return {
      'POST /drills/hang': (req, res) =>
        this.#handle(req, res, (q) =>
          this.#startWorkerDrill(q, 'hang', this.#hangUntil, 'drill: handler hangs'),
        ),
      'POST /drills/fail': (req, res) =>
        this.#handle(req, res, (q) =>
          this.#startWorkerDrill(q, 'fail', this.#failUntil, 'drill: handler fails'),
        ),
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

  /** Starts (or, with duration 0s, ends) a drill on one worker's handler. */
  #startWorkerDrill(q: URLSearchParams, drill: string, until: Map<string, number>, logLine: string) {
    const worker = q.get('worker');
    if (!worker) throw new Error('worker=ID is required');
    const ms = parseDuration('duration', q.get('duration') ?? '10s');
    until.set(worker, performance.now() + ms);
    this.#logger.warn(logLine, { worker_id: worker, duration_ms: ms });
    return { drill, worker, durationMs: ms };
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

/** Ms left of a drill for this worker; forgets the drill once it is over. */
function remaining(until: Map<string, number>, workerId: string): number {
  const end = until.get(workerId);
  if (end === undefined) return 0;
  const left = end - performance.now();
  if (left <= 0) until.delete(workerId);
  return left;
}
