import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import { DATASOURCE } from './panels.js';
import { L, metric } from './promql.js';

/**
 * Template variables. `hub` and `worker` are regex-matched in every query
 * (`=~"$hub"`), so "All" is `.*` and a multi-select becomes `(a|b)`.
 * `linkwatch_link_up` exists on both sides for every link the moment it
 * is known, so the lists fill before any traffic flows.
 */

export function datasourceVariable(): dashboard.DatasourceVariableBuilder {
  return new dashboard.DatasourceVariableBuilder('datasource').label('Data source').type('prometheus');
}

/** A label_values() query variable with "All" meaning any value. */
function labelVariable(
  name: string,
  label: string,
  query: string,
  sort: dashboard.VariableSort,
): dashboard.QueryVariableBuilder {
  return new dashboard.QueryVariableBuilder(name)
    .label(label)
    .datasource(DATASOURCE)
    .query(query)
    .definition(query)
    .refresh(dashboard.VariableRefresh.OnTimeRangeChanged)
    .sort(sort);
}

export function hubVariable(): dashboard.QueryVariableBuilder {
  return labelVariable(
    'hub',
    'Hub',
    `label_values(${metric('linkUp')}, ${L.hub})`,
    dashboard.VariableSort.AlphabeticalAsc,
  )
    .includeAll(true)
    .allValue('.*')
    .current({ selected: true, text: 'All', value: '$__all' });
}

export function workerVariable(options: { multi: boolean }): dashboard.QueryVariableBuilder {
  // Narrowed to the chosen hub; a worker's series carry the hub id once the handshake is done.
  const v = labelVariable(
    'worker',
    'Worker',
    `label_values(${metric('linkUp')}{${L.hub}=~"$hub"}, ${L.worker})`,
    dashboard.VariableSort.NaturalAsc,
  )
    .multi(options.multi)
    .includeAll(true)
    .allValue('.*');
  return options.multi ? v.current({ selected: true, text: ['All'], value: ['$__all'] }) : v;
}
