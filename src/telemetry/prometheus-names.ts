import type { MetricSpec } from './catalog.js';

/**
 * The two ways a catalog metric reaches Prometheus, as rule sets. Both
 * must give the same name for every metric (a unit test checks).
 */

function sanitize(name: string): string {
  return name.replace(/[^a-zA-Z0-9_:]/g, '_').replace(/_+/g, '_');
}

/** Path 1: the JS PrometheusExporter (0.301): sanitize, then `_total` on monotonic counters. */
export function jsExporterName(spec: Pick<MetricSpec, 'name' | 'instrument'>): string {
  let name = sanitize(spec.name);
  if (spec.instrument === 'counter' && !name.endsWith('_total')) name += '_total';
  return name;
}

// The Collector's unit map (prometheus translator, unitMap) for the units we use.
const UNIT_WORDS: Record<string, string> = {
  s: 'seconds',
  ms: 'milliseconds',
  By: 'bytes',
  KiBy: 'kibibytes',
  MiBy: 'mebibytes',
  '%': 'percent',
};

/**
 * Path 2: OTLP into the Collector, out through its `prometheus` exporter
 * with `add_metric_suffixes: true` (the default). Tokens are split on
 * non-alphanumerics; the unit word is appended unless a token already is
 * it; `{...}` annotations add nothing; unit `1` on gauges adds `ratio`;
 * monotonic counters get `total` moved to the end.
 */
export function collectorName(spec: Pick<MetricSpec, 'name' | 'instrument' | 'unit'>): string {
  let tokens = spec.name.split(/[^a-zA-Z0-9:]+/).filter(Boolean);
  const [main, per] = spec.unit.replace(/\{[^}]*\}/g, '').split('/');
  const word = main ? (UNIT_WORDS[main] ?? main) : '';
  if (word && word !== '1' && !tokens.includes(word)) tokens.push(word);
  if (per) {
    const perWord = UNIT_WORDS[per] ?? per;
    if (!tokens.includes(perWord)) tokens.push('per', perWord);
  }
  if (spec.instrument === 'counter') tokens = [...tokens.filter((t) => t !== 'total'), 'total'];
  if (spec.unit === '1' && spec.instrument === 'gauge')
    tokens = [...tokens.filter((t) => t !== 'ratio'), 'ratio'];
  return tokens.join('_');
}

/** Label names are the attribute keys with dots turned into underscores on both paths. */
export function labelName(attribute: string): string {
  return sanitize(attribute);
}
