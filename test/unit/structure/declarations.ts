import { readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';

/**
 * A reader for the `.d.ts` files tsc emits, just deep enough to answer one
 * question: which linkwatch types does a public declaration mention, and is
 * each of them exported too? TypeScript 7 is the native compiler, without the
 * old JS API (api-extractor needs it), and emitted declarations are regular:
 * one top-level statement per column-0 line, imports spelled out. So this is
 * text, not an AST, and it is tested on fixtures below its real use.
 */

/** Where a name is declared: the `.d.ts` file and the name there. */
export interface Origin {
  file: string;
  name: string;
}

interface Binding {
  spec: string;
  imported: string;
}

interface ParsedFile {
  /** Top-level declarations by name (overloads and merged declarations joined). */
  declarations: Map<string, string>;
  /** Names declared here with `export`. */
  exported: Set<string>;
  /** Local name → import. */
  imports: Map<string, Binding>;
  /** Exported name → what it re-exports (`export { a as b } from`, or `export { a }` of an import). */
  reexports: Map<string, Binding | { local: string }>;
  /** `export * from` specs. */
  stars: string[];
}

/**
 * Comments blanked out, newlines kept. Strings are skipped whole, so a `//` in
 * `'ws://host'` is not taken for a comment; their contents stay (import specs).
 */
export function stripNoise(text: string): string {
  let out = '';
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    const next = text[i + 1];
    if (c === '/' && next === '*') {
      const end = text.indexOf('*/', i + 2);
      const stop = end === -1 ? text.length : end + 2;
      out += text.slice(i, stop).replace(/[^\n]/g, ' ');
      i = stop;
    } else if (c === '/' && next === '/') {
      while (i < text.length && text[i] !== '\n') i++;
    } else if (c === "'" || c === '"' || c === '`') {
      // Keep the quotes so import specs stay readable; blank what is inside.
      let j = i + 1;
      while (j < text.length && text[j] !== c) j += text[j] === '\\' ? 2 : 1;
      out += c + text.slice(i + 1, j) + c;
      i = j + 1;
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

/** Identifiers used inside a declaration's text, with string literal contents removed. */
function identifiers(text: string): Set<string> {
  const bare = text.replace(/(['"`])(?:\\.|(?!\1).)*\1/g, '""');
  return new Set(bare.match(/(?<![\w$#.])[A-Za-z_$][\w$]*/g) ?? []);
}

function statements(text: string): string[] {
  const out: string[] = [];
  for (const line of stripNoise(text).split('\n')) {
    if (line.trim() === '') continue;
    if (/^[^\s})\]|&]/.test(line) || out.length === 0) out.push(line);
    else out[out.length - 1] += `\n${line}`;
  }
  return out;
}

function bindings(list: string): { local: string; imported: string }[] {
  return list
    .split(',')
    .map((s) => s.trim().replace(/^type\s+/, ''))
    .filter(Boolean)
    .map((s) => {
      const [imported, local = imported] = s.split(/\s+as\s+/) as [string, string?];
      return { imported, local };
    });
}

const DECLARATION =
  /^(export\s+)?(?:default\s+)?(?:declare\s+)?(?:abstract\s+)?(?:class|interface|type|function|const|let|var|enum|namespace)\s+([A-Za-z_$][\w$]*)/;

export function parseDeclarations(text: string): ParsedFile {
  const file: ParsedFile = {
    declarations: new Map(),
    exported: new Set(),
    imports: new Map(),
    reexports: new Map(),
    stars: [],
  };
  for (const s of statements(text)) {
    const flat = s.replace(/\s+/g, ' ').trim();
    const imp = /^import (?:type )?(.*) from ['"](.*)['"]/.exec(flat);
    const star = /^export \*(?: as ([\w$]+))? from ['"](.*)['"]/.exec(flat);
    const list = /^export (?:type )?\{(.*)\}(?: from ['"](.*)['"])?/.exec(flat);
    const decl = DECLARATION.exec(flat);
    if (imp) {
      const [, clause, spec] = imp as unknown as [string, string, string];
      const named = /\{(.*)\}/.exec(clause);
      if (named)
        for (const b of bindings(named[1]!)) file.imports.set(b.local, { spec, imported: b.imported });
      const ns = /\* as ([\w$]+)/.exec(clause);
      if (ns) file.imports.set(ns[1]!, { spec, imported: '*' });
      const def = /^([\w$]+)\s*(?:,|$)/.exec(clause);
      if (def) file.imports.set(def[1]!, { spec, imported: 'default' });
    } else if (star) {
      if (star[1]) file.reexports.set(star[1], { spec: star[2]!, imported: '*' });
      else file.stars.push(star[2]!);
    } else if (list) {
      for (const b of bindings(list[1]!)) {
        file.reexports.set(
          b.local,
          list[2] ? { spec: list[2], imported: b.imported } : { local: b.imported },
        );
      }
    } else if (decl) {
      const name = decl[2]!;
      file.declarations.set(name, `${file.declarations.get(name) ?? ''}${s}\n`);
      if (decl[1]) file.exported.add(name);
    }
  }
  return file;
}

/** The public surface of a package's entry points and every type it mentions. */
export class DeclarationGraph {
  readonly #files = new Map<string, ParsedFile>();
  readonly #read: (file: string) => string;

  constructor(read: (file: string) => string = (f) => readFileSync(f, 'utf8')) {
    this.#read = read;
  }

  #file(path: string): ParsedFile {
    let f = this.#files.get(path);
    if (!f) {
      f = parseDeclarations(this.#read(path));
      this.#files.set(path, f);
    }
    return f;
  }

  /** A relative spec resolved to a `.d.ts` path; undefined for packages and `node:` modules. */
  #resolve(from: string, spec: string): string | undefined {
    if (!spec.startsWith('.')) return undefined;
    return normalize(join(dirname(from), spec.replace(/\.js$/, '.d.ts')));
  }

  /** Where `name`, as seen from `file`, is declared; undefined when it comes from another package. */
  origin(file: string, name: string, seen = new Set<string>()): Origin | undefined {
    const key = `${file}#${name}`;
    if (seen.has(key)) return undefined;
    seen.add(key);
    const f = this.#file(file);
    if (f.declarations.has(name)) return { file, name };
    const via = f.imports.get(name) ?? f.reexports.get(name);
    if (via && 'local' in via) return this.origin(file, via.local, seen);
    if (via) {
      const target = this.#resolve(file, via.spec);
      if (!target) return undefined;
      if (via.imported === '*') return { file: target, name: '*' };
      return this.origin(target, via.imported, seen);
    }
    for (const spec of f.stars) {
      const target = this.#resolve(file, spec);
      if (!target) continue;
      const o = this.origin(target, name, seen);
      if (o) return o;
    }
    return undefined;
  }

  /** Every name an entry point exports, with where it is declared. */
  exportsOf(entry: string): Map<string, Origin> {
    const f = this.#file(entry);
    const names = new Set([...f.exported, ...f.reexports.keys()]);
    for (const spec of f.stars) {
      const target = this.#resolve(entry, spec);
      if (target) for (const name of this.exportsOf(target).keys()) names.add(name);
    }
    const out = new Map<string, Origin>();
    for (const name of names) {
      const o = this.origin(entry, name);
      if (o) out.set(name, o);
    }
    return out;
  }

  /** Every module the entries' declaration files load, following relative imports: specs outside the package. */
  externalModules(entries: string[]): Map<string, string[]> {
    const out = new Map<string, string[]>();
    const seen = new Set<string>();
    const stack = [...entries];
    while (stack.length > 0) {
      const file = stack.pop()!;
      if (seen.has(file)) continue;
      seen.add(file);
      const f = this.#file(file);
      const specs = [
        ...[...f.imports.values(), ...f.reexports.values()].flatMap((b) => ('spec' in b ? [b.spec] : [])),
        ...f.stars,
        ...[...this.#read(file).matchAll(/import\(["']([^"']+)["']\)/g)].map((m) => m[1]!),
      ];
      for (const spec of specs) {
        const target = this.#resolve(file, spec);
        if (target) stack.push(target);
        else out.set(spec, [...(out.get(spec) ?? []), file]);
      }
    }
    return out;
  }

  /** The linkwatch declarations a declaration mentions, by the name used there. */
  mentions(o: Origin): Map<string, Origin> {
    const f = this.#file(o.file);
    const text = f.declarations.get(o.name) ?? '';
    const out = new Map<string, Origin>();
    for (const id of identifiers(text)) {
      if (id === o.name || !(f.declarations.has(id) || f.imports.has(id))) continue;
      const target = this.origin(o.file, id);
      if (target) out.set(id, target);
    }
    // `import("./x.js").Name` in an emitted type.
    for (const m of text.matchAll(/import\(["'](\.[^"']*)["']\)\.([\w$]+)/g)) {
      const target = this.#resolve(o.file, m[1]!);
      const resolved = target && this.origin(target, m[2]!);
      if (resolved) out.set(m[2]!, resolved);
    }
    return out;
  }
}

export interface Leak {
  /** The public declaration whose signature mentions the type. */
  user: string;
  /** The type it mentions, which no entry point exports. */
  type: string;
  /** Where that type is declared, relative to the declaration root. */
  declaredIn: string;
}

/**
 * Public declarations (everything the entries export) that mention a
 * linkwatch type no entry exports. A user could receive a value of that type
 * but not name it, and every change to it would silently change the API.
 */
export function findLeaks(entries: string[], root: string, graph = new DeclarationGraph()): Leak[] {
  const publicOrigins = new Set<string>();
  const exported: Origin[] = [];
  for (const entry of entries) {
    for (const o of graph.exportsOf(entry).values()) {
      publicOrigins.add(`${o.file}#${o.name}`);
      exported.push(o);
    }
  }
  const leaks: Leak[] = [];
  const seen = new Set<string>();
  for (const o of exported) {
    for (const [name, target] of graph.mentions(o)) {
      const key = `${o.name}->${name}`;
      if (publicOrigins.has(`${target.file}#${target.name}`) || seen.has(key)) continue;
      seen.add(key);
      leaks.push({ user: o.name, type: name, declaredIn: relative(root, target.file) });
    }
  }
  return leaks.sort((a, b) => `${a.user}${a.type}`.localeCompare(`${b.user}${b.type}`));
}
