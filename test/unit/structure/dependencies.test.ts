import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { importsOf, packageOf, runtimeClosure, sourceFiles } from './imports.js';

/**
 * The package tells the truth about its dependencies. The library depends on
 * `@opentelemetry/api` alone; the OpenTelemetry SDK and its exporters are
 * there for the CLI, which ships in the same package (so they are
 * `dependencies`: `npx linkwatch hub` must work after a plain install).
 */
const ROOT = join(import.meta.dirname, '../../..');
const PKG = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
  exports: Record<string, { default: string } | string>;
};

/** The library: src/ without the CLI and the demo (a program the CLI runs). */
const isLibrary = (file: string) => !/^src\/(cli|demo)\//.test(file);

/**
 * Library files that still load the SDK. The CLI's SDK setup sits in
 * src/telemetry/ today; it moves under src/cli/ on the telemetry branch, and
 * the lead removes this entry then. The test fails once it no longer applies.
 */
const KNOWN_SDK_USERS = new Set(['src/telemetry/sdk.ts']);

const edges = importsOf(ROOT, sourceFiles(ROOT));
const otel = (spec: string) => packageOf(spec)?.startsWith('@opentelemetry/') ?? false;

describe('dependencies', () => {
  it('the library imports nothing from OpenTelemetry but @opentelemetry/api', () => {
    const offenders = edges.filter(
      (e) => isLibrary(e.from) && otel(e.spec) && packageOf(e.spec) !== '@opentelemetry/api',
    );
    const unexpected = offenders
      .filter((e) => !KNOWN_SDK_USERS.has(e.from))
      .map((e) => `${e.from}:${e.line} imports '${e.spec}'; the library may use only @opentelemetry/api`);
    expect(unexpected).toEqual([]);
    const gone = [...KNOWN_SDK_USERS].filter((f) => !offenders.some((e) => e.from === f));
    expect(gone, 'no longer imports the SDK: remove from KNOWN_SDK_USERS').toEqual([]);
  });

  it('the core (everything the package entries load) never loads the SDK', () => {
    const entries = Object.values(PKG.exports)
      .map((e) => (typeof e === 'string' ? e : e.default))
      .filter((p) => p.endsWith('.js'))
      .map((p) => p.replace(/^\.\/dist\//, 'src/').replace(/\.js$/, '.ts'));
    expect(entries).toEqual(expect.arrayContaining(['src/index.ts', 'src/chaos/index.ts']));
    const loaded = runtimeClosure(edges, entries);
    const packages = new Set(loaded.map((e) => packageOf(e.spec)).filter((p) => p !== undefined));
    expect([...packages].sort()).toEqual(['@opentelemetry/api', 'p-queue', 'ws']);
  });

  it('every package src/ loads at runtime is a dependency, not a devDependency', () => {
    const missing = edges
      .filter((e) => e.runtime)
      .map((e) => ({ e, pkg: packageOf(e.spec) }))
      .filter(({ pkg }) => pkg !== undefined && !(pkg in PKG.dependencies))
      .map(({ e, pkg }) => `${e.from}:${e.line} loads ${pkg}, which package.json "dependencies" lacks`);
    expect(missing).toEqual([]);
  });
});
