import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { stripNoise } from './declarations.js';

/** One import or re-export of a source file. */
export interface ImportEdge {
  /** The importing file, relative to the repository root (`src/hub/hub.ts`). */
  from: string;
  /** As written: `../link/link.js`, `ws`, `node:net`. */
  spec: string;
  /** For a relative spec, the imported `.ts` file relative to the root; else undefined. */
  to: string | undefined;
  /**
   * Whether the import loads the module when the code runs. `import type` and
   * `export type` do not; an `import { type A }` whose every name is a type
   * does (verbatimModuleSyntax keeps it as `import {} from`), and so does a
   * dynamic `import()`.
   */
  runtime: boolean;
  line: number;
}

const STATIC = /(?:^|\n)[ \t]*(import|export)\s+(type\s+)?([^'";]*?)\s*from\s*['"]([^'"]+)['"]/g;
const BARE = /(?:^|\n)[ \t]*import\s*['"]([^'"]+)['"]/g;
const DYNAMIC = /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g;

/** The imports of one TypeScript source, comments ignored. */
export function parseImports(from: string, source: string): ImportEdge[] {
  const text = stripNoise(source);
  const edges: ImportEdge[] = [];
  const lineOf = (index: number) => text.slice(0, index).split('\n').length + (text[index] === '\n' ? 1 : 0);
  const resolve = (spec: string) =>
    spec.startsWith('.') ? normalize(join(dirname(from), spec)).replace(/\.js$/, '.ts') : undefined;
  for (const m of text.matchAll(STATIC)) {
    const [, , typeOnly, clause, spec] = m as unknown as [string, string, string | undefined, string, string];
    const named = /\{([\s\S]*)\}/.exec(clause);
    const hasValueNames =
      /^[\w$]+/.test(clause.trim()) ||
      clause.includes('*') ||
      (named?.[1]
        ?.split(',')
        .map((s) => s.trim())
        .filter(Boolean)
        .some((s) => !s.startsWith('type ')) ??
        false);
    // `import { type A } from` still loads the module; only `import type` is erased.
    const runtime = !typeOnly && (hasValueNames || named !== null);
    edges.push({ from, spec, to: resolve(spec), runtime, line: lineOf(m.index) });
  }
  for (const m of text.matchAll(BARE)) {
    edges.push({ from, spec: m[1]!, to: resolve(m[1]!), runtime: true, line: lineOf(m.index) });
  }
  for (const m of text.matchAll(DYNAMIC)) {
    edges.push({ from, spec: m[1]!, to: resolve(m[1]!), runtime: true, line: lineOf(m.index) });
  }
  return edges;
}

/** Every `.ts` file under `dir`, relative to `root`. */
export function sourceFiles(root: string, dir = 'src'): string[] {
  return readdirSync(join(root, dir), { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts') && !e.name.endsWith('.d.ts'))
    .map((e) => relative(root, join(e.parentPath, e.name)))
    .sort();
}

export function importsOf(root: string, files = sourceFiles(root)): ImportEdge[] {
  return files.flatMap((f) => parseImports(f, readFileSync(join(root, f), 'utf8')));
}

/** The package an import names (`@scope/name` or `name`), or undefined for relative and `node:` specs. */
export function packageOf(spec: string): string | undefined {
  if (spec.startsWith('.') || spec.startsWith('node:')) return undefined;
  const parts = spec.split('/');
  return spec.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

/** Files reached from `entries` through runtime imports, and every edge taken. */
export function runtimeClosure(edges: ImportEdge[], entries: string[]): ImportEdge[] {
  const byFile = new Map<string, ImportEdge[]>();
  for (const e of edges) {
    if (!e.runtime) continue;
    byFile.set(e.from, [...(byFile.get(e.from) ?? []), e]);
  }
  const seen = new Set<string>();
  const taken: ImportEdge[] = [];
  const stack = [...entries];
  while (stack.length > 0) {
    const file = stack.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    for (const e of byFile.get(file) ?? []) {
      taken.push(e);
      if (e.to) stack.push(e.to);
    }
  }
  return taken;
}
