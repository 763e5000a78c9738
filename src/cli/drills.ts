import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../log/logger.js';
import { parseDuration, UsageError } from './args.js';

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
 * Drill requests are accepted from loopback only, and only with the header
 * `X-Linkwatch-Drill: 1` and no `Origin`. A web page open in a browser on the
 * hub's host can send a "simple" cross-site POST without asking; a custom
 * header makes the browser ask first (a CORS preflight, which the hub never
 * grants), and every browser POST carries `Origin`, also a same-origin one
 * after DNS rebinding. curl and scripts send neither by default.
 *
 * Every duration is capped, so no drill outlives a game day:
 * - hang and fail: {@link MAX_WORKER_DRILL_MS} (1 h), which covers the
 *   longest `for:` of the alerts they exercise (LinkwatchHandlerFailing, 10m)
 *   several times over;
 * - block: {@link MAX_BLOCK_DRILL_MS} (10 min). A blocked loop answers
 *   nothing, not even SIGTERM, so the cap bounds how long a typo can take a
 *   hub away. 10 min is enough for LinkwatchHubAbsent/LinkwatchWorkerAbsent
 *   to fire (3 min stale + 2 min `for:`) with room to watch it.
 */

/** The header a drill request must carry (any non-empty value; `1` by convention). */
export const DRILL_HEADER = 'x-linkwatch-drill';
/** Cap of hang and fail drills. */
export const MAX_WORKER_DRILL_MS = 3_600_000;
/** Cap of event-loop block drills, the hub's and the worker's `--drill-block`. */
export const MAX_BLOCK_DRILL_MS = 600_000;

/** Parses a drill duration; over `maxMs` is an error naming the cap. */
export function drillDuration(flag: string, value: string, maxMs: number): number {
  const ms = parseDuration(flag, value);
  if (ms > maxMs) {
    throw new UsageError(
      `--${flag}: at most ${formatMs(maxMs)} for this drill, got ${JSON.stringify(value)}`,
    );
  }
  return ms;
}

function formatMs(ms: number): string {
  return ms % 3_600_000 === 0
    ? `${ms / 3_600_000}h`
    : ms % 60_000 === 0
      ? `${ms / 60_000}m`
      : `${ms / 1000}s`;
}

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
            const ms = drillDuration('duration', q.get('duration') ?? '5s', MAX_BLOCK_DRILL_MS);
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
    const ms = drillDuration('duration', q.get('duration') ?? '10s', MAX_WORKER_DRILL_MS);
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
    if (req.headers.origin !== undefined) {
      send(403, { error: 'drills are not accepted from a browser (the request carries Origin)' });
      return;
    }
    if (!req.headers[DRILL_HEADER]) {
      send(403, { error: 'drills need the header X-Linkwatch-Drill: 1' });
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
