import type { IncomingMessage, ServerResponse } from 'node:http';
import { isIP } from 'node:net';
import type { HubRoute } from './options.js';

/** What the hub's plain HTTP routes read. */
export interface HttpHost {
  readonly hubId: string;
  /** The address the hub is bound to; loopback binds only answer loopback Host names. */
  readonly bindHost: string;
  readonly routes: Record<string, HubRoute> | undefined;
  ready(): boolean;
  links(): unknown[];
}

const ROUTES = ['/healthz', '/readyz', '/links'];

/** GET /healthz, /readyz, /links, plus the extra routes; everything else is 404 or 405. */
export function serveHttp(host: HttpHost, req: IncomingMessage, res: ServerResponse): void {
  const path = (req.url ?? '/').split('?')[0];
  if (!hostAllowed(host.bindHost, req.headers.host)) {
    // A DNS-rebinding page reaches a loopback hub under a foreign name; it gets nothing.
    json(res, 421, { error: 'misdirected request: this hub answers loopback host names only' });
    return;
  }
  const route = host.routes?.[`${req.method} ${path}`];
  if (route) {
    route(req, res);
    return;
  }
  if (req.method !== 'GET') {
    json(res, 405, { error: 'method not allowed' });
    return;
  }
  if (path === '/healthz') {
    json(res, 200, { status: 'ok', hubId: host.hubId });
    return;
  }
  if (path === '/readyz') {
    const ready = host.ready();
    json(res, ready ? 200 : 503, { status: ready ? 'ready' : 'not ready', hubId: host.hubId });
    return;
  }
  if (path === '/links') {
    json(res, 200, { hubId: host.hubId, links: host.links() });
    return;
  }
  json(res, 404, { error: 'not found', routes: ROUTES });
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(`${JSON.stringify(body)}\n`);
}

/** True when the bind address is loopback (127.0.0.0/8, ::1 or localhost). */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  return h === '::1' || h === '::ffff:127.0.0.1';
}

/**
 * A hub bound to loopback answers only requests whose Host names loopback,
 * as Prometheus and Jupyter do; any other bind accepts any Host.
 */
export function hostAllowed(bindHost: string, hostHeader: string | undefined): boolean {
  if (!isLoopback(bindHost)) return true;
  if (!hostHeader) return false;
  const name = hostHeader.startsWith('[')
    ? hostHeader.slice(0, hostHeader.indexOf(']') + 1)
    : hostHeader.replace(/:\d+$/, '');
  return isLoopback(name);
}
