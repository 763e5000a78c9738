import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The files deploy/ is generated from, read once: the kit's single source of truth. */
export interface Sources {
  collector: { agent: string; gateway: string };
  /** prometheus/*.yml, in the order the PrometheusRule lists their groups. */
  rules: { file: string; text: string }[];
  /** grafana/dashboards/*.json. */
  dashboards: { file: string; text: string }[];
  /** package.json's version: the linkwatch image tag the base refers to. */
  version: string;
}

export const RULE_FILES = ['rules.yml', 'alerts.yml', 'collector-alerts.yml'];
export const DASHBOARD_FILES = ['linkwatch-fleet.json', 'linkwatch-worker.json'];

export function readSources(root: string): Sources {
  const read = (...p: string[]) => readFileSync(join(root, ...p), 'utf8');
  return {
    collector: {
      agent: read('collector-config', 'agent.yaml'),
      gateway: read('collector-config', 'gateway.yaml'),
    },
    rules: RULE_FILES.map((file) => ({ file, text: read('prometheus', file) })),
    dashboards: DASHBOARD_FILES.map((file) => ({ file, text: read('grafana', 'dashboards', file) })),
    version: (JSON.parse(read('package.json')) as { version: string }).version,
  };
}
