import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { PodMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PodMonitor';
import { PrometheusRule } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule';
import { ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor';
import { DaemonSet } from 'kubernetes-models/apps/v1/DaemonSet';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Namespace } from 'kubernetes-models/v1/Namespace';
import { PersistentVolumeClaim } from 'kubernetes-models/v1/PersistentVolumeClaim';
import { Service } from 'kubernetes-models/v1/Service';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { findBinary } from '../../helpers/binaries.js';
import { all, base, type Json, ROOT } from './objects.js';

/**
 * `kubectl kustomize` (kustomize v5, built into kubectl) builds the base and
 * the production overlay. No cluster is needed; no binary is installed for
 * this: without kubectl on PATH (CI has none) the test skips and says so.
 */

/** The model class of every kind deploy/ holds, to validate what kustomize builds. */
const MODELS: Record<string, new (data: Json) => { validate(): void }> = {
  Namespace,
  Deployment,
  DaemonSet,
  Service,
  ConfigMap,
  PersistentVolumeClaim,
  NetworkPolicy,
  PrometheusRule,
  ServiceMonitor,
  PodMonitor,
};

const kubectl = findBinary('kubectl');
if (!kubectl) process.stderr.write('skipping kustomize builds: kubectl is not on PATH\n');

function build(dir: string): Json[] {
  const out = execFileSync(kubectl!, ['kustomize', join(ROOT, 'deploy', dir)], { encoding: 'utf8' });
  return parseAllDocuments(out).map((d) => d.toJSON());
}
const key = (o: Json) => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`;
const sorted = (objects: Json[]) => [...objects].sort((a, b) => key(a).localeCompare(key(b)));

describe.skipIf(!kubectl)('kubectl kustomize (skipped: kubectl is not on PATH)', () => {
  it('builds the base into exactly the generated objects', () => {
    expect(sorted(build('base'))).toEqual(sorted(base));
  });

  it('every object the overlay builds still passes its schema', () => {
    const objects = build('overlays/production');
    expect(objects.length).toBeGreaterThan(20);
    for (const o of objects) {
      const Model = MODELS[o.kind];
      expect(Model, o.kind).toBeDefined();
      expect(() => new Model!(o).validate(), key(o)).not.toThrow();
    }
  });

  it('builds the production overlay: your image, your traces backend, the operator label, a kept journal', () => {
    const objects = build('overlays/production');
    expect(objects.map(key).sort()).toEqual(all.map(key).sort());
    const images = objects
      .filter((o) => o.kind === 'Deployment' || o.kind === 'DaemonSet')
      .flatMap((o) => [...(o.spec.template.spec.initContainers ?? []), ...o.spec.template.spec.containers])
      .map((c: Json) => c.image);
    expect(images.filter((i: string) => i.includes('linkwatch:'))).not.toHaveLength(0);
    for (const image of images)
      expect(image).toMatch(/^(registry\.example\.com\/linkwatch|otel\/opentelemetry-collector-contrib):/);
    for (const o of objects.filter((x) => x.apiVersion.startsWith('monitoring.coreos.com/'))) {
      expect(o.metadata.labels.release, key(o)).toBe('kube-prometheus-stack');
    }
    const gateway = objects.find(
      (o) => o.kind === 'Deployment' && o.metadata.name === 'linkwatch-otel-gateway',
    );
    const env = Object.fromEntries(
      gateway.spec.template.spec.containers[0].env.map((e: Json) => [e.name, e.value]),
    );
    expect(env.LINKWATCH_TRACES_ENDPOINT).toBe('tempo.tracing:4317');
    const hub = objects.find((o) => o.kind === 'Deployment' && o.metadata.name === 'linkwatch-hub');
    const journal = hub.spec.template.spec.volumes.find((v: Json) => v.name === 'journal');
    expect(journal).toEqual({
      name: 'journal',
      persistentVolumeClaim: { claimName: 'linkwatch-hub-journal' },
    });
  });
});
