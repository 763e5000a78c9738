import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { requireBinaries } from '../../helpers/binaries.js';
import {
  durationMs,
  overrideWindows,
  rulesForTest,
  writeRulesForTest,
} from '../../helpers/rules-override.js';

interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
}
const rulesOf = (text: string): Rule[] =>
  (parse(text) as { groups: { rules: Rule[] }[] }).groups.flatMap((g) => g.rules);

const bins = requireBinaries('promtool');
const DEADLINE_MS = 20_000;
const temps: string[] = [];
afterAll(() => {
  for (const dir of temps) rmSync(dir, { recursive: true, force: true });
});

function run(file: string, args: string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { timeout: DEADLINE_MS, encoding: 'utf8' }, (err, stdout, stderr) => {
      resolve({
        code: err ? (typeof err.code === 'number' ? err.code : -1) : 0,
        output: `${stdout}${stderr}`,
      });
    });
  });
}

describe('overrideWindows', () => {
  it('rewrites ranges and offsets of 15m or less and keeps longer ones', () => {
    expect(overrideWindows('increase(x[5m]) and y offset 5m', '10s')).toBe(
      'increase(x[10s]) and y offset 10s',
    );
    expect(overrideWindows('increase(x[15m])', '10s')).toBe('increase(x[10s])');
    expect(overrideWindows('max_over_time(x[1h]) or rate(y[1h30m])', '10s')).toBe(
      'max_over_time(x[1h]) or rate(y[1h30m])',
    );
    expect(overrideWindows('x{a="[5m]"}', '10s')).toBe('x{a="[10s]"}');
  });

  it('refuses subqueries instead of half-rewriting them', () => {
    expect(() => overrideWindows('max_over_time(rate(x[1m])[5m:1m])', '10s')).toThrow(/subquery/);
  });
});

describe('rulesForTest', () => {
  const shipped = rulesForTest({ for: '2s', window: '10s' });

  it('rewrites every for: and keeps alerts without one', () => {
    const alerts = rulesOf(shipped.alerts);
    expect(alerts.filter((a) => a.for !== undefined).length).toBeGreaterThan(5);
    for (const a of alerts) if (a.for !== undefined) expect(a.for, a.alert).toBe('2s');
    expect(alerts.find((a) => a.alert === 'LinkwatchWatchdog')?.for).toBeUndefined();
  });

  it('leaves no window but the new one and the dead-man lookback', () => {
    for (const r of [...rulesOf(shipped.alerts), ...rulesOf(shipped.rules)]) {
      for (const [, d] of r.expr.matchAll(/\[([^\]]+)\]/g))
        expect(['10s', '1h'], r.alert ?? r.record).toContain(d);
      for (const [, d] of r.expr.matchAll(/offset ([0-9a-z]+)/g)) expect(d).toBe('10s');
    }
    const absent = rulesOf(shipped.alerts).filter((a) => a.alert?.endsWith('Absent'));
    expect(absent).toHaveLength(2);
    for (const a of absent) expect(a.expr).toContain('[1h]');
  });

  it('keeps every rule and its name', () => {
    const names = (text: string) => rulesOf(text).map((r) => r.alert ?? r.record);
    const original = rulesForTest({ for: '5m', window: '15m', scrapeInterval: '15s' });
    expect(names(shipped.alerts)).toEqual(names(original.alerts));
    expect(names(shipped.rules)).toEqual(names(original.rules));
  });

  it('validates its options', () => {
    expect(() => rulesForTest({ for: '2s', window: '3s' })).toThrow(/at least 4 scrapes/);
    expect(() => rulesForTest({ for: '2s', window: '30s', scrapeInterval: '15s' })).toThrow(TypeError);
    expect(() => rulesForTest({ for: '2s', window: '1h' })).toThrow(/at most 15m/);
    expect(() => rulesForTest({ for: 'soon', window: '10s' })).toThrow(/`for`.*"soon"/);
    expect(() => rulesForTest({ for: '2s', window: '10 s' })).toThrow(TypeError);
    expect(durationMs('d', '1m30s')).toBe(90_000);
  });
});

describe.skipIf(bins.skip)('rulesForTest output with promtool', () => {
  const promtool = bins.paths.promtool!;
  const dir = mkdtempSync(join(tmpdir(), 'linkwatch-override-'));
  temps.push(dir);
  const paths = writeRulesForTest(dir, { for: '2s', window: '10s' });

  it('passes promtool check rules', async () => {
    const { code, output } = await run(promtool, ['check', 'rules', paths.rules, paths.alerts]);
    expect(output).not.toContain('FAILED');
    expect(code, output).toBe(0);
  });

  // The timings the TSDoc of rulesForTest promises an e2e test scraping every 1 s.
  it('fires and resolves within seconds at a 1 s scrape interval', async () => {
    const link = {
      job: 'linkwatch-worker',
      instance: '127.0.0.1:9465',
      linkwatch_link_side: 'worker',
      linkwatch_worker_id: 'w1',
      linkwatch_hub_id: 'h1',
    };
    const selector = (labels: Record<string, string>) =>
      Object.entries(labels)
        .map(([k, v]) => `${k}="${v}"`)
        .join(',');
    const w = selector(link);
    // A worker's process-level series carry its side and id, never a hub id.
    const { linkwatch_hub_id: _, ...process } = link;
    const hub = { ...link, job: 'linkwatch-hub', instance: '127.0.0.1:9464', linkwatch_link_side: 'hub' };
    const h = selector(hub);
    /** ALERTS{alertstate="firing"} at `t`: the alert with `labels`, or nothing. */
    const at = (t: string, alertname: string, labels?: Record<string, string>) => ({
      expr: `ALERTS{alertname="${alertname}",alertstate="firing"}`,
      eval_time: t,
      exp_samples: labels
        ? [
            {
              labels: `ALERTS{${Object.entries({
                alertname,
                alertstate: 'firing',
                severity: 'critical',
                ...labels,
              })
                .map(([k, v]) => `${k}="${v}"`)
                .join(',')}}`,
              value: 1,
            },
          ]
        : [],
    });
    const test = {
      rule_files: [paths.rules, paths.alerts],
      evaluation_interval: '1s',
      group_eval_order: ['linkwatch.rules', 'linkwatch.links', 'linkwatch.processes'],
      tests: [
        {
          name: 'override timings',
          interval: '1s',
          input_series: [
            // Down from 10 s to 20 s.
            { series: `linkwatch_link_up{${w}}`, values: '1x9 0x10 1x40' },
            { series: `linkwatch_heartbeat_age_seconds{${w}}`, values: '1x60' },
            // Acks stop at 30 s with work pending, resume at 50 s.
            { series: `linkwatch_outbox_messages{${w}}`, values: '5x60' },
            { series: `linkwatch_queue_depth{${w}}`, values: '0x60' },
            { series: `linkwatch_messages_acked_total{${w}}`, values: '0+100x30 3000x20 3000+100x10' },
            // Killed at 40 s: the scrape marks it stale at once.
            { series: `linkwatch_process_heartbeat_seconds{${selector(process)}}`, values: '0+1x40 stale' },
            // Hub side: from 30 s every handler call fails, 10 a second; from 50 s they succeed again.
            { series: `linkwatch_queue_completed_total{${h}}`, values: '0+10x30 300x20 300+10x10' },
            {
              series: `linkwatch_queue_failed_total{${h},error_type="LW_ERR_HANDLER_FAILED"}`,
              values: '0x30 10+10x19 200x10',
            },
          ],
          promql_expr_test: [
            at('11s', 'LinkwatchLinkDown'),
            at('13s', 'LinkwatchLinkDown', link),
            at('22s', 'LinkwatchLinkDown'),
            at('39s', 'LinkwatchProgressStalled'),
            at('44s', 'LinkwatchProgressStalled', link),
            at('53s', 'LinkwatchProgressStalled'),
            at('41s', 'LinkwatchWorkerAbsent'),
            at('44s', 'LinkwatchWorkerAbsent', process),
            at('35s', 'LinkwatchHandlerFailing'),
            at('39s', 'LinkwatchHandlerFailing', { ...hub, severity: 'warning' }),
            at('53s', 'LinkwatchHandlerFailing', { ...hub, severity: 'warning' }),
            at('58s', 'LinkwatchHandlerFailing'),
          ],
        },
      ],
    };
    const file = join(dir, 'timings.yml');
    writeFileSync(file, stringify(test));
    const { code, output } = await run(promtool, ['test', 'rules', file]);
    expect(output).not.toContain('FAILED');
    expect(code, output).toBe(0);
  });
});
