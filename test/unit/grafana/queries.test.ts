import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { DASHBOARDS } from '../../../grafana/src/dashboards.js';
import { panelQueries, substitute } from '../../../grafana/src/queries.js';
import { ATTR, METRICS, type MetricSpec } from '../../../src/telemetry/catalog.js';
import { jsExporterName, labelName } from '../../../src/telemetry/prometheus-names.js';
import { requireBinaries } from '../../helpers/binaries.js';

/**
 * Every panel query refers to catalog metrics and labels only, uses each
 * instrument the way its type allows, and is valid PromQL (promtool).
 */

const queries = panelQueries();

/** Prometheus name → instrument, for every catalog metric and the series a histogram exposes. */
const KNOWN = new Map<string, MetricSpec['instrument'] | 'bucket' | 'histogram-part'>();
for (const spec of Object.values(METRICS) as MetricSpec[]) {
  const name = jsExporterName(spec);
  if (spec.instrument === 'histogram') {
    KNOWN.set(`${name}_bucket`, 'bucket');
    KNOWN.set(`${name}_sum`, 'histogram-part');
    KNOWN.set(`${name}_count`, 'histogram-part');
  } else {
    KNOWN.set(name, spec.instrument);
  }
}

const KNOWN_LABELS = new Set([
  ...Object.values(ATTR).map(labelName),
  'le',
  // Prometheus's ALERTS series
  'alertname',
  'alertstate',
  'severity',
]);

const KEYWORDS = new Set([
  ...[
    'by',
    'without',
    'on',
    'ignoring',
    'group_left',
    'group_right',
    'and',
    'or',
    'unless',
    'offset',
    'bool',
  ],
  // Aggregation operators, which may be followed by `by (...)` before their parenthesis.
  ...['sum', 'min', 'max', 'avg', 'count', 'group', 'stddev', 'stdvar', 'topk', 'bottomk', 'quantile'],
  ...['count_values', 'limitk', 'limit_ratio'],
]);

/** Removes string literals, label matchers, ranges and grouping lists, leaving metric names, functions and operators. */
function skeleton(expr: string): string {
  return expr
    .replace(/\$\{?\w+\}?/g, '5m')
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, '{}')
    .replace(/\[[^\]]*\]/g, '[]')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, '$1 ()');
}

/**
 * Metric names in an expression, each with the function it sits directly
 * inside (or ''). The increase() helper of grafana/src/promql.ts, which also
 * reads the raw counter to count series born in the window, counts as one
 * increase().
 */
function metricsIn(expr: string): { name: string; inside: string }[] {
  const s = skeleton(expr).replace(
    /\(\(increase\((\w+)\{\}\[\]\) and \1\{\} offset \w+\) or \(\1\{\} unless \1\{\} offset \w+\)\)/g,
    '(increase($1{}[]))',
  );
  const out: { name: string; inside: string }[] = [];
  for (const m of s.matchAll(/([A-Za-z_:][A-Za-z0-9_:]*)(\s*\()?/g)) {
    const name = m[1]!;
    if (m[2] || KEYWORDS.has(name) || /^\d/.test(name)) continue;
    const before = s.slice(0, m.index).match(/([A-Za-z_]+)\s*\(\s*$/);
    out.push({ name, inside: before?.[1] ?? '' });
  }
  return out;
}

/** Label names in matchers, grouping lists and label_replace targets. */
function labelsIn(expr: string): string[] {
  const noStrings = expr.replace(/"(?:[^"\\]|\\.)*"/g, '""');
  const labels: string[] = [];
  for (const [, body] of expr.matchAll(/\{([^}]*)\}/g)) {
    for (const [, l] of body!.matchAll(/([A-Za-z_][A-Za-z0-9_]*)\s*(?:=~|!~|!=|=)/g)) labels.push(l!);
  }
  for (const [, list] of noStrings.matchAll(
    /\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)/g,
  )) {
    labels.push(
      ...list!
        .split(',')
        .map((l) => l.trim())
        .filter(Boolean),
    );
  }
  for (const [, dst] of expr.matchAll(/label_replace\([\s\S]*?,\s*"([^"]+)"/g)) labels.push(dst!);
  return labels;
}

describe('panelQueries()', () => {
  it('returns every target of every dashboard, once', () => {
    let targets = 0;
    for (const def of DASHBOARDS) {
      for (const p of def.build().panels ?? [])
        targets += ((p as { targets?: unknown[] }).targets ?? []).length;
    }
    expect(queries).toHaveLength(targets);
    const keys = queries.map((q) => `${q.dashboard}|${q.panel}|${q.refId}`);
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('substitutes every template variable', () => {
    for (const q of queries) expect(q.expr, `${q.panel} ${q.refId}`).not.toContain('$');
    const expr = queries.find((q) => q.panel === 'Heartbeat RTT p99')!.expr;
    expect(expr).toContain('linkwatch_worker_id=~".*"');
    expect(expr).toContain('[1m]');
  });

  it('takes concrete values for one worker and hub', () => {
    const one = panelQueries({ worker: 'w-1', hub: 'hub-a', __range: '10m' });
    expect(one.find((q) => q.panel === 'Heartbeat age')!.expr).toContain('linkwatch_worker_id=~"w-1"');
    expect(one.find((q) => q.panel === 'Drops')!.expr).toContain('[10m]');
    // biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's variable syntax, not a JS template.
    expect(substitute('x{a=~"${worker}"}[$__rate_interval] $unknown', { ...defaults(), worker: 'w' })).toBe(
      'x{a=~"w"}[1m] $unknown',
    );
  });

  it('marks few queries as possibly empty', () => {
    const empty = queries.filter((q) => q.mayBeEmpty);
    expect(empty.length).toBeLessThanOrEqual(2);
  });
});

function defaults() {
  return { worker: '.*', hub: '.*', __rate_interval: '1m', __range: '5m', __interval: '15s' };
}

describe.each(queries.map((q) => [`${q.dashboard} / ${q.panel} / ${q.refId}`, q] as const))('%s', (_, q) => {
  it('refers only to catalog metrics (or ALERTS)', () => {
    const names = metricsIn(q.template).filter((m) => !['vector', 'time'].includes(m.name));
    expect(names.length).toBeGreaterThan(0);
    for (const { name } of names) {
      expect(name === 'ALERTS' || KNOWN.has(name), `${name} is not in src/telemetry/catalog.ts`).toBe(true);
    }
  });

  it('uses counters through rate()/increase(), histograms through their buckets, gauges as they are', () => {
    for (const { name, inside } of metricsIn(q.template)) {
      const kind = KNOWN.get(name);
      if (kind === 'counter' || kind === 'bucket') {
        expect(['rate', 'increase'], `${name} inside ${inside || 'nothing'}`).toContain(inside);
      }
      if (kind === 'gauge') expect(['rate', 'increase', 'irate', 'deriv'], name).not.toContain(inside);
      expect(kind, `${name}: query _bucket, not _sum/_count, so quantiles stay comparable`).not.toBe(
        'histogram-part',
      );
    }
  });

  it('uses only known labels', () => {
    for (const l of labelsIn(q.template)) expect(KNOWN_LABELS, l).toContain(l);
  });

  it('matches $worker and $hub only as regexes', () => {
    for (const m of q.template.matchAll(/(\w+)\s*(=~|!~|!=|=)\s*"[^"]*\$\{?(worker|hub)\b/g)) {
      expect(m[2], `${m[1]} ${m[2]} $${m[3]}`).toBe('=~');
    }
  });
});

describe('PromQL syntax (promtool check rules)', () => {
  const { skip, paths } = requireBinaries('promtool');
  const dir = mkdtempSync(join(tmpdir(), 'linkwatch-grafana-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it.skipIf(skip)('every concrete query parses as a recording rule', () => {
    const rules = queries.map((q, i) => ({ record: `linkwatch:dashboard_query_${i}`, expr: q.expr }));
    const file = join(dir, 'dashboard-queries.yml');
    writeFileSync(file, stringify({ groups: [{ name: 'dashboard-queries', rules }] }));
    let output = '';
    try {
      output = execFileSync(paths.promtool!, ['check', 'rules', file], { encoding: 'utf8', stdio: 'pipe' });
    } catch (err) {
      const e = err as { stdout?: string; stderr?: string };
      const text = `${e.stdout ?? ''}${e.stderr ?? ''}`;
      // Point at the failing panel, not at rule numbers.
      const named = text.replace(/dashboard_query_(\d+)/g, (_, i) => {
        const q = queries[Number(i)]!;
        return `${q.dashboard} / ${q.panel} / ${q.refId}`;
      });
      expect.fail(`promtool rejected dashboard queries:\n${named}`);
    }
    expect(output).toContain(`SUCCESS: ${rules.length} rules found`);
  });
});
