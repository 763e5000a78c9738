import { afterEach, describe, expect, it } from 'vitest';
import { freePort, type Proc, runCli, summary } from '../../helpers/cli.js';

let proc: Proc | undefined;
afterEach(() => {
  proc?.child.kill('SIGKILL');
  proc = undefined;
});

async function get(url: string): Promise<{ status: number; text: string }> {
  const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
  return { status: res.status, text: await res.text() };
}

describe('linkwatch demo (the main job)', () => {
  it('injects a black hole and a hung handler, detects both, recovers, and serves /metrics', async () => {
    const metricsPort = await freePort();
    proc = runCli(['demo', '--duration', '20s', '--metrics-listen', `127.0.0.1:${metricsPort}`]);
    const p = proc;
    await p.waitFor('where to look', 15_000);
    const links = /links\s+(http:\/\/127\.0\.0\.1:\d+\/links)/.exec(p.stdout())?.[1];
    expect(links).toBeDefined();
    // Stdout is a pipe, so the demo prints log lines, not the live view.
    expect(p.stdout()).not.toContain('\x1b[');

    await p.waitFor(/recovered hang on worker-3/, 20_000);
    const metrics = await get(`http://127.0.0.1:${metricsPort}/metrics`);
    expect(metrics.status).toBe(200);
    for (const id of ['worker-1', 'worker-2', 'worker-3']) {
      expect(metrics.text).toMatch(
        new RegExp(`linkwatch_link_up\\{linkwatch_worker_id="${id}",linkwatch_link_side="worker"`),
      );
    }
    expect(metrics.text).toMatch(
      /linkwatch_watchdog_alerts_total\{[^}]*linkwatch_alert_name="LinkwatchHandlerHung"[^}]*\} [1-9]/,
    );
    const body = JSON.parse((await get(links!)).text) as { links: { workerId: string }[] };
    expect(body.links.map((l) => l.workerId).sort()).toEqual(['worker-1', 'worker-2', 'worker-3']);

    const { code } = await p.exited;
    expect(code).toBe(0);
    const s = summary(p) as {
      stoppedBy: string;
      sent: number;
      acked: number;
      duplicatesDropped: number;
      faults: {
        kind: string;
        detectedBy: string | null;
        detectedAfterMs: number | null;
        recoveredAfterMs: number | null;
        interrupted: boolean;
      }[];
      alerts: { fired: number; resolved: number; firingAtExit: string[] };
    };
    expect(s.stoppedBy).toBe('duration');
    expect(s.faults.map((f) => f.kind).sort()).toEqual(['blackhole', 'hang']);
    for (const f of s.faults) {
      expect(f.interrupted).toBe(false);
      expect(f.detectedBy).not.toBeNull();
      // Detection within the watchdog's bounds: heartbeat deadline (3 s) or handler deadline (2 s) plus checks.
      expect(f.detectedAfterMs).toBeLessThan(5_000);
      expect(f.recoveredAfterMs).not.toBeNull();
    }
    expect(s.alerts.fired).toBeGreaterThanOrEqual(2);
    expect(s.alerts.resolved).toBe(s.alerts.fired);
    expect(s.alerts.firingAtExit).toEqual([]);
    // Nothing lost across the black hole and its replay.
    expect(s.acked).toBe(s.sent);
    expect(s.sent).toBeGreaterThan(1000);
  }, 45_000);

  it('rejects a bad flag with exit code 2 and a message naming it', async () => {
    proc = runCli(['demo', '--workers', 'many']);
    const { code } = await proc.exited;
    expect(code).toBe(2);
    expect(proc.stderr()).toContain('--workers: expected an integer');
  });
});
