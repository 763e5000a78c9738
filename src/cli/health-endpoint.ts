import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { hostAllowed } from '../hub/http.js';

/** What a process's health endpoint reports. */
export interface HealthSource {
  /** The id the answers carry, so a probe log names the process. */
  readonly id: string;
  /** True while the process can do its work now (a worker: its link is connected). */
  ready(): boolean;
}

/**
 * GET /healthz (200 while the event loop answers) and /readyz (200 when
 * `ready()`, else 503) for a process with no HTTP server of its own, the
 * worker, so an orchestrator probes the application and not a port. What a
 * live, connected process can still get wrong (a stalled link, a hung
 * handler) is left to the watchdog and the Prometheus rules. Loopback binds
 * answer loopback Host names only, as the hub's routes do.
 */
export async function startHealthEndpoint(source: HealthSource, host: string, port: number): Promise<Server> {
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0];
    if (!hostAllowed(host, req.headers.host)) return json(res, 421, { error: 'misdirected request' });
    if (req.method !== 'GET') return json(res, 405, { error: 'method not allowed' });
    if (path === '/healthz') return json(res, 200, { status: 'ok', id: source.id });
    if (path === '/readyz') {
      const ready = source.ready();
      return json(res, ready ? 200 : 503, { status: ready ? 'ready' : 'not ready', id: source.id });
    }
    json(res, 404, { error: 'not found', routes: ['/healthz', '/readyz'] });
  });
  server.unref();
  server.listen(port, host);
  await once(server, 'listening');
  return server;
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(`${JSON.stringify(body)}\n`);
}
