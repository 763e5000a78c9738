import {
  ATTR,
  hubSeries,
  METRICS,
  type MetricSpec,
  SPANS,
  type SpanSpec,
  seriesPerLabelSet,
  WATCHDOG_METRICS,
  workerSeries,
} from './catalog.js';
import { jsExporterName, labelName } from './prometheus-names.js';

/**
 * The README's signal tables, generated from the catalog. A test fails when
 * the README and this output differ; `npm run docs` rewrites them.
 */

const BASE_LABELS = [ATTR.workerId, ATTR.hubId, ATTR.side].map(labelName);

function promSeries(spec: MetricSpec): string {
  const name = jsExporterName(spec);
  return spec.instrument === 'histogram' ? `${name}_bucket/_sum/_count` : name;
}

/** The cardinality budget, in series: per connected worker and hub-wide on a hub, and per worker process. */
export function budget(): { hubPerWorker: number; hubWide: number; worker: number } {
  const link = (Object.entries(METRICS) as [string, MetricSpec][])
    .filter(([k]) => !WATCHDOG_METRICS.includes(k as never))
    .map(([, m]) => m);
  let hubPerWorker = 0;
  let hubWide = 0;
  let worker = 0;
  for (const m of link) {
    if (m.hub === 'per-worker') hubPerWorker += hubSeries(m, 1);
    else hubWide += hubSeries(m, 1);
    worker += workerSeries(m);
  }
  return { hubPerWorker, hubWide, worker };
}

function hubCell(m: MetricSpec): string {
  const n = seriesPerLabelSet(m) * m.labelValues;
  if (m.hub === 'per-worker') return `${n} per worker`;
  return m.hub === 'hub-wide' ? `${n}` : '-';
}

export function metricsTable(): string {
  const rows = (Object.values(METRICS) as MetricSpec[]).map((m) => {
    const extra = m.attributes.map((a) => `\`${labelName(a)}\``).join(', ');
    return `| \`${m.name}\` | \`${promSeries(m)}\` | ${m.instrument} | \`${m.unit}\` | ${extra || '-'} | ${hubCell(m)} | ${m.worker ? workerSeries(m) : '-'} | ${m.description} |`;
  });
  const b = budget();
  return [
    `Every metric carries ${BASE_LABELS.map((l) => `\`${l}\``).join(', ')} (the hub id once known). On a hub, only the series marked "per worker" carry a worker id; the rest are hub-wide.`,
    '',
    `Cardinality budget (link metrics; watchdog alerts add a series per alert that fires): a hub exports **${b.hubPerWorker} series per connected worker** plus ${b.hubWide} hub-wide, and a worker process ${b.worker}. Histograms have their buckets + 3 series (+Inf, _sum, _count) per label set. Error types and reasons count the values a healthy fleet meets; at most 32 values per label, the rest fold into \`other\`.`,
    '',
    '| OTel name | Prometheus series (both paths) | instrument | unit | extra labels | series on a hub | series on a worker | description |',
    '|---|---|---|---|---|---|---|---|',
    ...rows,
  ].join('\n');
}

/** The README's short form: name, series on a hub and on a worker, description, and the budget. */
export function signalsSummary(): string {
  const metrics = Object.values(METRICS) as MetricSpec[];
  const b = budget();
  return [
    `${metrics.length} metrics and ${Object.keys(SPANS).length} spans; [docs/signals.md](docs/signals.md) lists every label, unit, attribute and span event, [docs/telemetry.md](docs/telemetry.md) the cost and sampling.`,
    '',
    `Cardinality budget: a hub exports **${b.hubPerWorker} series per connected worker** plus ${b.hubWide} hub-wide; a worker process ${b.worker}. No metric overflows the SDK's limit below 20,000 workers.`,
    '',
    '| Prometheus series | series on a hub | series on a worker | description |',
    '|---|---|---|---|',
    ...metrics.map(
      (m) =>
        `| \`${jsExporterName(m)}\` | ${hubCell(m)} | ${m.worker ? workerSeries(m) : '-'} | ${m.description} |`,
    ),
  ].join('\n');
}

export function spansTable(): string {
  const rows = (Object.values(SPANS) as SpanSpec[]).map(
    (s) =>
      `| \`${s.name}\` | ${s.kind} | ${s.attributes.map((a) => `\`${a}\``).join(', ')} | ${
        s.events.length ? s.events.map((e) => `\`${e}\``).join(', ') : '-'
      } | ${s.description} |`,
  );
  return ['| span | kind | attributes | events | description |', '|---|---|---|---|---|', ...rows].join('\n');
}
