import type { DashboardDef } from './dashboard.js';
import { fleet } from './fleet.js';
import { worker } from './worker.js';

/** Every dashboard shipped in grafana/dashboards/, in file order. */
export const DASHBOARDS: readonly DashboardDef[] = [fleet, worker];

/** The committed form of a dashboard: its JSON, two-space indented, with a final newline. */
export function renderDashboard(def: DashboardDef): string {
  return `${JSON.stringify(def.build(), null, 2)}\n`;
}
