import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { RUNBOOK_BASE } from '../../../src/watchdog/alerts.js';
import { findBinary } from '../../helpers/binaries.js';
import { load, PROM, ROOT, type Rule, type RuleFile, rulesOf, type TestFile } from './rule-files.js';

/**
 * prometheus/collector-alerts.yml: the Collector's self-monitoring. The same
 * conventions as alerts.yml (rules-structure.test.ts), on the Collector's own
 * metric names; promtool.test.ts runs tests/collector.yml with the others.
 */

const FILE = join(PROM, 'collector-alerts.yml');

const rules = rulesOf(load<RuleFile>(FILE));
const tests = readdirSync(join(PROM, 'tests'))
  .filter((f) => f.endsWith('.yml'))
  .map((f) => ({ file: f, test: load<TestFile>(join(PROM, 'tests', f)) }));
const mine = tests.filter((t) => t.test.rule_files.includes('../collector-alerts.yml'));
const cases = mine.flatMap((t) => t.test.tests.flatMap((x) => x.alert_rule_test ?? []));
const runbooks = readFileSync(join(ROOT, 'docs/runbooks.md'), 'utf8');
const headings = new Set([...runbooks.matchAll(/^## (\S+)$/gm)].map((m) => m[1]!.toLowerCase()));

describe('collector-alerts.yml', () => {
  it('covers export failures, a full sending queue, refused data and a Collector that is down', () => {
    expect(rules.map((r) => r.alert)).toEqual([
      'LinkwatchCollectorExportFailing',
      'LinkwatchCollectorQueueFull',
      'LinkwatchCollectorRefusingData',
      'LinkwatchCollectorDown',
    ]);
  });

  it('names no alert that alerts.yml names, so the PrometheusRule has each once', () => {
    const linkwatch = load<{ groups: { rules: Rule[] }[] }>(join(PROM, 'alerts.yml')).groups.flatMap(
      (g) => g.rules,
    );
    const names = new Set(linkwatch.map((r) => r.alert));
    for (const r of rules) expect(names.has(r.alert), r.alert).toBe(false);
  });

  it('reads the tests that load it alone, never mixed with the linkwatch rules', () => {
    expect(mine.map((t) => t.file)).toEqual(['collector.yml']);
    for (const t of mine) expect(t.test.rule_files).toEqual(['../collector-alerts.yml']);
  });

  describe.each(rules.map((r) => [r.alert!, r] as const))('%s', (name, rule) => {
    it('has a severity, a plain summary, a templated description and a runbook section that exists', () => {
      expect(['critical', 'warning', 'info']).toContain(rule.labels?.severity);
      expect(rule.annotations?.summary).toMatch(/^[A-Z][^{]*\.$/);
      expect(rule.annotations?.description).toContain('{{ $labels.instance }}');
      expect(rule.annotations?.runbook_url).toBe(`${RUNBOOK_BASE}#${name.toLowerCase()}`);
      expect(headings, `docs/runbooks.md needs "## ${name}"`).toContain(name.toLowerCase());
    });

    it('reads only the Collectors scraped as job linkwatch-otelcol', () => {
      const selectors = [...rule.expr.matchAll(/\{([^}]*)\}/g)].map((m) => m[1]!);
      expect(selectors.length).toBeGreaterThan(0);
      for (const s of selectors) expect(s).toContain('job="linkwatch-otelcol"');
    });

    it('has a case where it fires and one where it stays silent', () => {
      const own = cases.filter((c) => c.alertname === name);
      expect(own.some((c) => (c.exp_alerts ?? []).length > 0)).toBe(true);
      expect(own.some((c) => (c.exp_alerts ?? []).length === 0)).toBe(true);
    });
  });

  it('counter selectors accept the names with and without _total (Collector v0.107 added it)', () => {
    const counters = rules.flatMap((r) => [...r.expr.matchAll(/__name__=~"([^"]+)"/g)].map((m) => m[1]!));
    expect(counters).toHaveLength(3);
    for (const re of counters) {
      const full = new RegExp(`^(?:${re})$`);
      const base = re.replace(/\(spans\|metric_points\|log_records\)\(_total\)\?$/, '');
      expect(base).not.toBe(re);
      for (const signal of ['spans', 'metric_points', 'log_records']) {
        expect(full.test(`${base}${signal}`), `${base}${signal}`).toBe(true);
        expect(full.test(`${base}${signal}_total`), `${base}${signal}_total`).toBe(true);
      }
    }
  });

  const promtool = findBinary('promtool');
  it.skipIf(!promtool)('promtool check rules passes (skipped without promtool on PATH)', () => {
    const out = execFileSync(promtool!, ['check', 'rules', FILE], { encoding: 'utf8' });
    expect(out).toContain(`SUCCESS: ${rules.length} rules found`);
  });
});
