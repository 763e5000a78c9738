import { once } from 'node:events';
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
  /** Every link's entry, built as it is read: /links streams them in slices. */
  links(): Iterable<unknown>;
}

/** Links serialized between two yields to the event loop on /links. */
export const LINKS_PER_SLICE = 500;

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
    streamLinks(host, res).catch(() => res.destroy());
    return;
  }
  json(res, 404, { error: 'not found', routes: ROUTES });
}

/**
 * `{"hubId":…,"links":[…]}` in slices of LINKS_PER_SLICE entries with a
 * yield to the event loop between them. Built and serialized in one call,
 * 10,000 links held a hub's event loop for 100-200 ms, and every heartbeat
 * answer with it. The same bytes as one JSON.stringify of the whole body.
 */
async function streamLinks(host: HttpHost, res: ServerResponse): Promise<void> {
  res.writeHead(200, { 'content-type': 'application/json' });
  let chunk = `{"hubId":${JSON.stringify(host.hubId)},"links":[`;
  let n = 0;
  for (const link of host.links()) {
    chunk += `${n > 0 ? ',' : ''}${JSON.stringify(link)}`;
    if (++n % LINKS_PER_SLICE === 0) {
      // A slow reader holds the rest, not the hub's memory.
      if (!res.write(chunk)) await once(res, 'drain');
      chunk = '';
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (res.destroyed) return;
    }
  }
  res.end(`${chunk}]}\n`);
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
