import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';

/**
 * The shipped Prometheus rules with their timing shrunk for tests that run
 * a real Prometheus: every `for:`, and every range window and `offset` of
 * 15m or less, become the given values. The 1h "seen" lookback of the dead-man's
 * switches stays, so LinkwatchWorkerAbsent / LinkwatchHubAbsent keep
 * firing while a process is dead and never fire for one never seen.
 * Thresholds stay as shipped; so does the 180 s freshness limit of the
 * process heartbeat (with a direct scrape a dead process is caught by its
 * series going stale, which needs no time at all).
 *
 * Recording rules keep their names (`...:rate5m` then holds a rate over
 * `window`), so the alerts that read them need no change.
 */
export const PROMETHEUS_DIR = join(import.meta.dirname, '../../prometheus');

/** Windows longer than this are lookbacks, not rates: left alone. */
export const MAX_SHORT_WINDOW = '15m';

export interface RulesOverrideOptions {
  /** Replaces every `for:` (alerts without one keep none), e.g. `'2s'`. */
  for: string;
  /** Replaces every range window of 15m or less, e.g. `'10s'`. */
  window: string;
  /**
   * The scrape interval Prometheus runs with. `window` must span at least
   * four scrapes, so rate() and increase() always see two samples or more.
   * @default '1s'
   */
  scrapeInterval?: string;
}

export interface RuleFilesText {
  /** YAML text of `prometheus/alerts.yml`, rewritten. */
  alerts: string;
  /** YAML text of `prometheus/rules.yml`, rewritten. */
  rules: string;
}

interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  [key: string]: unknown;
}
interface RuleFile {
  groups: { name: string; rules: Rule[] }[];
}

const UNIT_MS: Record<string, number> = {
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
  y: 31_536_000_000,
};
const DURATION = /^(?:\d+(?:ms|[smhdwy]))+$/;

/** A Prometheus duration (`90s`, `1h30m`) in ms; throws a TypeError on anything else. */
export function durationMs(name: string, value: string): number {
  if (typeof value !== 'string' || !DURATION.test(value)) {
    throw new TypeError(
      `Expected \`${name}\` to be a Prometheus duration like 10s or 1m30s, got ${JSON.stringify(value)}`,
    );
  }
  let ms = 0;
  for (const [, n, unit] of value.matchAll(/(\d+)(ms|[smhdwy])/g)) ms += Number(n) * UNIT_MS[unit!]!;
  return ms;
}

// `[5m]` in a range selector; `[5m:1m]` (a subquery) is refused rather than half-rewritten.
const RANGE = /\[([^\]]*)\]/g;
// `offset 5m`: "this link existed a window ago" guards move with the window.
const OFFSET = /\boffset\s+(-?)(\S+?)(?=[\s)]|$)/g;

/** Rewrites the short windows (ranges and offsets of 15m or less) of one PromQL expression. */
export function overrideWindows(expr: string, window: string): string {
  const max = durationMs('MAX_SHORT_WINDOW', MAX_SHORT_WINDOW);
  return expr
    .replace(RANGE, (whole, inner: string) => {
      if (inner.includes(':')) throw new Error(`subquery ${whole} in ${JSON.stringify(expr)} is not handled`);
      return durationMs('range', inner) <= max ? `[${window}]` : whole;
    })
    .replace(OFFSET, (whole, sign: string, d: string) =>
      durationMs('offset', d) <= max ? `offset ${sign}${window}` : whole,
    );
}

function rewrite(text: string, options: Required<RulesOverrideOptions>): string {
  const file = parse(text) as RuleFile;
  for (const group of file.groups) {
    for (const rule of group.rules) {
      rule.expr = overrideWindows(rule.expr, options.window);
      if (rule.for !== undefined) rule.for = options.for;
    }
  }
  return stringify(file, { lineWidth: 0 });
}

function validate(options: RulesOverrideOptions): Required<RulesOverrideOptions> {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError(`Expected \`options\` to be an object, got ${JSON.stringify(options)}`);
  }
  const scrapeInterval = options.scrapeInterval ?? '1s';
  durationMs('for', options.for);
  const windowMs = durationMs('window', options.window);
  const scrapeMs = durationMs('scrapeInterval', scrapeInterval);
  if (windowMs < 4 * scrapeMs) {
    throw new TypeError(
      `Expected \`window\` to span at least 4 scrapes (>= ${(4 * scrapeMs) / 1000}s at scrapeInterval ${scrapeInterval}), got ${options.window}`,
    );
  }
  if (windowMs > durationMs('MAX_SHORT_WINDOW', MAX_SHORT_WINDOW)) {
    throw new TypeError(`Expected \`window\` to be at most ${MAX_SHORT_WINDOW}, got ${options.window}`);
  }
  return { for: options.for, window: options.window, scrapeInterval };
}

/**
 * The shipped `alerts.yml` and `rules.yml` with test timing, as YAML text.
 *
 * An e2e test scraping every 1 s (evaluation_interval 1 s) uses
 * `rulesForTest({ for: '2s', window: '10s' })`. Then a gauge alert
 * (LinkwatchLinkDown, LinkwatchHandlerHung, LinkwatchQueueSaturated) fires
 * about `for` + 2 scrapes after the condition starts, a dead-man's switch
 * about `for` + 1 scrape after the process dies, LinkwatchProgressStalled
 * about `window` + `for` + 2 s after progress stops, LinkwatchHandlerFailing
 * about `window` / 2 + `for` + 1 s after most handler calls start failing
 * (it needs 3 failures in the window, so a single failure never fires it);
 * counter alerts resolve about `window` after the last event (a failure
 * ratio once successes outnumber failures again) and gauge alerts within 2
 * scrapes of recovery. Alertmanager adds its own group_wait/group_interval
 * on top.
 *
 * @throws TypeError when a duration is malformed, `window` spans fewer than
 *   four scrapes or is longer than 15m.
 */
export function rulesForTest(options: RulesOverrideOptions): RuleFilesText {
  const o = validate(options);
  return {
    alerts: rewrite(readFileSync(join(PROMETHEUS_DIR, 'alerts.yml'), 'utf8'), o),
    rules: rewrite(readFileSync(join(PROMETHEUS_DIR, 'rules.yml'), 'utf8'), o),
  };
}

/**
 * Writes `alerts.yml` and `rules.yml` from {@link rulesForTest} into `dir`
 * (created if needed) and returns their paths, for `rule_files:` in the
 * test's prometheus.yml.
 */
export function writeRulesForTest(
  dir: string,
  options: RulesOverrideOptions,
): { alerts: string; rules: string } {
  const text = rulesForTest(options);
  mkdirSync(dir, { recursive: true });
  const paths = { alerts: join(dir, 'alerts.yml'), rules: join(dir, 'rules.yml') };
  writeFileSync(paths.alerts, text.alerts);
  writeFileSync(paths.rules, text.rules);
  return paths;
}
