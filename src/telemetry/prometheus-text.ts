import type { Attributes } from '@opentelemetry/api';
import { METRICS, type MetricKey } from './catalog.js';
import type { Emit } from './link-metrics.js';
import { jsExporterName, labelName } from './prometheus-names.js';

/** Lines rendered between two yields to the event loop. */
const LINES_PER_CHUNK = 1_000;

/**
 * The CLI's Prometheus exporter runs with `withoutScopeInfo`: every linkwatch
 * series has the one scope `linkwatch` 0.1.0, so `otel_scope_name` and
 * `otel_scope_version` said nothing per series and were 52 of the ~187 bytes
 * of a per-worker line (4 MB of a 10,000-worker scrape). The serializer of
 * the SDK's part of /metrics must be built with the same flag.
 */
export const WITHOUT_SCOPE_INFO = true;

// Label strings per attribute set. The sets are built once per link and reused, so a
// scrape renders each link's labels once in its lifetime, not once per series.
const rendered = new WeakMap<Attributes, string>();
// Label names per attribute key: a handful of keys, each sanitized once.
const names = new Map<string, string>();

function escapeValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

/**
 * Joined from parts, not built with `+=`: a string kept for a link's lifetime
 * is then one flat string. The `+=` version kept a tree of about 35 pieces
 * per link (ropes of the label names, quotes and commas), 5 KB of the hub's
 * heap per link at 3,000 links.
 */
function labels(attrs: Attributes): string {
  let s = rendered.get(attrs);
  if (s === undefined) {
    const parts: string[] = [];
    for (const [k, v] of Object.entries(attrs)) {
      let name = names.get(k);
      if (name === undefined) {
        name = labelName(k);
        names.set(k, name);
      }
      parts.push(`${name}="${escapeValue(String(v))}"`);
    }
    s = parts.join(',');
    rendered.set(attrs, s);
  }
  return s;
}

interface Family {
  attrs: Attributes[];
  values: number[];
}

/**
 * The observed link metrics in the Prometheus text format, the same names
 * and labels as the SDK's exporter writes (its serializer took 1.5–2 s for
 * 10,000 workers' 80,000 series, all on the event loop). Rendered in chunks
 * with a yield between them, so heartbeats keep flowing during a scrape.
 */
export async function* prometheusText(observe: (emit: Emit) => void | Promise<void>): AsyncGenerator<string> {
  const families = new Map<MetricKey, Family>();
  await observe((key, value, attrs) => {
    let f = families.get(key);
    if (!f) {
      f = { attrs: [], values: [] };
      families.set(key, f);
    }
    f.attrs.push(attrs);
    f.values.push(value);
  });
  let chunk = '';
  let lines = 0;
  for (const [key, f] of families) {
    const spec = METRICS[key];
    const name = jsExporterName(spec);
    chunk += `# HELP ${name} ${spec.description.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}\n# TYPE ${name} ${spec.instrument === 'counter' ? 'counter' : 'gauge'}\n`;
    for (let i = 0; i < f.values.length; i++) {
      chunk += `${name}{${labels(f.attrs[i]!)}} ${f.values[i]}\n`;
      if (++lines % LINES_PER_CHUNK === 0) {
        yield chunk;
        chunk = '';
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
    }
  }
  if (chunk) yield chunk;
}
