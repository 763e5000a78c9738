import * as common from '@grafana/grafana-foundation-sdk/common';
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import * as prometheus from '@grafana/grafana-foundation-sdk/prometheus';
import * as stat from '@grafana/grafana-foundation-sdk/stat';
import * as statetimeline from '@grafana/grafana-foundation-sdk/statetimeline';
import * as timeseries from '@grafana/grafana-foundation-sdk/timeseries';
import { STATE_CODES } from './promql.js';

/**
 * Panel factories with the defaults every linkwatch panel shares: the
 * `$datasource` variable on the panel and on each target, one refId per
 * query, legends shown, and a size on the 24-column grid.
 */

/** Every panel and target queries the data source chosen in the `datasource` variable. */
// biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's variable syntax, not a JS template.
export const DATASOURCE: common.DataSourceRef = { type: 'prometheus', uid: '${datasource}' };

export interface Query {
  expr: string;
  /** Grafana legend template, e.g. `{{linkwatch_worker_id}}`. */
  legend: string;
}

export interface Size {
  w: number;
  h: number;
}

/** A threshold step: the colour from `value` upwards (the first step's value is ignored). */
export type Step = [value: number | null, color: string];

function targets(queries: readonly Query[], instant = false): prometheus.DataqueryBuilder[] {
  return queries.map((q, i) => {
    const t = new prometheus.DataqueryBuilder()
      .datasource(DATASOURCE)
      .refId(String.fromCharCode(65 + i))
      .expr(q.expr)
      .legendFormat(q.legend)
      .editorMode(prometheus.QueryEditorMode.Code);
    return instant ? t.instant() : t.range();
  });
}

function thresholds(steps: readonly Step[]): dashboard.ThresholdsConfigBuilder {
  return new dashboard.ThresholdsConfigBuilder()
    .mode(dashboard.ThresholdsMode.Absolute)
    .steps(steps.map(([value, color], i) => ({ value: i === 0 ? null : value, color })));
}

function legend(): common.VizLegendOptionsBuilder {
  return new common.VizLegendOptionsBuilder()
    .showLegend(true)
    .displayMode(common.LegendDisplayMode.List)
    .placement(common.LegendPlacement.Bottom);
}

export interface TimeseriesOptions extends Size {
  unit: string;
  description: string;
  min?: number;
  bars?: boolean;
  steps?: readonly Step[];
  /** Per-query field overrides (e.g. a second unit on the right axis), keyed by refId. */
  overrides?: Record<string, dashboard.DynamicConfigValue[]>;
}

export function timeseriesPanel(
  title: string,
  queries: readonly Query[],
  o: TimeseriesOptions,
): timeseries.PanelBuilder {
  const p = new timeseries.PanelBuilder()
    .title(title)
    .description(o.description)
    .datasource(DATASOURCE)
    .targets(targets(queries))
    .unit(o.unit)
    .span(o.w)
    .height(o.h)
    .legend(legend())
    .tooltip(
      new common.VizTooltipOptionsBuilder()
        .mode(common.TooltipDisplayMode.Multi)
        .sort(common.SortOrder.Descending),
    )
    .lineWidth(1)
    .fillOpacity(o.bars ? 80 : 10)
    .drawStyle(o.bars ? common.GraphDrawStyle.Bars : common.GraphDrawStyle.Line)
    .showPoints(common.VisibilityMode.Never)
    .spanNulls(false);
  if (o.min !== undefined) p.min(o.min);
  if (o.steps) {
    p.thresholds(thresholds(o.steps)).thresholdsStyle(
      new common.GraphThresholdsStyleConfigBuilder().mode(common.GraphThresholdsStyleMode.Dashed),
    );
  }
  for (const [refId, properties] of Object.entries(o.overrides ?? {})) p.overrideByQuery(refId, properties);
  return p;
}

export interface StatOptions extends Size {
  unit: string;
  description: string;
  steps: readonly Step[];
  decimals?: number;
  /**
   * One value for the whole time range (e.g. `increase(...[$__range])`):
   * an instant query, and no sparkline.
   */
  instant?: boolean;
}

export function statPanel(title: string, query: Query, o: StatOptions): stat.PanelBuilder {
  const p = new stat.PanelBuilder()
    .title(title)
    .description(o.description)
    .datasource(DATASOURCE)
    .targets(targets([query], o.instant))
    .unit(o.unit)
    .span(o.w)
    .height(o.h)
    .thresholds(thresholds(o.steps))
    .colorMode(common.BigValueColorMode.Value)
    .graphMode(o.instant ? common.BigValueGraphMode.None : common.BigValueGraphMode.Area)
    .textMode(common.BigValueTextMode.Value)
    .reduceOptions(new common.ReduceDataOptionsBuilder().calcs(['lastNotNull']).values(false));
  if (o.decimals !== undefined) p.decimals(o.decimals);
  return p;
}

/** Value mappings from the state codes of `stateCode()` to names and colours. */
function stateMappings(): dashboard.ValueMapping[] {
  return [
    {
      type: dashboard.MappingType.ValueToText,
      options: Object.fromEntries(
        STATE_CODES.map(({ state, code, color }, index) => [String(code), { text: state, color, index }]),
      ),
    },
  ];
}

export function stateTimelinePanel(
  title: string,
  queries: readonly Query[],
  o: Size & { description: string },
): statetimeline.PanelBuilder {
  return new statetimeline.PanelBuilder()
    .title(title)
    .description(o.description)
    .datasource(DATASOURCE)
    .targets(targets(queries))
    .span(o.w)
    .height(o.h)
    .mappings(stateMappings())
    .thresholds(thresholds([[null, 'text']]))
    .colorScheme(new dashboard.FieldColorBuilder().mode(dashboard.FieldColorModeId.Thresholds))
    .showValue(common.VisibilityMode.Never)
    .mergeValues(true)
    .rowHeight(0.8)
    .fillOpacity(80)
    .legend(legend());
}

/** Moves the fields of query `refId` to the right axis with their own unit. */
export function rightAxis(unit: string): dashboard.DynamicConfigValue[] {
  return [
    { id: 'unit', value: unit },
    { id: 'custom.axisPlacement', value: common.AxisPlacement.Right },
  ];
}

/** Draws the fields of a query as a dashed line (limits such as a capacity). */
export function dashed(): dashboard.DynamicConfigValue[] {
  return [
    { id: 'custom.lineStyle', value: { fill: 'dash', dash: [10, 10] } },
    { id: 'custom.fillOpacity', value: 0 },
  ];
}
