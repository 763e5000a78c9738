import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ATTR, METRICS, type MetricSpec } from '../../../src/telemetry/catalog.js';
import { jsExporterName, labelName } from '../../../src/telemetry/prometheus-names.js';
import { ALERT_SPECS, RUNBOOK_BASE } from '../../../src/watchdog/alerts.js';
import { load, PROM, ROOT, type RuleFile, rulesOf, TESTS, type TestFile } from './rule-files.js';

const alerts = rulesOf(load<RuleFile>(join(PROM, 'alerts.yml')));
const records = rulesOf(load<RuleFile>(join(PROM, 'rules.yml')));
// The Collector's self-monitoring (collector-alerts.yml) has its own tests: collector-alerts.test.ts.
const testFiles = readdirSync(TESTS)
  .filter((f) => f.endsWith('.yml'))
  .sort()
  .map((f) => ({ file: f, test: load<TestFile>(join(TESTS, f)) }))
  .filter(({ test }) => !test.rule_files.includes('../collector-alerts.yml'));
const runbooks = readFileSync(join(ROOT, 'docs/runbooks.md'), 'utf8');

/** Every name a catalog metric can have in PromQL: the JS exporter name, plus histogram series. */
function catalogNames(): Set<string> {
  const names = new Set<string>();
  for (const spec of Object.values(METRICS) as MetricSpec[]) {
    const name = jsExporterName(spec);
    if (spec.instrument === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(name + s);
    else names.add(name);
  }
  return names;
}

const LABELS = new Set([
  'job',
  'instance',
  'le',
  ...Object.values(ATTR).map(labelName),
  // Added by the label_replace tags in rules.yml, summed away at once.
  'progress',
]);
const KEYWORDS = new Set(['and', 'or', 'unless', 'offset', 'bool', 'inf', 'nan']);

/**
 * The metric names and label names a PromQL expression uses. Strings,
 * comments, ranges and label matchers are cut out first, so a label name or
 * a label value is never taken for a metric.
 */
function references(expr: string): { metrics: string[]; labels: string[] } {
  const labels: string[] = [];
  let rest = expr
    .replace(/#.*$/gm, '')
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""')
    .replace(/\[[^\]]*\]/g, '')
    .replace(/\boffset\s+-?[0-9a-z]+/g, '');
  rest = rest.replace(/\{([^}]*)\}/g, (_, inner: string) => {
    for (const m of inner.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)/g)) labels.push(m[1]!);
    return ' ';
  });
  rest = rest.replace(
    /\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)/g,
    (_, inner: string) => {
      labels.push(
        ...inner
          .split(',')
          .map((l) => l.trim())
          .filter(Boolean),
      );
      return ' ';
    },
  );
  const metrics: string[] = [];
  for (const m of rest.matchAll(/\d+(?:\.\d+)?(?:e[+-]?\d+)?|([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?/g)) {
    const [, ident, call] = m;
    if (!ident || call || KEYWORDS.has(ident)) continue;
    metrics.push(ident);
  }
  return { metrics, labels };
}

/** GitHub's anchor for a Markdown heading. */
function anchor(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^a-z0-9 _-]/g, '')
    .replace(/ /g, '-');
}
const anchors = new Set([...runbooks.matchAll(/^#{1,6} (.+)$/gm)].map((m) => anchor(m[1]!)));

describe('alerts.yml', () => {
  it('has the alerts the task lists, once each', () => {
    const names = alerts.map((a) => a.alert);
    expect(new Set(names).size).toBe(names.length);
    expect(names).toEqual(
      expect.arrayContaining([
        'LinkwatchWorkerAbsent',
        'LinkwatchHubAbsent',
        'LinkwatchWatchdog',
        'LinkwatchReconnectStorm',
        'LinkwatchQueueSaturated',
        'LinkwatchMessagesDropped',
        'LinkwatchHeartbeatRttHigh',
        'LinkwatchHandlerFailing',
      ]),
    );
  });

  it('mirrors every in-process watchdog alert with its severity and summary', () => {
    for (const spec of Object.values(ALERT_SPECS)) {
      const rule = alerts.find((a) => a.alert === spec.name);
      expect(rule, spec.name).toBeDefined();
      expect(rule!.labels?.severity, spec.name).toBe(spec.severity);
      expect(rule!.annotations?.summary, spec.name).toBe(spec.summary);
    }
  });

  describe.each(alerts.map((a) => [a.alert!, a] as const))('%s', (name, rule) => {
    it('has a severity of critical, warning or info', () => {
      expect(['critical', 'warning', 'info']).toContain(rule.labels?.severity);
    });

    it('has a plain summary ending in a period', () => {
      const summary = rule.annotations?.summary ?? '';
      expect(summary).toMatch(/^[A-Z].*\.$/);
      expect(summary).not.toContain('{{');
    });

    it('has a templated description', () => {
      expect(rule.annotations?.description).toContain('{{');
    });

    it('links a runbook section that exists', () => {
      const url = rule.annotations?.runbook_url;
      expect(url).toBe(`${RUNBOOK_BASE}#${name.toLowerCase()}`);
      expect(anchors, `docs/runbooks.md needs a "## ${name}" heading`).toContain(name.toLowerCase());
    });
  });
});

describe('rules.yml', () => {
  it('names recording rules level:metric:operations under linkwatch:', () => {
    expect(records.length).toBeGreaterThan(0);
    for (const r of records) expect(r.record).toMatch(/^linkwatch:[a-z0-9_]+:[a-z0-9_]+$/);
  });
});

describe('expressions', () => {
  const known = catalogNames();
  const recorded = new Set(records.map((r) => r.record!));
  const all = [...records, ...alerts].map((r) => [r.record ?? r.alert!, r.expr] as const);

  it.each(all)('%s uses only catalog metrics, recording rules and known labels', (_name, expr) => {
    const { metrics, labels } = references(expr);
    for (const metric of metrics) {
      if (metric.includes(':')) expect(recorded, `recording rule ${metric}`).toContain(metric);
      else expect(known, `metric ${metric} is not in src/telemetry/catalog.ts`).toContain(metric);
    }
    for (const label of labels) expect(LABELS, `label ${label}`).toContain(label);
  });

  it('reads real metrics, so the check above is not vacuous', () => {
    const used = new Set(all.flatMap(([, expr]) => references(expr).metrics));
    expect(used).toContain('linkwatch_process_heartbeat_seconds');
    expect(used).toContain('linkwatch_heartbeat_rtt_seconds_bucket');
    expect(used).toContain('linkwatch:progress:increase5m');
    expect(references('foo_bar{linkwatch_worker_id="x"}[5m] offset 5m').metrics).toEqual(['foo_bar']);
  });

  it('only uses windows the test override understands: 15m or less, or the 1h lookback', () => {
    for (const [name, expr] of all) {
      for (const [, d] of expr.matchAll(/\[([^\]]+)\]/g)) {
        expect(['1m', '5m', '10m', '15m', '1h'], `${name} window ${d}`).toContain(d);
      }
    }
  });
});

describe('docs/runbooks.md', () => {
  it('names only metrics, labels and recording rules that exist', () => {
    // Prose may name a histogram by its family name, without the series suffix.
    const families = (Object.values(METRICS) as MetricSpec[]).map(jsExporterName);
    const known = new Set([...catalogNames(), ...families, ...LABELS, ...records.map((r) => r.record!)]);
    const used = new Set([...runbooks.matchAll(/\blinkwatch[_:][a-z0-9_:]*[a-z0-9]/g)].map((m) => m[0]));
    expect(used.size).toBeGreaterThan(20);
    for (const name of used) expect(known, name).toContain(name);
  });
});

describe('promtool unit tests', () => {
  const cases = testFiles.flatMap(({ test }) => test.tests.flatMap((t) => t.alert_rule_test ?? []));

  it('load the shipped rule files by relative path', () => {
    for (const { file, test } of testFiles) {
      expect(test.rule_files, file).toContain('../rules.yml');
      for (const f of test.rule_files) expect(['../rules.yml', '../alerts.yml'], file).toContain(f);
    }
  });

  it('only test alerts that exist', () => {
    const names = new Set(alerts.map((a) => a.alert));
    for (const c of cases) expect(names, c.alertname).toContain(c.alertname);
  });

  describe.each(alerts.map((a) => a.alert!))('%s', (name) => {
    const mine = cases.filter((c) => c.alertname === name);

    it('has a case where it fires, with labels and a summary', () => {
      const firing = mine.filter((c) => (c.exp_alerts ?? []).length > 0);
      expect(firing.length, `no firing case for ${name}`).toBeGreaterThan(0);
      for (const c of firing) {
        for (const a of c.exp_alerts!) {
          expect(a.exp_labels?.severity).toBeDefined();
          expect(a.exp_annotations?.summary).toBeDefined();
        }
      }
    });

    // LinkwatchWatchdog is vector(1): silence is the failure its receiver detects.
    it.skipIf(name === 'LinkwatchWatchdog')('has a case where it stays silent', () => {
      expect(
        mine.some((c) => (c.exp_alerts ?? []).length === 0),
        `no silent case for ${name}`,
      ).toBe(true);
    });
  });

  // As src/telemetry/instrumentation.ts exports them, so a rule never leans on a series that
  // no longer exists (a per-link zero copy of a process counter, an unlabelled seed).
  it('feed series shaped as the processes export them', () => {
    const series = testFiles.flatMap(({ test }) =>
      test.tests.flatMap((t) => (t.input_series ?? []).map((s) => s.series)),
    );
    const labelled: Record<string, string> = {
      linkwatch_reconnects_total: 'error_type',
      linkwatch_disconnects_total: 'error_type',
      linkwatch_queue_failed_total: 'error_type',
      linkwatch_queue_dropped_total: 'linkwatch_reason',
      linkwatch_outbox_dropped_total: 'linkwatch_reason',
    };
    for (const s of series) {
      const metric = s.slice(0, s.indexOf('{'));
      // Seeded per label value at connect, never without the label.
      const label = labelled[metric];
      if (label) expect(s, s).toContain(`${label}="`);
      // Process-level counters exist once per process, not per link.
      if (
        /^linkwatch_(eventloop_blocks|telemetry_export_failures|watchdog_delivery_failures)_total$/.test(
          metric,
        )
      ) {
        expect(s.includes('linkwatch_worker_id=') && s.includes('linkwatch_hub_id='), s).toBe(false);
      }
      // A worker's process heartbeat has no hub id: it would change on every failover.
      if (metric === 'linkwatch_process_heartbeat_seconds' && s.includes('linkwatch_link_side="worker"')) {
        expect(s, s).not.toContain('linkwatch_hub_id=');
      }
    }
    expect(series.filter((s) => s.startsWith('linkwatch_queue_failed_total{')).length).toBeGreaterThan(0);
  });

  describe('healthy-fleet.yml', () => {
    const fleet = testFiles.find((f) => f.file === 'healthy-fleet.yml')!.test.tests;
    const fleetCases = fleet.flatMap((t) => t.alert_rule_test ?? []);
    const times = [...new Set(fleetCases.map((c) => c.eval_time))];

    it('checks every alert but LinkwatchWatchdog for silence at every evaluation time it uses', () => {
      expect(times.length).toBeGreaterThanOrEqual(4);
      for (const name of alerts.map((a) => a.alert!)) {
        if (name === 'LinkwatchWatchdog') continue;
        for (const t of times) {
          const c = fleetCases.find((x) => x.alertname === name && x.eval_time === t);
          expect(c, `healthy-fleet.yml does not check ${name} at ${t}`).toBeDefined();
          expect(c!.exp_alerts ?? [], `${name} at ${t}`).toEqual([]);
        }
      }
    });
  });
});
