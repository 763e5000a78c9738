import { PodMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PodMonitor';
import { PrometheusRule } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule';
import type { IRuleGroup } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/RuleGroup';
import { ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { parse } from 'yaml';
import { COLLECTOR_JOB, COMPONENT, NAMESPACE, selectorLabels } from './names.js';
import type { Sources } from './sources.js';

const PART_OF = { 'app.kubernetes.io/part-of': 'linkwatch' };
/** As prometheus/prometheus.yml scrapes (the rules' windows assume at least four samples in 1m). */
const INTERVAL = '15s';

/**
 * prometheus/rules.yml, alerts.yml and collector-alerts.yml as one
 * PrometheusRule: their groups, parsed and listed unchanged, so the cluster
 * evaluates exactly what promtool tested. LinkwatchWatchdog is in it: it
 * fires always, and its silence at the dead-man's-switch receiver is how a
 * broken Prometheus, rule or Alertmanager shows (deploy/README.md routes it).
 */
export function prometheusRule(sources: Sources): PrometheusRule {
  const groups = sources.rules.flatMap((r) => (parse(r.text) as { groups: IRuleGroup[] }).groups);
  return new PrometheusRule({
    metadata: { name: 'linkwatch', namespace: NAMESPACE, labels: PART_OF },
    spec: { groups },
  });
}

/** The hub through its Service (port `metrics`), job "linkwatch-hub" (the Service's name). */
export function hubMonitor(): ServiceMonitor {
  return new ServiceMonitor({
    metadata: { name: COMPONENT.hub, namespace: NAMESPACE, labels: PART_OF },
    spec: {
      selector: { matchLabels: selectorLabels('hub') },
      endpoints: [{ port: 'metrics', path: '/metrics', interval: INTERVAL }],
    },
  });
}

/** Every worker pod (they have no Service), as job "linkwatch-worker". */
export function workerMonitor(): PodMonitor {
  return new PodMonitor({
    metadata: { name: COMPONENT.worker, namespace: NAMESPACE, labels: PART_OF },
    spec: {
      selector: { matchLabels: selectorLabels('worker') },
      podMetricsEndpoints: [
        {
          port: 'metrics',
          path: '/metrics',
          interval: INTERVAL,
          relabelings: [{ targetLabel: 'job', replacement: COMPONENT.worker }],
        },
      ],
    },
  });
}

/**
 * The Collectors' own metrics (agents and gateway, port `telemetry`), as job
 * "linkwatch-otelcol", which prometheus/collector-alerts.yml selects.
 */
export function collectorMonitor(): PodMonitor {
  return new PodMonitor({
    metadata: { name: 'linkwatch-otelcol', namespace: NAMESPACE, labels: PART_OF },
    spec: {
      selector: {
        matchLabels: PART_OF,
        matchExpressions: [
          { key: 'app.kubernetes.io/name', operator: 'In', values: [COMPONENT.agent, COMPONENT.gateway] },
        ],
      },
      podMetricsEndpoints: [
        {
          port: 'telemetry',
          path: '/metrics',
          interval: INTERVAL,
          relabelings: [{ targetLabel: 'job', replacement: COLLECTOR_JOB }],
        },
      ],
    },
  });
}

/**
 * grafana/dashboards/*.json, one ConfigMap each, with the label the Grafana
 * sidecar (kube-prometheus-stack, the Grafana Helm chart) loads dashboards
 * from, and the folder annotation its `folderAnnotation` setting reads.
 */
export function dashboardConfigMaps(sources: Sources): ConfigMap[] {
  return sources.dashboards.map(
    ({ file, text }) =>
      new ConfigMap({
        metadata: {
          name: `${file.replace(/\.json$/, '')}-dashboard`,
          namespace: NAMESPACE,
          labels: { ...PART_OF, grafana_dashboard: '1' },
          annotations: { grafana_folder: 'linkwatch' },
        },
        data: { [file]: text },
      }),
  );
}
