import { describe, expect, it } from 'vitest';
import type { LinkInfo } from '../../../src/hub/link-info.js';
import { cliPerTest, freePort, hubArgs, summary, tempDir, writeFile } from '../../helpers/cli.js';

const cli = cliPerTest();

const WORKERS = 20;
const FIRST = 'load-first-token-0123456789';
const REST = 'load-rest-token-0123456789';

/** A hub token file binding load-0 to one token and every other id to another. */
function tokenFile(dir: string): string {
  const rest = Array.from({ length: WORKERS - 1 }, (_, i) => `load-${i + 1}`).join(',');
  return writeFile(dir, 'tokens', `# load test\n${FIRST} load-0\n${REST} ${rest}\n`);
}

async function startHub(tokens: string) {
  const port = await freePort();
  const hub = cli([...hubArgs(`127.0.0.1:${port}`, tokens), '--heartbeat-interval', '200ms']);
  await hub.waitFor('hub listening');
  return { hub, port };
}

describe('linkwatch load', () => {
  it('runs 20 workers over 2 processes against a CLI hub and prints connect time, RTT percentiles and losses', async () => {
    const dir = tempDir();
    const tokens = tokenFile(dir);
    const { port } = await startHub(tokens);
    // The hub's own token file: each id must pick the token bound to it, or the hub refuses it.
    const load = cli([
      'load',
      '--hub',
      `ws://127.0.0.1:${port}`,
      '--workers',
      String(WORKERS),
      '--procs',
      '2',
      '--rate',
      '5',
      '--size',
      '64',
      '--duration',
      '4s',
      '--token-file',
      tokens,
      '--progress',
    ]);
    const { code } = await load.exited;
    expect(code, load.stderr()).toBe(0);
    const s = summary(load);
    expect(s).toMatchObject({
      role: 'load',
      type: 'summary',
      workers: WORKERS,
      procs: 2,
      connected: WORKERS,
      lost: 0,
      dropped: 0,
      handshakeFailures: {},
    });
    expect(s.allConnectedMs).toBeGreaterThan(0);
    const connect = s.connectMs as { p50: number; p99: number; max: number };
    expect(connect.max).toBe(s.allConnectedMs);
    expect(connect.p50).toBeLessThanOrEqual(connect.p99);
    const rtt = s.rttMs as { p50: number; p99: number; max: number; samples: number };
    // 20 links × 5 heartbeats a second for about a second past the warm-up, at least.
    expect(rtt.samples).toBeGreaterThan(WORKERS);
    expect(rtt.p50).toBeGreaterThan(0);
    expect(rtt.p50).toBeLessThanOrEqual(rtt.p99);
    expect(rtt.p99).toBeLessThanOrEqual(rtt.max);
    // The connect phase's heartbeats are counted apart from the steady ones.
    expect((s.rttUnsteadyMs as { samples: number }).samples).toBeGreaterThan(0);
    // The load processes say how much of the RTT is their own lag.
    const lag = s.loadLoopDelayMs as { p99Max: number; p99Median: number };
    expect(lag.p99Max).toBeGreaterThanOrEqual(lag.p99Median);
    // 5 msg/s for 3 s and more: everything sent was acked.
    expect(s.sent).toBeGreaterThanOrEqual(WORKERS * 5 * 2);
    expect(s.acked).toBe(s.sent);
    // Progress lines came first, one a second, and never a token.
    const lines = load.stdout().trim().split('\n');
    const progress = lines.slice(0, -1).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(progress.length).toBeGreaterThanOrEqual(3);
    expect(progress.at(-1)).toMatchObject({ type: 'progress', workers: WORKERS, connected: WORKERS });
    // Not steady while connecting; steady 2 s after the last connect, once a load process reported.
    expect(progress[0]).toMatchObject({ steady: false });
    expect(progress.some((p) => p.steady === true)).toBe(true);
    expect(load.stdout() + load.stderr()).not.toContain(FIRST);
    expect(load.stdout() + load.stderr()).not.toContain(REST);
    // The hub saw exactly these workers.
    const links = (await (await fetch(`http://127.0.0.1:${port}/links`)).json()) as { links: LinkInfo[] };
    expect(links.links.map((l) => l.workerId).sort()).toEqual(
      Array.from({ length: WORKERS }, (_, i) => `load-${i}`).sort(),
    );
  });

  it('leaves the recovery from a hub restart out of the steady phase, and resumes it once the fleet is back', async () => {
    const dir = tempDir();
    const tokens = tokenFile(dir);
    let { hub, port } = await startHub(tokens);
    const load = cli([
      ...['load', '--hub', `ws://127.0.0.1:${port}`, '--workers', String(WORKERS), '--procs', '2'],
      ...['--rate', '5', '--duration', '0', '--backoff-max', '300ms', '--token-file', tokens, '--progress'],
    ]);
    await load.waitFor('"steady":true', 20_000);
    hub.child.kill('SIGKILL');
    await hub.exited;
    // Down: not steady, however long the fleet was connected before.
    await load.waitFor(/"steady":true[\s\S]*"steady":false/, 10_000);
    hub = cli([...hubArgs(`127.0.0.1:${port}`, tokens), '--heartbeat-interval', '200ms']);
    await hub.waitFor('hub listening');
    await load.waitFor(/"steady":true[\s\S]*"steady":false[\s\S]*"steady":true/, 20_000);
    load.child.kill('SIGINT');
    const { code } = await load.exited;
    expect(code, load.stderr()).toBe(0);
    // Open-ended (--duration 0): no TimeoutOverflowWarning from a timer set to Infinity.
    expect(load.stderr()).not.toContain('Warning');
    const lines = load
      .stdout()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const progress = lines.filter((l) => l.type === 'progress');
    // Every line after the kill that is steady again has the whole fleet connected.
    const down = progress.findIndex((p, i) => i > 0 && progress[i - 1]!.steady && !p.steady);
    expect(down).toBeGreaterThan(0);
    const back = progress.findIndex((p, i) => i > down && p.steady);
    expect(progress[back]).toMatchObject({ connected: WORKERS });
    expect(progress[back]!.reconnects).toBeGreaterThanOrEqual(WORKERS);
    const s = summary(load);
    expect(s.lost).toBe(0);
    expect((s.rttMs as { samples: number }).samples).toBeGreaterThan(0);
    expect((s.rttUnsteadyMs as { samples: number }).samples).toBeGreaterThan(0);
  });

  it('rejects a bad flag, or an id without a token, with exit code 2 naming it and never the token', async () => {
    const dir = tempDir();
    const usage = async (args: string[], message: string) => {
      const p = cli(['load', ...args]);
      const { code } = await p.exited;
      expect(code, p.stderr()).toBe(2);
      expect(p.stderr()).toContain(message);
      expect(p.stderr()).not.toContain(FIRST);
      expect(p.stdout()).toBe('');
    };
    const tokens = tokenFile(dir);
    await usage(['--workers', '3', '--token-file', tokens], '--hub URL is required');
    await usage(['--hub', 'ws://127.0.0.1:1', '--token-file', tokens], '--workers N is required');
    await usage(
      ['--hub', 'ws://127.0.0.1:1', '--workers', '0', '--token-file', tokens],
      '--workers: expected',
    );
    await usage(['--hub', 'http://127.0.0.1:1', '--workers', '3', '--token-file', tokens], '--hub');
    await usage(
      ['--hub', 'ws://127.0.0.1:1', '--workers', '3', '--rate', 'fast', '--token-file', tokens],
      '--rate',
    );
    await usage(
      ['--hub', 'ws://127.0.0.1:1', '--workers', String(WORKERS + 1), '--token-file', tokens],
      `no token for worker id load-${WORKERS}`,
    );
  });
});
