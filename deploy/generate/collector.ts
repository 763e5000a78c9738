import { DaemonSet } from 'kubernetes-models/apps/v1/DaemonSet';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IEnvVar } from 'kubernetes-models/v1/EnvVar';
import { Service } from 'kubernetes-models/v1/Service';
import {
  COLLECTOR_IMAGE,
  COLLECTOR_VERSION,
  COMPONENT,
  labels,
  NAMESPACE,
  PORT,
  selectorLabels,
} from './names.js';
import { AGENT_RESOURCES, GATEWAY_RESOURCES } from './resources.js';
import { CONTAINER_SECURITY, POD_SECURITY } from './security.js';
import type { Sources } from './sources.js';

/** Where the traces go until an overlay says otherwise (deploy/overlays/production patches it). */
export const DEFAULT_TRACES_ENDPOINT = 'tempo-distributor.monitoring:4317';
const CONFIG_DIR = '/etc/otelcol';

type Role = 'agent' | 'gateway';

/** collector-config/<role>.yaml, byte for byte: the ConfigMap is its only copy in the cluster. */
export function collectorConfigMap(role: Role, sources: Sources): ConfigMap {
  return new ConfigMap({
    metadata: { name: `${COMPONENT[role]}-config`, namespace: NAMESPACE, labels: labels(role) },
    data: { [`${role}.yaml`]: sources.collector[role] },
  });
}

function container(role: Role, env: IEnvVar[]): IContainer {
  return {
    name: 'otelcol',
    image: `${COLLECTOR_IMAGE}:${COLLECTOR_VERSION}`,
    args: [`--config=${CONFIG_DIR}/${role}.yaml`],
    env: [
      // Every listener binds the pod's interfaces: the NetworkPolicy decides who reaches them.
      { name: 'LINKWATCH_OTLP_LISTEN_HOST', value: '0.0.0.0' },
      { name: 'LINKWATCH_ADMIN_LISTEN_HOST', value: '0.0.0.0' },
      ...env,
    ],
    ports: [
      { name: 'otlp-grpc', containerPort: PORT.otlpGrpc, protocol: 'TCP' },
      { name: 'otlp-http', containerPort: PORT.otlpHttp, protocol: 'TCP' },
      { name: 'telemetry', containerPort: PORT.collectorTelemetry, protocol: 'TCP' },
      { name: 'health', containerPort: PORT.collectorHealth, protocol: 'TCP' },
    ],
    // health_check answers 200 once the pipelines run. Readiness keeps a starting Collector out of
    // its Service; liveness restarts one that stopped answering for a minute. Neither sees an
    // exporter that fails or a queue that fills: LinkwatchCollectorExportFailing,
    // LinkwatchCollectorQueueFull and LinkwatchCollectorRefusingData do, from its own metrics.
    readinessProbe: { httpGet: { path: '/', port: 'health' }, periodSeconds: 5, failureThreshold: 2 },
    livenessProbe: {
      httpGet: { path: '/', port: 'health' },
      periodSeconds: 10,
      timeoutSeconds: 5,
      failureThreshold: 6,
    },
    resources: role === 'agent' ? AGENT_RESOURCES : GATEWAY_RESOURCES,
    securityContext: CONTAINER_SECURITY,
    volumeMounts: [{ name: 'config', mountPath: CONFIG_DIR, readOnly: true }],
  };
}

function podSpec(role: Role, env: IEnvVar[]) {
  return {
    securityContext: POD_SECURITY,
    automountServiceAccountToken: false,
    // No SERVICE_HOST/PORT variables per Service: they could shadow a LINKWATCH_* setting.
    enableServiceLinks: false,
    containers: [container(role, env)],
    volumes: [{ name: 'config', configMap: { name: `${COMPONENT[role]}-config` } }],
  };
}

function otlpService(role: Role, local: boolean): Service {
  return new Service({
    metadata: { name: COMPONENT[role], namespace: NAMESPACE, labels: labels(role) },
    spec: {
      selector: selectorLabels(role),
      // The agent's Service answers from the pod on the caller's node only.
      ...(local ? { internalTrafficPolicy: 'Local' } : {}),
      ports: [
        { name: 'otlp-grpc', port: PORT.otlpGrpc, targetPort: 'otlp-grpc', protocol: 'TCP' },
        { name: 'otlp-http', port: PORT.otlpHttp, targetPort: 'otlp-http', protocol: 'TCP' },
      ],
    },
  });
}

/** One agent per node: the hub and the workers send their traces to the one on their node. */
export function agent(): [DaemonSet, Service] {
  const env: IEnvVar[] = [
    { name: 'LINKWATCH_GATEWAY_ENDPOINT', value: `${COMPONENT.gateway}:${PORT.otlpGrpc}` },
    // Plaintext inside the namespace, where the NetworkPolicy admits only agents to the gateway;
    // deploy/README.md shows how to turn TLS on.
    { name: 'LINKWATCH_GATEWAY_INSECURE', value: 'true' },
  ];
  const daemonSet = new DaemonSet({
    metadata: { name: COMPONENT.agent, namespace: NAMESPACE, labels: labels('agent') },
    spec: {
      selector: { matchLabels: selectorLabels('agent') },
      template: { metadata: { labels: labels('agent') }, spec: podSpec('agent', env) },
    },
  });
  return [daemonSet, otlpService('agent', true)];
}

/**
 * One gateway: tail sampling needs every span of a trace in one place. More
 * replicas need the loadbalancing exporter in front (collector-config/README.md).
 */
export function gateway(): [Deployment, Service] {
  const env: IEnvVar[] = [
    { name: 'LINKWATCH_TRACES_ENDPOINT', value: DEFAULT_TRACES_ENDPOINT },
    { name: 'LINKWATCH_TRACES_INSECURE', value: 'false' },
  ];
  const deployment = new Deployment({
    metadata: { name: COMPONENT.gateway, namespace: NAMESPACE, labels: labels('gateway') },
    spec: {
      replicas: 1,
      selector: { matchLabels: selectorLabels('gateway') },
      template: { metadata: { labels: labels('gateway') }, spec: podSpec('gateway', env) },
    },
  });
  return [deployment, otlpService('gateway', false)];
}
