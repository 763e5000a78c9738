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
 * Library files that still load the SDK: none since the CLI's SDK setup, its
 * /metrics endpoint and its observed-metrics producer moved to src/cli/. The
 * test fails once an entry no longer applies.
 */
const KNOWN_SDK_USERS = new Set<string>();

/** Dependencies no src/ file imports, each with the reason it is listed anyway. */
const UNLOADED_DEPENDENCIES = new Set([
  // @opentelemetry/sdk-node loads these itself when OTEL_TRACES_EXPORTER / OTEL_LOGS_EXPORTER ask for
  // OTLP; listed so the CLI's exporters stay on the versions it was tested with.
  '@opentelemetry/exporter-logs-otlp-proto',
  '@opentelemetry/exporter-trace-otlp-proto',
  '@opentelemetry/sdk-logs',
]);

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
    expect([...packages].sort()).toEqual(['@opentelemetry/api', 'ws']);
    // The README tells a library user the same.
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const claim =
      /\*\*What you install\.\*\*([\s\S]*?)which is all the library loads/.exec(readme)?.[1] ?? '';
    const named = [...claim.matchAll(/`([^`\s]+)`/g)].map((m) => m[1]!).filter((n) => n !== 'linkwatch');
    expect(named.sort(), "README's 'What you install' names what the library loads").toEqual(
      [...packages].sort(),
    );
  });

  it('every dependency is one src/ loads (or a listed exception)', () => {
    const loaded = new Set(edges.map((e) => packageOf(e.spec)));
    const unused = Object.keys(PKG.dependencies).filter(
      (d) => !loaded.has(d) && !UNLOADED_DEPENDENCIES.has(d),
    );
    expect(unused, 'dependencies nothing in src/ imports').toEqual([]);
    const stale = [...UNLOADED_DEPENDENCIES].filter((d) => loaded.has(d) || !(d in PKG.dependencies));
    expect(stale, 'no longer exceptions: remove from UNLOADED_DEPENDENCIES').toEqual([]);
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
