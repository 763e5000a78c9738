import { describe, expect, it } from 'vitest';
import { COLLECTOR_JOB, MONITORING_NAMESPACE } from '../../../deploy/generate/names.js';
import {
  containerPort,
  type Json,
  ofKind,
  podLabels,
  podsSelectedBy,
  selects,
  workloads,
} from './objects.js';

/**
 * Every selector in deploy/ picks real pods or Services, and every port it
 * names is one they declare. A typo in a label or a port name leaves a
 * Service without endpoints or a monitor without targets, silently; here it
 * fails.
 */

const services = ofKind('Service');
const name = (o: Json) => `${o.kind}/${o.metadata.name}`;

describe('workloads', () => {
  it.each(workloads.map((w) => [name(w), w] as const))(
    '%s selects its own pods and no other workload',
    (_n, w) => {
      expect(selects(w.spec.selector, podLabels(w))).toBe(true);
      expect(podsSelectedBy(w.spec.selector)).toEqual([w]);
    },
  );
});

describe('Services', () => {
  it.each(services.map((s) => [name(s), s] as const))(
    '%s selects one workload and targets ports it declares',
    (_n, s) => {
      const selected = podsSelectedBy({ matchLabels: s.spec.selector });
      expect(selected).toHaveLength(1);
      for (const p of s.spec.ports) expect(containerPort(selected[0], p.targetPort), p.name).toBeDefined();
    },
  );
});

describe('monitors', () => {
  it('ServiceMonitors select a Service in their namespace and scrape a port it has', () => {
    const monitors = ofKind('ServiceMonitor');
    expect(monitors.length).toBeGreaterThan(0);
    for (const m of monitors) {
      const matched = services.filter(
        (s) => s.metadata.namespace === m.metadata.namespace && selects(m.spec.selector, s.metadata.labels),
      );
      expect(matched.map(name), name(m)).toHaveLength(1);
      for (const e of m.spec.endpoints) {
        expect(
          matched[0].spec.ports.map((p: Json) => p.name),
          `${name(m)} port ${e.port}`,
        ).toContain(e.port);
      }
    }
  });

  it('PodMonitors select pods that declare the port they scrape', () => {
    const monitors = ofKind('PodMonitor');
    expect(monitors.length).toBeGreaterThan(0);
    for (const m of monitors) {
      const pods = podsSelectedBy(m.spec.selector);
      expect(pods.length, name(m)).toBeGreaterThan(0);
      for (const w of pods) {
        for (const e of m.spec.podMetricsEndpoints)
          expect(containerPort(w, e.port), `${name(w)} ${e.port}`).toBeDefined();
      }
    }
  });

  it('the hub and the workers are scraped, and both Collectors as job linkwatch-otelcol', () => {
    const scraped = (kind: string) =>
      ofKind(kind).flatMap((m) =>
        kind === 'ServiceMonitor'
          ? services
              .filter((s) => selects(m.spec.selector, s.metadata.labels))
              .flatMap((s) => podsSelectedBy({ matchLabels: s.spec.selector }))
          : podsSelectedBy(m.spec.selector),
      );
    const names = [...scraped('ServiceMonitor'), ...scraped('PodMonitor')].map((w) => w.metadata.name).sort();
    expect(names).toEqual([
      'linkwatch-hub',
      'linkwatch-otel-agent',
      'linkwatch-otel-gateway',
      'linkwatch-worker',
    ]);
    const otelcol = ofKind('PodMonitor').find((m) => m.metadata.name === 'linkwatch-otelcol');
    expect(otelcol.spec.podMetricsEndpoints[0].relabelings).toContainEqual({
      targetLabel: 'job',
      replacement: COLLECTOR_JOB,
    });
  });
});

describe('NetworkPolicies', () => {
  const policies = ofKind('NetworkPolicy');
  const isMonitoring = (peer: Json) =>
    peer.namespaceSelector?.matchLabels?.['kubernetes.io/metadata.name'] === MONITORING_NAMESPACE &&
    !peer.podSelector;
  const isDns = (peer: Json) =>
    peer.namespaceSelector?.matchLabels?.['kubernetes.io/metadata.name'] === 'kube-system' &&
    peer.podSelector?.matchLabels?.['k8s-app'] === 'kube-dns';

  it('every workload is covered by exactly one policy', () => {
    for (const w of workloads) {
      expect(policies.filter((p) => selects(p.spec.podSelector, podLabels(w))).length, name(w)).toBe(1);
    }
  });

  it.each(policies.map((p) => [name(p), p] as const))(
    '%s: every peer is real pods, the monitoring namespace or DNS; every port is declared',
    (_n, p) => {
      const [target] = podsSelectedBy(p.spec.podSelector);
      expect(target).toBeDefined();
      for (const rule of p.spec.ingress ?? []) {
        for (const peer of rule.from) {
          if (!isMonitoring(peer))
            expect(podsSelectedBy(peer.podSelector).length, JSON.stringify(peer)).toBeGreaterThan(0);
        }
        // Ingress ports are the target's own.
        for (const port of rule.ports)
          expect(containerPort(target, port.port), `${name(p)} ingress ${port.port}`).toBeDefined();
      }
      for (const rule of p.spec.egress ?? []) {
        for (const peer of rule.to) {
          if (isDns(peer)) continue;
          const peers = podsSelectedBy(peer.podSelector);
          expect(peers.length, JSON.stringify(peer)).toBeGreaterThan(0);
          for (const port of rule.ports)
            for (const w of peers)
              expect(containerPort(w, port.port), `${name(w)} ${port.port}`).toBeDefined();
        }
      }
    },
  );

  it('metrics ports answer the monitoring namespace and nobody else', () => {
    for (const p of policies) {
      const [target] = podsSelectedBy(p.spec.podSelector);
      const metrics = ['metrics', 'telemetry']
        .map((n) => containerPort(target, n))
        .filter((x) => x !== undefined);
      expect(metrics.length, name(p)).toBe(1);
      const rules = (p.spec.ingress ?? []).filter((r: Json) =>
        r.ports.some((x: Json) => metrics.includes(x.port)),
      );
      expect(rules.length, name(p)).toBe(1);
      expect(rules[0].from.every(isMonitoring), name(p)).toBe(true);
    }
  });

  it('workers may reach only the hub, DNS and their node agent; only workers reach the hub', () => {
    const worker = policies.find((p) => p.metadata.name === 'linkwatch-worker');
    expect(worker.spec.policyTypes).toEqual(['Ingress', 'Egress']);
    const reached = worker.spec.egress.flatMap((r: Json) =>
      r.to.map((peer: Json) =>
        isDns(peer)
          ? 'dns'
          : podsSelectedBy(peer.podSelector)
              .map((w) => w.metadata.name)
              .join(),
      ),
    );
    expect(reached.sort()).toEqual(['dns', 'linkwatch-hub', 'linkwatch-otel-agent']);
    const hub = policies.find((p) => p.metadata.name === 'linkwatch-hub');
    const ws = hub.spec.ingress.find((r: Json) =>
      r.ports.some((x: Json) => x.port === containerPort(podsSelectedBy(hub.spec.podSelector)[0], 'ws')),
    );
    expect(
      ws.from.flatMap((peer: Json) => podsSelectedBy(peer.podSelector)).map((w: Json) => w.metadata.name),
    ).toEqual(['linkwatch-worker']);
  });
});

describe('references between objects', () => {
  it('volumes name ConfigMaps that exist, and the Secret users create', () => {
    const configMaps = new Set(ofKind('ConfigMap').map((c) => c.metadata.name));
    for (const w of workloads) {
      for (const v of w.spec.template.spec.volumes ?? []) {
        if (v.configMap) expect(configMaps, `${name(w)} volume ${v.name}`).toContain(v.configMap.name);
        if (v.secret) expect(v.secret.secretName).toBe('linkwatch-tokens');
      }
    }
  });

  it('OTLP endpoints in the environment name Services and ports that exist', () => {
    for (const w of workloads) {
      for (const c of w.spec.template.spec.containers) {
        for (const e of c.env ?? []) {
          if (!/OTEL_EXPORTER_OTLP_ENDPOINT|LINKWATCH_GATEWAY_ENDPOINT/.test(e.name)) continue;
          const { hostname, port } = new URL(e.value.includes('://') ? e.value : `grpc://${e.value}`);
          const service = services.find((s) => s.metadata.name === hostname);
          expect(service, `${name(w)} ${e.name}`).toBeDefined();
          expect(service.spec.ports.map((p: Json) => String(p.port))).toContain(port);
        }
      }
    }
  });
});
