import { DaemonSet } from 'kubernetes-models/apps/v1/DaemonSet';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import type { IEnvVar } from 'kubernetes-models/v1/EnvVar';
import { Service } from 'kubernetes-models/v1/Service';
import { COMPONENT, LINKWATCH_IMAGE, labels, NAMESPACE, PORT, selectorLabels, TOKEN_KEYS } from './names.js';
import { HUB_RESOURCES, WORKER_RESOURCES } from './resources.js';
import { CONTAINER_SECURITY, POD_SECURITY, TOKEN_MOUNT, tokenVolumes } from './security.js';

/** The hub id in every series and alert: stable across restarts and reschedules (the default is the pod name). */
export const HUB_ID = 'linkwatch-hub';
const JOURNAL_DIR = '/var/lib/linkwatch';

/**
 * What each probe catches and what it leaves to the watchdog and the rules. The
 * generator writes these as comments above the probes, where a reader of the YAML sees them.
 */
/**
 * Readiness on /readyz and liveness on /healthz of the named container port,
 * the same for hub and worker (PROBE_NOTES says what each catches). Liveness
 * allows a minute of silence: a restart at 10,000 workers is a reconnect storm.
 */
function probes(port: string) {
  return {
    readinessProbe: {
      httpGet: { path: '/readyz', port },
      periodSeconds: 5,
      timeoutSeconds: 2,
      failureThreshold: 2,
    },
    livenessProbe: {
      httpGet: { path: '/healthz', port },
      periodSeconds: 10,
      timeoutSeconds: 5,
      failureThreshold: 6,
    },
  };
}

export const PROBE_NOTES: Record<string, { readinessProbe: string; livenessProbe: string }> = {
  hub: {
    readinessProbe:
      'Readiness, GET /readyz: 200 once the hub listens, 503 from the moment it starts closing, so the ' +
      'Service stops sending new workers to a hub that is shutting down. It says nothing about the ' +
      'links: a hub with every link stalled is still ready (the watchdog evicts stalled links; ' +
      'LinkwatchProgressStalled and LinkwatchLinkDown page), and taking it out of the Service would ' +
      'only disconnect everyone.',
    livenessProbe:
      'Liveness, GET /healthz: 200 while the event loop answers. It catches a hub frozen for a minute ' +
      '(a blocked loop, a deadlock in a handler that never yields): six failed checks 10 s apart, each ' +
      'given 5 s. Not sooner: at 10,000 workers a scrape blocks the loop for up to 50 ms and a restart ' +
      'costs a reconnect storm (7.6 s at 10,000, README "Capacity"). Shorter blocks are ' +
      "LinkwatchEventLoopBlocked's to report; a hung handler on one link is the watchdog's " +
      '(LinkwatchHandlerHung).',
  },
  worker: {
    readinessProbe:
      "Readiness, GET /readyz: 200 while the worker's link to the hub is connected. A worker that " +
      'cannot reach the hub is not ready, so a rollout of a broken version or config stops at the first ' +
      'node. Not ready never restarts anything: the worker keeps reconnecting with backoff. A link that ' +
      "is connected but stalled (no progress, heartbeats late) is the watchdog's (it reconnects) and " +
      "the rules'.",
    livenessProbe:
      'Liveness, GET /healthz: 200 while the event loop answers; a worker frozen for a minute is ' +
      'restarted. It is deliberately blind to the hub: restarting workers because the hub is down would ' +
      'only add a storm when it returns. A worker that gave up (its id taken, ' +
      'LinkwatchWorkerIdConflict) exits by itself.',
  },
};

export function image(version: string): string {
  return `${LINKWATCH_IMAGE}:${version}`;
}

/**
 * Traces go to the Collector agent on the same node (its Service routes to
 * the local pod); metrics do not. Prometheus scrapes each process directly
 * (ServiceMonitor, PodMonitor), so a Collector outage never blinds the alerts,
 * and each series arrives by one path only: by two, every `sum by (job, ...)`
 * in the rules would count it twice.
 */
const OTEL_ENV: IEnvVar[] = [
  { name: 'OTEL_TRACES_EXPORTER', value: 'otlp' },
  { name: 'OTEL_METRICS_EXPORTER', value: 'none' },
  { name: 'OTEL_EXPORTER_OTLP_ENDPOINT', value: `http://${COMPONENT.agent}:${PORT.otlpHttp}` },
  { name: 'OTEL_EXPORTER_OTLP_PROTOCOL', value: 'http/protobuf' },
];

/**
 * The hub: one replica (a worker's link lives on one hub; more hubs are more
 * Deployments, listed in each worker's --hub for failover), replaced with
 * Recreate so two hubs never append to one journal.
 */
export function hub(version: string): [Deployment, Service] {
  const tokens = tokenVolumes(TOKEN_KEYS.hub, image(version));
  const deployment = new Deployment({
    metadata: { name: COMPONENT.hub, namespace: NAMESPACE, labels: labels('hub') },
    spec: {
      replicas: 1,
      strategy: { type: 'Recreate' },
      selector: { matchLabels: selectorLabels('hub') },
      template: {
        metadata: { labels: labels('hub') },
        spec: {
          securityContext: POD_SECURITY,
          automountServiceAccountToken: false,
          // No SERVICE_HOST/PORT variables per Service: they could shadow a LINKWATCH_* setting.
          enableServiceLinks: false,
          // --shutdown-timeout (20s) to drain the workers' acks, plus telemetry's last flush.
          terminationGracePeriodSeconds: 30,
          initContainers: [tokens.init],
          containers: [
            {
              name: 'hub',
              image: image(version),
              args: [
                'hub',
                '--listen',
                `0.0.0.0:${PORT.hubWs}`,
                '--tokens',
                tokens.file,
                '--hub-id',
                HUB_ID,
                '--metrics-listen',
                `0.0.0.0:${PORT.hubMetrics}`,
                '--journal',
                `${JOURNAL_DIR}/journal.jsonl`,
                '--shutdown-timeout',
                '20s',
              ],
              env: OTEL_ENV,
              ports: [
                { name: 'ws', containerPort: PORT.hubWs, protocol: 'TCP' },
                { name: 'metrics', containerPort: PORT.hubMetrics, protocol: 'TCP' },
              ],
              ...probes('ws'),
              resources: HUB_RESOURCES,
              securityContext: CONTAINER_SECURITY,
              volumeMounts: [
                TOKEN_MOUNT,
                // The journal survives container restarts (a liveness kill), not a reschedule:
                // deploy/README.md shows the PersistentVolumeClaim patch that keeps it for good.
                { name: 'journal', mountPath: JOURNAL_DIR },
                { name: 'tmp', mountPath: '/tmp' },
              ],
            },
          ],
          volumes: [
            ...tokens.volumes,
            { name: 'journal', emptyDir: { sizeLimit: '1Gi' } },
            { name: 'tmp', emptyDir: { medium: 'Memory', sizeLimit: '16Mi' } },
          ],
        },
      },
    },
  });
  const service = new Service({
    metadata: { name: COMPONENT.hub, namespace: NAMESPACE, labels: labels('hub') },
    spec: {
      selector: selectorLabels('hub'),
      ports: [
        { name: 'ws', port: PORT.hubWs, targetPort: 'ws', protocol: 'TCP' },
        { name: 'metrics', port: PORT.hubMetrics, targetPort: 'metrics', protocol: 'TCP' },
      ],
    },
  });
  return [deployment, service];
}

/**
 * The workers: one per node, as Kubeshark runs them, each named after its
 * node (stable across restarts, so its series and alerts keep their
 * linkwatch_worker_id). `linkwatch worker` sends synthetic traffic: here one
 * 256-byte message a second, the load the capacity numbers were measured at,
 * which makes each node's worker a canary of the link.
 */
export function worker(version: string): DaemonSet {
  const tokens = tokenVolumes(TOKEN_KEYS.worker, image(version));
  return new DaemonSet({
    metadata: { name: COMPONENT.worker, namespace: NAMESPACE, labels: labels('worker') },
    spec: {
      selector: { matchLabels: selectorLabels('worker') },
      // One node at a time; a new worker that cannot connect stops the rollout (readiness).
      updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1 } },
      template: {
        metadata: { labels: labels('worker') },
        spec: {
          securityContext: POD_SECURITY,
          automountServiceAccountToken: false,
          // No SERVICE_HOST/PORT variables per Service: they could shadow a LINKWATCH_* setting.
          enableServiceLinks: false,
          // --shutdown-timeout (10s) to get the last acks, plus telemetry's last flush.
          terminationGracePeriodSeconds: 20,
          initContainers: [tokens.init],
          containers: [
            {
              name: 'worker',
              image: image(version),
              args: [
                'worker',
                '--hub',
                `ws://${COMPONENT.hub}:${PORT.hubWs}`,
                '--id',
                '$(NODE_NAME)',
                '--token-file',
                tokens.file,
                '--rate',
                '1',
                '--size',
                '256',
                '--metrics-listen',
                `0.0.0.0:${PORT.workerMetrics}`,
                '--health-listen',
                `0.0.0.0:${PORT.workerHealth}`,
              ],
              env: [
                { name: 'NODE_NAME', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } },
                ...OTEL_ENV,
              ],
              ports: [
                { name: 'metrics', containerPort: PORT.workerMetrics, protocol: 'TCP' },
                { name: 'health', containerPort: PORT.workerHealth, protocol: 'TCP' },
              ],
              ...probes('health'),
              resources: WORKER_RESOURCES,
              securityContext: CONTAINER_SECURITY,
              volumeMounts: [TOKEN_MOUNT, { name: 'tmp', mountPath: '/tmp' }],
            },
          ],
          volumes: [...tokens.volumes, { name: 'tmp', emptyDir: { medium: 'Memory', sizeLimit: '16Mi' } }],
        },
      },
    },
  });
}
