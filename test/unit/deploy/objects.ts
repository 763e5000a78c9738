import { join } from 'node:path';
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IPodSpec } from 'kubernetes-models/v1/PodSpec';
import { allFiles, baseFiles, type KubeObject } from '../../../deploy/generate/manifests.js';
import { readSources } from '../../../deploy/generate/sources.js';

/** The generated objects, as plain JSON, for the deploy tests to query. */

export const ROOT = join(import.meta.dirname, '../../..');
export const sources = readSources(ROOT);

// biome-ignore lint/suspicious/noExplicitAny: manifests are checked field by field, as YAML readers see them
export type Json = any;

const toJson = (o: KubeObject): Json => JSON.parse(JSON.stringify(o.toJSON()));
export const base: Json[] = baseFiles(sources).flatMap((f) => f.objects.map(toJson));
export const all: Json[] = allFiles(sources).flatMap((f) => f.objects.map(toJson));

export const ofKind = (kind: string): Json[] => base.filter((o) => o.kind === kind);
export const named = (kind: string, name: string): Json => {
  const o = base.find((x) => x.kind === kind && x.metadata.name === name);
  if (!o) throw new Error(`no ${kind} ${name}`);
  return o;
};

/** Deployments and DaemonSets: what runs pods. */
export const workloads: Json[] = base.filter((o) => o.kind === 'Deployment' || o.kind === 'DaemonSet');
export const podSpec = (w: Json): IPodSpec => w.spec.template.spec;
export const podLabels = (w: Json): Record<string, string> => w.spec.template.metadata.labels;
export const containers = (w: Json): IContainer[] => podSpec(w).containers;
export const allContainers = (w: Json): IContainer[] => [
  ...(podSpec(w).initContainers ?? []),
  ...podSpec(w).containers,
];

/** A label selector ({ matchLabels, matchExpressions }) against a label set. */
export function selects(
  selector: {
    matchLabels?: Record<string, string>;
    matchExpressions?: { key: string; operator: string; values?: string[] }[];
  },
  labels: Record<string, string>,
): boolean {
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of selector.matchExpressions ?? []) {
    const has = e.key in labels;
    const v = labels[e.key];
    const ok =
      e.operator === 'In'
        ? has && e.values!.includes(v!)
        : e.operator === 'NotIn'
          ? !has || !e.values!.includes(v!)
          : e.operator === 'Exists'
            ? has
            : !has;
    if (!ok) return false;
  }
  return true;
}

/** The workloads whose pods a selector picks. */
export const podsSelectedBy = (selector: Parameters<typeof selects>[0]): Json[] =>
  workloads.filter((w) => selects(selector, podLabels(w)));

/** A container port by name or number. */
export function containerPort(w: Json, port: string | number): number | undefined {
  for (const c of containers(w)) {
    for (const p of c.ports ?? []) {
      if (p.name === port || p.containerPort === port) return p.containerPort;
    }
  }
  return undefined;
}

/** A flag's value in a container's args (`--flag value`). */
export function flag(c: IContainer, name: string): string | undefined {
  const args = c.args ?? [];
  const i = args.indexOf(`--${name}`);
  return i < 0 ? undefined : args[i + 1];
}
