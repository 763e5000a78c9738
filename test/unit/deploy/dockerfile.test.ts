import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { UID } from '../../../deploy/generate/names.js';
import { ROOT, workloads } from './objects.js';

/**
 * deploy/Dockerfile cannot be built here (no Docker engine, none in CI): these
 * checks hold it to package.json and to what the manifests expect of it.
 */

const dockerfile = readFileSync(join(ROOT, 'deploy/Dockerfile'), 'utf8');
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
const lines = dockerfile.split('\n').filter((l) => !l.startsWith('#'));

describe('deploy/Dockerfile', () => {
  it('builds on the Node major the repository pins', () => {
    const major = /(\d+)/.exec(pkg.devDependencies.node)![1];
    const froms = lines.filter((l) => l.startsWith('FROM '));
    expect(froms.length).toBeGreaterThan(0);
    for (const f of froms) expect(f).toMatch(new RegExp(`^FROM node:${major}-slim\\b`));
  });

  it('runs as the uid the manifests run as, never root', () => {
    expect(lines.filter((l) => l.startsWith('USER '))).toEqual([`USER ${UID}:${UID}`]);
    expect(dockerfile).toContain(`--uid ${UID} --gid ${UID}`);
    for (const w of workloads) expect(w.spec.template.spec.securityContext.runAsUser).toBe(UID);
  });

  it('fetches nothing at install time and ships no devDependencies', () => {
    const installs = lines.filter((l) => /\bnpm (ci|install)\b/.test(l));
    expect(installs.length).toBe(2);
    for (const l of installs) expect(l).toContain('--ignore-scripts');
    expect(installs.filter((l) => l.includes('--omit=dev'))).toHaveLength(1);
  });

  it('its entrypoint is the package bin, so container args start with the subcommand', () => {
    expect(dockerfile).toContain(`ENTRYPOINT ["node", "/app/${pkg.bin.linkwatch.replace(/^\.\//, '')}"]`);
    const args = workloads
      .flatMap((w) => w.spec.template.spec.containers)
      .filter((c: { image: string }) => c.image.includes('/linkwatch:'))
      .map((c: { args: string[] }) => c.args[0]);
    expect(args.sort()).toEqual(['hub', 'worker']);
  });

  it('has the shell tools the token-copy init container runs (Debian slim has sh, cp and chmod)', () => {
    const inits = workloads.flatMap((w) => w.spec.template.spec.initContainers ?? []);
    expect(inits.length).toBeGreaterThan(0);
    for (const c of inits) expect(c.command[0]).toBe('sh');
    expect(dockerfile).not.toMatch(/FROM .*(distroless|scratch|alpine)/);
  });
});
