import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { type HttpHost, hostAllowed, isLoopback, LINKS_PER_SLICE, serveHttp } from '../../../src/hub/http.js';

describe('Host checks for a loopback hub (DNS rebinding)', () => {
  it('knows loopback names', () => {
    for (const h of ['127.0.0.1', '127.1.2.3', 'localhost', '::1', '[::1]', 'app.localhost'])
      expect(isLoopback(h)).toBe(true);
    for (const h of ['0.0.0.0', '10.0.0.1', 'example.com', 'localhost.example.com', '::'])
      expect(isLoopback(h)).toBe(false);
  });
  it('a loopback bind answers loopback Host names only, with or without a port', () => {
    expect(hostAllowed('127.0.0.1', '127.0.0.1:9000')).toBe(true);
    expect(hostAllowed('127.0.0.1', 'localhost')).toBe(true);
    expect(hostAllowed('127.0.0.1', '[::1]:9000')).toBe(true);
    expect(hostAllowed('127.0.0.1', 'evil.example:9000')).toBe(false);
    expect(hostAllowed('127.0.0.1', undefined)).toBe(false);
  });
  it('any other bind accepts any Host', () => {
    expect(hostAllowed('0.0.0.0', 'evil.example')).toBe(true);
  });
});

describe('GET /links on a big hub', () => {
  it('streams the links in slices with the event loop running between them, the same bytes as one JSON body', async () => {
    const n = LINKS_PER_SLICE * 2 + 123;
    const entries = Array.from({ length: n }, (_, i) => ({ workerId: `w-${i}`, state: 'healthy', seq: i }));
    // Counts turns of the event loop while the body is being built.
    let turns = 0;
    let ticking = true;
    const tick = () => {
      turns++;
      if (ticking) setImmediate(tick);
    };
    const turnsAtEntry: number[] = [];
    const host: HttpHost = {
      hubId: 'hub-"1"',
      bindHost: '127.0.0.1',
      routes: undefined,
      ready: () => true,
      *links() {
        for (const e of entries) {
          turnsAtEntry.push(turns);
          yield e;
        }
      },
    };
    const server = createServer((req, res) => serveHttp(host, req, res));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const { port } = server.address() as AddressInfo;
      setImmediate(tick);
      const res = await fetch(`http://127.0.0.1:${port}/links`);
      const body = await res.text();
      ticking = false;
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('application/json');
      expect(body).toBe(`${JSON.stringify({ hubId: host.hubId, links: entries })}\n`);
      // The loop turned between slices, never within one.
      expect(turnsAtEntry[LINKS_PER_SLICE - 1]).toBe(turnsAtEntry[0]);
      expect(turnsAtEntry[LINKS_PER_SLICE]!).toBeGreaterThan(turnsAtEntry[LINKS_PER_SLICE - 1]!);
      expect(turnsAtEntry[n - 1]!).toBeGreaterThan(turnsAtEntry[LINKS_PER_SLICE]!);
    } finally {
      server.close();
    }
  });
});
