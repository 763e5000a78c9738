import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';

/** A dashboard as the build and the tests see it. */
export interface DashboardDef {
  uid: string;
  /** File name under grafana/dashboards/. */
  file: string;
  build(): dashboard.Dashboard;
  /**
   * Queries that may legitimately return nothing on a healthy fleet (they
   * only have data during failures), as `panel title` + refId. Keep it short:
   * every other query must return data, and the e2e test checks that.
   */
  mayBeEmpty: readonly { panel: string; refId: string }[];
}

/** The settings every linkwatch dashboard shares. */
export function linkwatchDashboard(
  title: string,
  uid: string,
  description: string,
): dashboard.DashboardBuilder {
  return new dashboard.DashboardBuilder(title)
    .uid(uid)
    .description(description)
    .tags(['linkwatch'])
    .editable()
    .timezone('browser')
    .time({ from: 'now-1h', to: 'now' })
    .refresh('30s')
    .tooltip(dashboard.DashboardCursorSync.Crosshair)
    .annotation(
      // Grafana's own annotations and alerts, as Grafana adds to every new dashboard.
      new dashboard.AnnotationQueryBuilder()
        .name('Annotations & Alerts')
        .datasource({ type: 'grafana', uid: '-- Grafana --' })
        .builtIn(1)
        .enable(true)
        .hide(true)
        .iconColor('rgba(0, 211, 255, 1)')
        .type('dashboard'),
    )
    .link(
      new dashboard.DashboardLinkBuilder('Linkwatch dashboards')
        .type(dashboard.DashboardLinkType.Dashboards)
        .tags(['linkwatch'])
        .asDropdown(true)
        .includeVars(true)
        .keepTime(true)
        .icon('external link')
        .tooltip('')
        .targetBlank(false),
    );
}

/** Builds and numbers the panels 1..n in layout order (the SDK leaves ids unset). */
export function buildWithIds(builder: dashboard.DashboardBuilder): dashboard.Dashboard {
  const d = builder.build();
  for (const [i, panel] of (d.panels ?? []).entries()) panel.id = i + 1;
  return d;
}
