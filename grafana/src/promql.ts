import { ATTR, METRICS, type MetricKey } from '../../src/telemetry/catalog.js';
import { jsExporterName, labelName } from '../../src/telemetry/prometheus-names.js';

/**
 * PromQL building blocks. Metric and label names come from the signal
 * catalog through the same translation the exporters use, so a renamed
 * metric breaks the type check here instead of a panel in production.
 */

/** Prometheus label names of the catalog attributes the dashboards use. */
export const L = {
  worker: labelName(ATTR.workerId),
  hub: labelName(ATTR.hubId),
  side: labelName(ATTR.side),
  state: labelName(ATTR.state),
  reason: labelName(ATTR.reason),
  errorType: labelName(ATTR.errorType),
  alertName: labelName(ATTR.alertName),
  severity: labelName(ATTR.severity),
} as const;

type Series = '' | 'bucket' | 'sum' | 'count';

/** The Prometheus name of a catalog metric (histograms: pick `_bucket`, `_sum` or `_count`). */
export function metric(key: MetricKey, series: Series = ''): string {
  const name = jsExporterName(METRICS[key]);
  return series ? `${name}_${series}` : name;
}

/** Template variables, always matched as regexes so that "All" (`.*`) and multi-select work. */
export const HUB = `${L.hub}=~"$hub"`;
export const WORKER = `${L.worker}=~"$worker"`;
export const RATE = '$__rate_interval';
export const RANGE = '$__range';

/** `name{m1, m2}` for a catalog metric. */
export function sel(key: MetricKey, matchers: readonly string[], series: Series = ''): string {
  return `${metric(key, series)}{${matchers.join(', ')}}`;
}

/** Matchers for link series seen from one side, filtered by the hub and worker variables. */
/**
 * A hub's hub-wide series: no worker id (a hub exports per worker only what
 * only it sees; see the catalog's `hub` field), so no worker matcher.
 */
export function hubWide(): string[] {
  return [`${L.side}="hub"`, HUB];
}

export function link(side: 'worker' | 'hub' | undefined): string[] {
  return side ? [`${L.side}="${side}"`, HUB, WORKER] : [HUB, WORKER];
}

export function by(...labels: string[]): string {
  return `by (${labels.join(', ')})`;
}

/** `sum by (labels) `, or plain `sum` when there are none. */
function sum(labels: string[]): string {
  return labels.length ? `sum ${by(...labels)} ` : 'sum';
}

/** p-quantile of a catalog histogram over `$__rate_interval`, grouped by `labels`. */
export function quantile(q: number, key: MetricKey, matchers: readonly string[], labels: string[]): string {
  return `histogram_quantile(${q}, sum ${by('le', ...labels)} (rate(${sel(key, matchers, 'bucket')}[${RATE}])))`;
}

/** Rate of a catalog counter over `$__rate_interval`, summed by `labels`. */
export function rate(key: MetricKey, matchers: readonly string[], labels: string[]): string {
  return `${sum(labels)}(rate(${sel(key, matchers)}[${RATE}]))`;
}

/**
 * Increase of a catalog counter over `window`, summed by `labels`, that
 * also counts series born inside the window. A counter series with a label
 * such as error.type appears only when it is first incremented, already at
 * 1, and `increase()` alone would never count that first event. A series
 * that did not exist `window` ago started from 0, so its whole value is
 * its increase; older series contribute their `increase()`.
 */
export function increase(
  key: MetricKey,
  matchers: readonly string[],
  labels: string[],
  window = RATE,
): string {
  const x = sel(key, matchers);
  return `${sum(labels)}((increase(${x}[${window}]) and ${x} offset ${window}) or (${x} unless ${x} offset ${window}))`;
}

/**
 * Replaces an empty `label` with `none`. Counters are seeded at 0 without
 * their reason label, so a healthy fleet shows one flat `none` series.
 */
export function noneIfEmpty(expr: string, label: string): string {
  return `label_replace(${expr}, "${label}", "none", "${label}", "")`;
}

/** The link states in the order of their codes in the state timeline (0 means no data). */
export const STATE_CODES = [
  { state: 'healthy', code: 1, color: 'green' },
  { state: 'degraded', code: 2, color: 'yellow' },
  { state: 'stalled', code: 3, color: 'orange' },
  { state: 'down', code: 4, color: 'red' },
  { state: 'connecting', code: 5, color: 'blue' },
] as const;

/**
 * One series per link and side whose value is the code of its current
 * state. `linkwatch_link_state` is 1 for the current state and 0 for the
 * others, so `code * series` summed over the states leaves the current code.
 */
export function stateCode(side: 'worker' | 'hub' | undefined, labels: string[]): string {
  const terms = STATE_CODES.map(
    ({ state, code }) => `${code} * ${sel('linkState', [`${L.state}="${state}"`, ...link(side)])}`,
  );
  return `sum ${by(...labels)} (\n  ${terms.join('\n  or ')}\n)`;
}
