import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type ImportEdge, importsOf, parseImports, sourceFiles } from './imports.js';

/**
 * The runtime imports point one way (issue 8):
 *
 *   protocol ← link (with queue) ← hub/worker ← telemetry/watchdog ← demo/cli
 *
 * Each layer may load only layers below it. Folders in the same layer are
 * siblings and do not load each other (the worker never loads the hub; the
 * watchdog subscribes to events, it does not load telemetry). Type-only
 * imports are free: they vanish when compiled. The chaos proxy is a tool:
 * only demo and cli load it.
 */
const ROOT = join(import.meta.dirname, '../../..');

const LAYERS: string[][] = [
  // Shared by everyone: stable error classes, defaults, option validation, the logger, and the
  // signal catalog (plain data: the watchdog's own metrics take their names from it too).
  ['errors.ts', 'defaults.ts', 'validate.ts', 'fleet-v8-flags.ts', 'log', 'telemetry/catalog.ts'],
  ['protocol'],
  ['link', 'queue'],
  ['hub', 'worker'],
  ['telemetry', 'watchdog'],
  // The package entries and the tools: index.ts is the core's public face, chaos is a test tool.
  ['index.ts', 'chaos'],
  ['demo', 'load'],
  ['cli'],
];

/**
 * Wrong-way edges other branches are removing now; the lead shrinks this list
 * as they merge. The test fails on any other wrong-way edge, and on an entry
 * here that no longer occurs, so the list can only shrink.
 */
const KNOWN_WRONG_WAY = new Set<string>([]);

/** The group a `src/` file belongs to: a file LAYERS names, else its top folder (or itself at the top). */
function groupOf(file: string): string {
  const path = file.replace(/^src\//, '');
  return LAYERS.flat().includes(path) ? path : path.split('/')[0]!;
}

function layerOf(group: string): number {
  const i = LAYERS.findIndex((l) => l.includes(group));
  if (i === -1) throw new Error(`src/${group} is in no layer: add it to LAYERS in ${import.meta.filename}`);
  return i;
}

/** Why an edge is wrong, or undefined when it points down (or stays in its folder). */
function wrongWay(e: Pick<ImportEdge, 'from' | 'to' | 'runtime'>): string | undefined {
  if (!e.runtime || !e.to?.startsWith('src/')) return undefined;
  const from = groupOf(e.from);
  const to = groupOf(e.to);
  if (from === to) return undefined;
  const [a, b] = [layerOf(from), layerOf(to)];
  if (b < a) return undefined;
  const names = (i: number) => LAYERS[i]!.join(', ');
  return b === a
    ? `${from} and ${to} are siblings (layer ${a}: ${names(a)}); neither may load the other`
    : `${from} (layer ${a}: ${names(a)}) may not load ${to} (layer ${b}: ${names(b)}), which sits above it`;
}

describe('runtime imports in src/', () => {
  const edges = importsOf(ROOT, sourceFiles(ROOT));

  it('puts every src/ folder in a layer', () => {
    for (const f of sourceFiles(ROOT)) expect(() => layerOf(groupOf(f)), f).not.toThrow();
  });

  it('point one way: protocol ← link ← hub/worker ← telemetry/watchdog ← demo/cli', () => {
    const wrong = edges
      .map((e) => ({ key: `${e.from} -> ${e.to}`, why: wrongWay(e), e }))
      .filter((w) => w.why !== undefined);
    const unexpected = wrong
      .filter((w) => !KNOWN_WRONG_WAY.has(w.key))
      .map((w) => `${w.e.from}:${w.e.line} imports '${w.e.spec}': ${w.why}`);
    expect(unexpected, 'wrong-way runtime imports (use `import type`, or move the code down)').toEqual([]);
    const gone = [...KNOWN_WRONG_WAY].filter((k) => !wrong.some((w) => w.key === k));
    expect(gone, 'no longer imported: remove from KNOWN_WRONG_WAY').toEqual([]);
  });

  it('load the chaos proxy only from demo and cli (and its own entry)', () => {
    const users = edges
      .filter((e) => e.runtime && e.to?.startsWith('src/chaos/') && !e.from.startsWith('src/chaos/'))
      .map((e) => groupOf(e.from));
    for (const g of users) expect(['demo', 'cli']).toContain(g);
  });
});

describe('the import reader and the rule', () => {
  it('tells runtime imports from type-only ones', () => {
    const edges = parseImports(
      'src/hub/x.ts',
      [
        "import type { A } from '../link/a.js';",
        "import { type B } from '../link/b.js';",
        "import { type C, D } from '../link/c.js';",
        "export type { E } from '../link/e.js';",
        "export * from './f.js';",
        '// import { G } from "../cli/g.js";',
        "const url = 'ws://x'; import('../telemetry/h.js');",
      ].join('\n'),
    );
    expect(edges.map((e) => [e.to, e.runtime, e.line])).toEqual([
      ['src/link/a.ts', false, 1],
      // verbatimModuleSyntax keeps this as `import {} from`, which loads the module.
      ['src/link/b.ts', true, 2],
      ['src/link/c.ts', true, 3],
      ['src/link/e.ts', false, 4],
      ['src/hub/f.ts', true, 5],
      ['src/telemetry/h.ts', true, 7],
    ]);
  });

  it('names both layers of a wrong-way edge, and lets edges point down', () => {
    expect(wrongWay({ from: 'src/link/link.ts', to: 'src/hub/hub.ts', runtime: true })).toMatch(
      /link \(layer 2: link, queue\) may not load hub \(layer 3: hub, worker\)/,
    );
    expect(wrongWay({ from: 'src/worker/worker.ts', to: 'src/hub/auth.ts', runtime: true })).toMatch(
      /worker and hub are siblings/,
    );
    expect(wrongWay({ from: 'src/link/link.ts', to: 'src/hub/hub.ts', runtime: false })).toBeUndefined();
    expect(wrongWay({ from: 'src/cli/main.ts', to: 'src/protocol/codec.ts', runtime: true })).toBeUndefined();
    expect(wrongWay({ from: 'src/hub/hub.ts', to: 'src/errors.ts', runtime: true })).toBeUndefined();
  });
});
