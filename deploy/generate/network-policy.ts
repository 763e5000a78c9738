import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import type { INetworkPolicyPeer } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicyPeer';
import type { INetworkPolicyPort } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicyPort';
import {
  COMPONENT,
  type Component,
  labels,
  MONITORING_NAMESPACE,
  NAMESPACE,
  PORT,
  selectorLabels,
} from './names.js';

/**
 * Who may talk to whom. Workers may reach the hub and nothing else but DNS
 * and their node's Collector agent (traces); metrics ports answer the
 * monitoring namespace only; the hub's WebSocket port answers workers only;
 * the gateway answers agents only. Kubelet probes come from the node and are
 * not subject to these policies on common CNIs (Calico, Cilium).
 */

const pods = (c: Component): INetworkPolicyPeer => ({ podSelector: { matchLabels: selectorLabels(c) } });
/** The namespace Prometheus runs in, by the label the API server sets on every namespace. */
export const MONITORING: INetworkPolicyPeer = {
  namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': MONITORING_NAMESPACE } },
};
/** Cluster DNS, as kubeadm, EKS, GKE and AKS label it. */
export const DNS: INetworkPolicyPeer = {
  namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } },
  podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } },
};
const tcp = (...ports: number[]): INetworkPolicyPort[] => ports.map((port) => ({ protocol: 'TCP', port }));
const OTLP = tcp(PORT.otlpGrpc, PORT.otlpHttp);

function policy(c: Component, spec: Omit<NetworkPolicy['spec'] & object, 'podSelector'>): NetworkPolicy {
  return new NetworkPolicy({
    metadata: { name: COMPONENT[c], namespace: NAMESPACE, labels: labels(c) },
    spec: { podSelector: { matchLabels: selectorLabels(c) }, ...spec },
  });
}

export function networkPolicies(): NetworkPolicy[] {
  return [
    policy('hub', {
      policyTypes: ['Ingress'],
      ingress: [
        { from: [pods('worker')], ports: tcp(PORT.hubWs) },
        { from: [MONITORING], ports: tcp(PORT.hubMetrics) },
      ],
    }),
    policy('worker', {
      policyTypes: ['Ingress', 'Egress'],
      ingress: [{ from: [MONITORING], ports: tcp(PORT.workerMetrics) }],
      egress: [
        { to: [pods('hub')], ports: tcp(PORT.hubWs) },
        {
          to: [DNS],
          ports: [
            { protocol: 'UDP', port: 53 },
            { protocol: 'TCP', port: 53 },
          ],
        },
        // Traces to the node's agent. With OTEL_TRACES_EXPORTER=none on the workers this rule can
        // go, and the hub is all they reach (deploy/README.md).
        { to: [pods('agent')], ports: OTLP },
      ],
    }),
    policy('agent', {
      policyTypes: ['Ingress'],
      ingress: [
        { from: [pods('hub'), pods('worker')], ports: OTLP },
        { from: [MONITORING], ports: tcp(PORT.collectorTelemetry) },
      ],
    }),
    policy('gateway', {
      policyTypes: ['Ingress'],
      ingress: [
        { from: [pods('agent')], ports: OTLP },
        { from: [MONITORING], ports: tcp(PORT.collectorTelemetry) },
      ],
    }),
  ];
}
