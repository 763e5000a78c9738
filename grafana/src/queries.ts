import type * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import { DASHBOARDS } from './dashboards.js';

/** One panel query, ready to run against a live Prometheus. */
export interface PanelQuery {
  /** Dashboard title, e.g. "Linkwatch fleet". */
  dashboard: string;
  /** Panel title, e.g. "Heartbeat age". */
  panel: string;
  refId: string;
  /** The query with every template variable replaced by a concrete value. */
  expr: string;
  /** The query as the dashboard holds it, with `$worker`, `$__rate_interval`, ... */
  template: string;
  /** True where an empty result is legitimate on a healthy fleet (data only during failures). */
  mayBeEmpty: boolean;
}

/** Values for the template variables; `worker` and `hub` are regexes (the queries use `=~`). */
export interface QueryVariables {
  worker: string;
  hub: string;
  __rate_interval: string;
  __range: string;
  __interval: string;
}

export const DEFAULT_VARIABLES: QueryVariables = {
  worker: '.*',
  hub: '.*',
  __rate_interval: '1m',
  __range: '5m',
  __interval: '15s',
};

/** Replaces `$name` and `${name}` for every known variable; unknown ones are left for the caller to notice. */
export function substitute(template: string, vars: QueryVariables): string {
  return template.replace(
    /\$\{(\w+)\}|\$(\w+)/g,
    (whole, braced: string | undefined, bare: string | undefined) => {
      const name = (braced ?? bare) as keyof QueryVariables;
      return Object.hasOwn(vars, name) ? vars[name] : whole;
    },
  );
}

interface Target {
  refId?: string;
  expr?: string;
}

/**
 * Every query of every panel of every dashboard, with template variables
 * substituted, for running against a real Prometheus:
 *
 * ```ts
 * for (const q of panelQueries()) {
 *   const res = await fetch(`${prom}/api/v1/query?query=${encodeURIComponent(q.expr)}`);
 *   // every q with !q.mayBeEmpty must return at least one sample on a healthy fleet
 * }
 * ```
 *
 * Pass `{ worker: 'w-1' }` to narrow to one worker (values are regexes).
 */
export function panelQueries(vars: Partial<QueryVariables> = {}): PanelQuery[] {
  const values = { ...DEFAULT_VARIABLES, ...vars };
  const out: PanelQuery[] = [];
  for (const def of DASHBOARDS) {
    const d = def.build();
    for (const panel of (d.panels ?? []) as dashboard.Panel[]) {
      for (const t of (panel.targets ?? []) as Target[]) {
        if (!t.expr || !t.refId) continue;
        out.push({
          dashboard: d.title ?? def.uid,
          panel: panel.title ?? '',
          refId: t.refId,
          expr: substitute(t.expr, values),
          template: t.expr,
          mayBeEmpty: def.mayBeEmpty.some((m) => m.panel === panel.title && m.refId === t.refId),
        });
      }
    }
  }
  return out;
}
