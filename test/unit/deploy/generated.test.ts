import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { allFiles, render } from '../../../deploy/generate/manifests.js';
import { readSources } from '../../../deploy/generate/sources.js';

/**
 * deploy/ is generated: the committed YAML equals what deploy/generate
 * builds from prometheus/, grafana/ and collector-config/, and every
 * Kubernetes object in it passes its schema. Regenerate with `npm run deploy`
 * (UPDATE_DEPLOY=1).
 */

const ROOT = join(import.meta.dirname, '../../..');
const DEPLOY = join(ROOT, 'deploy');
const UPDATE = process.env.UPDATE_DEPLOY === '1';
const files = allFiles(readSources(ROOT));

/** Every .yaml under deploy/ except the generator's own directory. */
function committedYaml(dir = DEPLOY): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return name === 'generate' ? [] : committedYaml(path);
    return name.endsWith('.yaml') ? [relative(DEPLOY, path)] : [];
  });
}

describe('deploy/ is generated', () => {
  it('holds exactly the generated files', () => {
    if (UPDATE) {
      for (const f of files) {
        mkdirSync(dirname(join(DEPLOY, f.path)), { recursive: true });
        writeFileSync(join(DEPLOY, f.path), render(f));
      }
    }
    expect(committedYaml().sort()).toEqual(files.map((f) => f.path).sort());
  });

  it.each(files.map((f) => [f.path, f] as const))(
    '%s equals what the generator builds (npm run deploy)',
    (path, f) => {
      expect(readFileSync(join(DEPLOY, path), 'utf8')).toBe(render(f));
    },
  );
});

describe('every Kubernetes object passes its schema', () => {
  const objects = files.flatMap((f) =>
    f.objects.map((o) => [`${f.path}: ${o.kind}/${o.metadata?.name}`, o] as const),
  );

  it('there are objects of every kind the kit promises', () => {
    const kinds = new Set(objects.map(([, o]) => o.kind));
    for (const kind of [
      'Namespace',
      'Deployment',
      'DaemonSet',
      'Service',
      'ConfigMap',
      'NetworkPolicy',
      'PrometheusRule',
      'ServiceMonitor',
      'PodMonitor',
      'PersistentVolumeClaim',
    ])
      expect(kinds, kind).toContain(kind);
  });

  it.each(objects)('%s', (_name, o) => {
    expect(() => o.validate()).not.toThrow();
  });

  it('the schema check catches a wrong field (so the checks above are not vacuous)', () => {
    const hub = objects.find(([, o]) => o.kind === 'Deployment')![1] as unknown as {
      spec: { replicas: unknown };
      validate(): void;
    };
    const replicas = hub.spec.replicas;
    hub.spec.replicas = 'one';
    try {
      expect(() => hub.validate()).toThrow(/replicas/);
    } finally {
      hub.spec.replicas = replicas;
    }
  });
});
