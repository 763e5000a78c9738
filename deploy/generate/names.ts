/**
 * Names, labels and ports every manifest in deploy/ shares: one place, so a
 * Service, a monitor or a NetworkPolicy cannot select labels or ports that
 * the pods do not have (test/unit/deploy checks it on the generated YAML).
 */

export const NAMESPACE = 'linkwatch';
/** Where Prometheus runs: the only namespace allowed to scrape metrics (NetworkPolicy). */
export const MONITORING_NAMESPACE = 'monitoring';
/** The version of the linkwatch image the base refers to (package.json); overlays set their own. */
export const LINKWATCH_IMAGE = 'ghcr.io/linkwatch/linkwatch';
/** collector-config/ needs otelcol-contrib 0.144 or later (the otlp_grpc exporter name). */
export const COLLECTOR_IMAGE = 'otel/opentelemetry-collector-contrib';
export const COLLECTOR_VERSION = '0.144.0';

/** A fixed non-root uid and gid: deploy/Dockerfile creates this user; fsGroup makes volumes its group's. */
export const UID = 10001;

/** The app.kubernetes.io/name of each component; also its object names. */
export const COMPONENT = {
  hub: 'linkwatch-hub',
  worker: 'linkwatch-worker',
  agent: 'linkwatch-otel-agent',
  gateway: 'linkwatch-otel-gateway',
} as const;
export type Component = keyof typeof COMPONENT;

/** The labels a component's pods carry and its selectors use (selectors are immutable: keep them small). */
export function selectorLabels(c: Component): Record<string, string> {
  return { 'app.kubernetes.io/name': COMPONENT[c], 'app.kubernetes.io/part-of': 'linkwatch' };
}

/** Metadata labels on every object of a component. */
export function labels(c: Component): Record<string, string> {
  return {
    ...selectorLabels(c),
    'app.kubernetes.io/component': c === 'agent' || c === 'gateway' ? `otel-${c}` : c,
  };
}

export const PORT = {
  /** The hub's WebSocket port, which also serves /healthz, /readyz and /links. */
  hubWs: 8080,
  /** The hub's Prometheus exporter (the CLI's default port, on the pod's address). */
  hubMetrics: 9464,
  /** The worker's Prometheus exporter (the CLI's default port). */
  workerMetrics: 9465,
  /** The worker's --health-listen (/healthz, /readyz). */
  workerHealth: 9466,
  otlpGrpc: 4317,
  otlpHttp: 4318,
  /** The Collector's own metrics (service.telemetry.metrics in collector-config/). */
  collectorTelemetry: 8888,
  /** The Collector's health_check extension. */
  collectorHealth: 13133,
} as const;

/** The Secret users create (deploy/README.md): the hub's accepted tokens and the workers' token. */
export const TOKEN_SECRET = 'linkwatch-tokens';
export const TOKEN_KEYS = { hub: 'hub-tokens', worker: 'worker-token' } as const;

/** The Prometheus job of the Collectors' own metrics; prometheus/collector-alerts.yml selects it. */
export const COLLECTOR_JOB = 'linkwatch-otelcol';
