import { ATTR, METRICS, type MetricSpec, SPANS, type SpanSpec } from './catalog.js';
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

export function metricsTable(): string {
  const rows = (Object.values(METRICS) as MetricSpec[]).map((m) => {
    const extra = m.attributes.map((a) => `\`${labelName(a)}\``).join(', ');
    return `| \`${m.name}\` | \`${promSeries(m)}\` | ${m.instrument} | \`${m.unit}\` | ${extra || '-'} | ${m.description} |`;
  });
  return [
    `Every metric carries ${BASE_LABELS.map((l) => `\`${l}\``).join(', ')} (the hub id once known; process-level series of a hub have no worker id).`,
    '',
    '| OTel name | Prometheus series (both paths) | instrument | unit | extra labels | description |',
    '|---|---|---|---|---|---|',
    ...rows,
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
