import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { AlertmanagerSink } from '../../../src/watchdog/alertmanager-sink.js';
import { type Alert, type HealthReason, makeAlert } from '../../../src/watchdog/alerts.js';
import { freePort } from '../../helpers/cli.js';
import { waitFor } from '../../helpers/fleet.js';

/** One alert as the v2 API receives it. */
interface ApiAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt?: string;
}

type Mode = 'ok' | 'fail' | 'hang';

/**
 * A fake Alertmanager v2 endpoint on 127.0.0.1: records every POST body with
 * its arrival time; answers 200, 500 or never, by `mode`. It can stop and
 * start again on the same port (the "Alertmanager is down" case).
 */
class FakeAlertmanager {
  mode: Mode = 'ok';
  readonly posts: { at: number; alerts: ApiAlert[]; path: string }[] = [];
  #server: Server | undefined;
  #hung = new Set<ServerResponse>();
  port = 0;

  /** Requests received and held without an answer (mode 'hang'). */
  get held(): number {
    return this.#hung.size;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Every alert received, flattened, in arrival order. */
  get alerts(): ApiAlert[] {
    return this.posts.flatMap((p) => p.alerts);
  }

  async start(port = this.port): Promise<this> {
    const server = createServer((req, res) => this.#request(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', resolve);
    });
    this.#server = server;
    this.port = (server.address() as { port: number }).port;
    return this;
  }

  #request(req: IncomingMessage, res: ServerResponse): void {
    let body = '';
    req.on('data', (d: Buffer) => {
      body += d.toString();
    });
    req.on('end', () => {
      if (this.mode === 'hang') {
        this.#hung.add(res);
        return;
      }
      if (this.mode === 'ok') {
        this.posts.push({
          at: performance.now(),
          alerts: JSON.parse(body) as ApiAlert[],
          path: req.url ?? '',
        });
      }
      res.writeHead(this.mode === 'ok' ? 200 : 500).end();
    });
  }

  async stop(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    if (!server) return;
    for (const res of this.#hung) res.destroy();
    this.#hung.clear();
    const closed = new Promise((r) => server.close(r));
    server.closeAllConnections();
    await closed;
  }
}

let servers: FakeAlertmanager[] = [];
let sinks: AlertmanagerSink[] = [];
afterEach(async () => {
  await Promise.all(sinks.map((s) => s.close()));
  sinks = [];
  await Promise.all(servers.map((s) => s.stop()));
  servers = [];
});

async function fake(): Promise<FakeAlertmanager> {
  const am = new FakeAlertmanager();
  servers.push(am);
  return am.start();
}

/** A port with nothing listening on it (yet). */
async function downFake(): Promise<FakeAlertmanager> {
  const am = new FakeAlertmanager();
  servers.push(am);
  am.port = await freePort();
  return am;
}

function sink(options: ConstructorParameters<typeof AlertmanagerSink>[0]): AlertmanagerSink {
  const s = new AlertmanagerSink(options);
  sinks.push(s);
  return s;
}

function alert(workerId = 'w1', reason: HealthReason = 'progress-stalled'): Alert {
  return makeAlert(
    reason,
    { workerId, hubId: 'hub-1', side: 'hub' },
    `worker ${workerId}: 3 pending, nothing acked for 45 s`,
    new Date('2030-01-02T03:04:05.000Z'),
  );
}

function resolved(a: Alert): Alert {
  return { ...a, status: 'resolved', endsAt: new Date('2030-01-02T03:09:05.000Z') };
}

/** Calls deliver and returns how long it took; it must be synchronous and return nothing. */
function timedDeliver(s: AlertmanagerSink, a: Alert): number {
  const start = performance.now();
  const ret = s.deliver(a) as unknown;
  const ms = performance.now() - start;
  expect(ret).toBeUndefined();
  return ms;
}

/**
 * Records the timers the sink itself creates (by call site), and which of
 * them are still pending. Unref'd timers do not show in
 * process.getActiveResourcesInfo(), so this is how a test sees them.
 */
function trackSinkTimers() {
  const live = new Set<unknown>();
  const real = {
    setTimeout: globalThis.setTimeout,
    setInterval: globalThis.setInterval,
    clearTimeout: globalThis.clearTimeout,
    clearInterval: globalThis.clearInterval,
  };
  // Frame 0 is this function, 1 the wrapper below, 2 whoever called setTimeout/setInterval.
  const fromSink = () =>
    new Error().stack?.split('\n')[3]?.includes('src/watchdog/alertmanager-sink') === true;
  globalThis.setTimeout = ((fn: (...a: unknown[]) => void, ms?: number, ...args: unknown[]) => {
    const mine = fromSink();
    const t = real.setTimeout(
      (...a: unknown[]) => {
        live.delete(t);
        fn(...a);
      },
      ms,
      ...args,
    );
    if (mine) live.add(t);
    return t;
  }) as typeof setTimeout;
  globalThis.setInterval = ((fn: (...a: unknown[]) => void, ms?: number, ...args: unknown[]) => {
    const t = real.setInterval(fn, ms, ...args);
    if (fromSink()) live.add(t);
    return t;
  }) as typeof setInterval;
  globalThis.clearTimeout = ((t: Parameters<typeof clearTimeout>[0]) => {
    live.delete(t);
    real.clearTimeout(t);
  }) as typeof clearTimeout;
  globalThis.clearInterval = ((t: Parameters<typeof clearInterval>[0]) => {
    live.delete(t);
    real.clearInterval(t);
  }) as typeof clearInterval;
  return {
    get live() {
      return live.size;
    },
    restore() {
      Object.assign(globalThis, real);
    },
  };
}

describe('AlertmanagerSink', () => {
  it('refuses a URL that is not http(s)', () => {
    expect(() => new AlertmanagerSink({ url: 'ws://127.0.0.1:9093' })).toThrow(
      /Expected `alertmanager.url` to be an http\(s\) URL, got "ws:/,
    );
  });

  it('posts a firing alert to /api/v2/alerts with labels, annotations, startsAt and no endsAt', async () => {
    const am = await fake();
    const delivered: number[] = [];
    const s = sink({ url: `${am.url}/`, onDelivered: (n) => delivered.push(n) });
    s.deliver(alert());
    await waitFor(() => s.delivered === 1, 2000, 'one delivery');
    expect(am.posts).toHaveLength(1);
    expect(am.posts[0]!.path).toBe('/api/v2/alerts');
    expect(am.alerts[0]).toEqual({
      labels: {
        alertname: 'LinkwatchProgressStalled',
        severity: 'critical',
        linkwatch_worker_id: 'w1',
        linkwatch_link_side: 'hub',
        linkwatch_hub_id: 'hub-1',
        linkwatch_reason: 'progress-stalled',
        source: 'linkwatch-watchdog',
      },
      annotations: {
        summary: 'Work is pending on a link but nothing is acked or completed.',
        description: 'worker w1: 3 pending, nothing acked for 45 s',
        runbook_url: expect.stringMatching(/runbooks\.md#linkwatchprogressstalled$/),
      },
      startsAt: '2030-01-02T03:04:05.000Z',
    });
    expect(delivered).toEqual([1]);
    expect({ failed: s.failed, dropped: s.dropped, pending: s.pending }).toEqual({
      failed: 0,
      dropped: 0,
      pending: 0,
    });
  });

  it('re-sends firing alerts every resendIntervalMs and stops once resolved (sent with endsAt)', async () => {
    const am = await fake();
    const s = sink({ url: am.url, resendIntervalMs: 100 });
    const a = alert('w1');
    const b = alert('w2');
    s.deliver(a);
    const of = (id: string) => am.alerts.filter((x) => x.labels.linkwatch_worker_id === id);
    await waitFor(() => of('w1').length >= 4, 2000, 'w1 re-sent three times');
    const times = am.posts.filter((p) => p.alerts.some((x) => x.labels.linkwatch_worker_id === 'w1'));
    // Between re-sends (the first post is immediate): paced by the interval, not a hot loop, and
    // not stuck (bounds are loose because CI timers run late).
    const gaps = times.slice(2).map((p, i) => p.at - times[i + 1]!.at);
    for (const g of gaps) expect(g).toBeGreaterThan(30);
    for (const g of gaps) expect(g).toBeLessThan(1000);

    s.deliver(resolved(a));
    await waitFor(() => of('w1').some((x) => x.endsAt !== undefined), 2000, 'the resolve');
    const resolve = of('w1').find((x) => x.endsAt !== undefined)!;
    expect(resolve).toMatchObject({
      startsAt: '2030-01-02T03:04:05.000Z',
      endsAt: '2030-01-02T03:09:05.000Z',
    });
    const w1Posts = of('w1').length;

    // Another alert keeps firing: after it was re-sent twice more, w1 must not have been sent again.
    s.deliver(b);
    const w2Start = of('w2').length;
    await waitFor(() => of('w2').length >= w2Start + 3, 2000, 'w2 re-sent');
    expect(of('w1')).toHaveLength(w1Posts);
    expect(of('w1').at(-1)!.endsAt).toBe('2030-01-02T03:09:05.000Z');
  });

  it('never blocks deliver() while Alertmanager is down; counts, retries with backoff, delivers once back', async () => {
    const am = await downFake();
    const failures: { at: number; error: string }[] = [];
    const s = sink({ url: am.url, onFailure: (error) => failures.push({ at: performance.now(), error }) });
    expect(timedDeliver(s, alert('w1'))).toBeLessThan(5);
    await waitFor(() => failures.length >= 3, 5000, 'three failed posts');
    expect(s.failed).toBe(3);
    expect(failures.map((f) => f.error)).toEqual(['ECONNREFUSED', 'ECONNREFUSED', 'ECONNREFUSED']);
    // Backoff: 500 ms after the first failure, 1000 ms after the second (250 × 2^failures).
    const gap1 = failures[1]!.at - failures[0]!.at;
    const gap2 = failures[2]!.at - failures[1]!.at;
    expect(gap1).toBeGreaterThanOrEqual(450);
    expect(gap2).toBeGreaterThanOrEqual(950);
    expect(gap2).toBeGreaterThan(gap1 * 1.5);
    expect(s.pending).toBe(1);
    // While it is down, more alerts still go in without waiting.
    expect(timedDeliver(s, alert('w2'))).toBeLessThan(5);

    await am.start();
    await waitFor(() => s.delivered === 2, 5000, 'both delivered once back');
    expect(am.alerts.map((x) => x.labels.linkwatch_worker_id).sort()).toEqual(['w1', 'w2']);
    expect(s.pending).toBe(0);
    expect(s.failed).toBe(3);
  });

  it('counts HTTP 500 as a failure, keeps the alert, and delivers it when the server recovers', async () => {
    const am = await fake();
    am.mode = 'fail';
    const errors: string[] = [];
    const s = sink({ url: am.url, onFailure: (e) => errors.push(e) });
    expect(timedDeliver(s, alert())).toBeLessThan(5);
    await waitFor(() => s.failed === 1, 2000, 'the 500');
    expect(errors).toEqual(['HTTP 500']);
    expect(s.pending).toBe(1);
    am.mode = 'ok';
    await waitFor(() => s.delivered === 1, 3000, 'delivery after recovery');
    expect(am.alerts).toHaveLength(1);
    expect(s.failed).toBe(1);
  });

  it('gives up on a hung Alertmanager after timeoutMs without blocking the caller or the event loop', async () => {
    const am = await fake();
    am.mode = 'hang';
    const errors: { at: number; error: string }[] = [];
    const s = sink({
      url: am.url,
      timeoutMs: 150,
      onFailure: (error) => errors.push({ at: performance.now(), error }),
    });
    const start = performance.now();
    expect(timedDeliver(s, alert())).toBeLessThan(5);
    // The event loop keeps turning while the POST hangs.
    let ticks = 0;
    const tick = setInterval(() => ticks++, 10);
    await waitFor(() => s.failed === 1, 3000, 'the timeout');
    clearInterval(tick);
    expect(errors[0]!.error).toBe('timeout');
    expect(errors[0]!.at - start).toBeGreaterThanOrEqual(140);
    expect(errors[0]!.at - start).toBeLessThan(1500);
    expect(ticks).toBeGreaterThan(5);
    am.mode = 'ok';
    await waitFor(() => s.delivered === 1, 3000, 'delivery after the hang');
    expect(am.alerts).toHaveLength(1);
  });

  it('bounds pending memory by maxPending, dropping the oldest and counting each drop', async () => {
    const am = await downFake();
    const s = sink({ url: am.url, maxPending: 3 });
    let worst = 0;
    for (let i = 1; i <= 5; i++) worst = Math.max(worst, timedDeliver(s, alert(`w${i}`)));
    expect(worst).toBeLessThan(5);
    expect(s.pending).toBe(3);
    expect(s.dropped).toBe(2);
    await waitFor(() => s.failed === 1, 2000, 'the first failed post');
    // The failed batch came back; two more overflow it while retries back off.
    expect(s.pending).toBe(3);
    s.deliver(alert('w6'));
    s.deliver(alert('w7'));
    expect(s.pending).toBe(3);
    expect(s.dropped).toBe(4);
    // A re-fire of a pending alert replaces it rather than taking another slot.
    s.deliver(alert('w7'));
    expect(s.pending).toBe(3);
    expect(s.dropped).toBe(4);

    await am.start();
    await waitFor(() => s.delivered === 3, 5000, 'the newest three');
    expect(am.alerts.map((x) => x.labels.linkwatch_worker_id).sort()).toEqual(['w5', 'w6', 'w7']);
  });

  it('close() flushes what is pending and leaves no timer behind', async () => {
    const timers = trackSinkTimers();
    try {
      const am = await fake();
      const s = new AlertmanagerSink({ url: am.url, resendIntervalMs: 50 });
      expect(timers.live).toBe(1); // the re-send interval
      s.deliver(alert('w1'));
      s.deliver(alert('w2'));
      await s.close();
      // Delivered by close() itself, not by a timer that fires later.
      expect(am.alerts.map((x) => x.labels.linkwatch_worker_id)).toEqual(['w1', 'w2']);
      expect(s.delivered).toBe(2);
      expect(timers.live).toBe(0);
      s.deliver(alert('w3'));
      expect(s.pending).toBe(0);
      expect(timers.live).toBe(0);
    } finally {
      timers.restore();
    }
  });

  it('close() while Alertmanager is down makes one last attempt and leaves no retry timer behind', async () => {
    const timers = trackSinkTimers();
    try {
      const am = await downFake();
      const s = new AlertmanagerSink({ url: am.url });
      s.deliver(alert('w1'));
      await s.close();
      expect(s.failed).toBe(1);
      expect(timers.live).toBe(0);
    } finally {
      timers.restore();
    }
  });

  it('close() during a hung POST waits for it, then sends what arrived meanwhile, and stops', async () => {
    const timers = trackSinkTimers();
    try {
      const am = await fake();
      am.mode = 'hang';
      const s = new AlertmanagerSink({ url: am.url, timeoutMs: 150 });
      s.deliver(alert('w1'));
      // The first POST is on the wire and hanging once the server holds it.
      await waitFor(() => am.held === 1, 2000, 'the POST held by the server');
      expect(s.pending).toBe(0);
      s.deliver(alert('w2'));
      am.mode = 'ok';
      await s.close();
      expect(s.failed).toBe(1);
      expect(am.alerts.map((x) => x.labels.linkwatch_worker_id).sort()).toEqual(['w1', 'w2']);
      expect(timers.live).toBe(0);
    } finally {
      timers.restore();
    }
  });
});
