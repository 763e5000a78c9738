import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Options tables from the TSDoc on the options types. A type is found by its
 * name anywhere under src/ (files move; names stay), as an `interface` (with
 * `extends`) or a `type` alias built from `&`, `Omit`, `Pick`, `Partial`,
 * `Required`, `Readonly` and object literals: the forms options take here.
 * Without the old TypeScript JS API (TS 7 is native) this reads source text,
 * which biome keeps regular: one member per `;`.
 */

export interface OptionDoc {
  name: string;
  optional: boolean;
  type: string;
  /** The TSDoc text before its first tag, on one line. */
  description: string;
  /** The `@default` tag's text, if any. */
  default: string | undefined;
  internal: boolean;
}

/** Comments and string contents replaced by spaces: same length, so indices match the source. */
export function mask(text: string): string {
  let out = '';
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === '/' && text[i + 1] === '*') {
      const end = text.indexOf('*/', i + 2);
      const stop = end === -1 ? text.length : end + 2;
      out += text.slice(i, stop).replace(/[^\n]/g, ' ');
      i = stop;
    } else if (c === '/' && text[i + 1] === '/') {
      let j = i;
      while (j < text.length && text[j] !== '\n') j++;
      out += ' '.repeat(j - i);
      i = j;
    } else if (c === "'" || c === '"' || c === '`') {
      let j = i + 1;
      while (j < text.length && text[j] !== c) j += text[j] === '\\' ? 2 : 1;
      out += c + ' '.repeat(Math.max(0, j - i - 1)) + c;
      i = j + 1;
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

/** Splits `text` at `sep` where no bracket is open (the mask decides, the source is returned). */
function splitTopLevel(text: string, sep: string): string[] {
  const m = mask(text);
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < m.length; i++) {
    const c = m[i]!;
    if ('{([<'.includes(c)) depth++;
    else if ('})]'.includes(c) || (c === '>' && m[i - 1] !== '=')) depth--;
    else if (depth === 0 && m.startsWith(sep, i)) {
      parts.push(text.slice(start, i));
      start = i + sep.length;
    }
  }
  parts.push(text.slice(start));
  return parts.map((p) => p.trim()).filter(Boolean);
}

/** The text between the brace at `open` and its match. */
function braced(text: string, open: number): string {
  const m = mask(text);
  let depth = 0;
  for (let i = open; i < m.length; i++) {
    if (m[i] === '{') depth++;
    else if (m[i] === '}' && --depth === 0) return text.slice(open + 1, i);
  }
  throw new Error(`unbalanced braces from offset ${open}`);
}

function parseDoc(comment: string): Pick<OptionDoc, 'description' | 'default' | 'internal'> {
  const body = comment
    .replace(/^\/\*\*|\*\/$/g, '')
    .split('\n')
    .map((l) => l.replace(/^\s*\* ?/, '').trim())
    .join(' ')
    .replace(/\s+/g, ' ')
    .trim();
  const first = /(?:^|\s)@\w/.exec(body);
  const description = first ? body.slice(0, first.index).trim() : body;
  const tags = first
    ? body
        .slice(first.index)
        .trim()
        .split(/\s(?=@\w)/)
    : [];
  const tag = (name: string) =>
    tags
      .find((t) => new RegExp(`^@${name}\\b`).test(t))
      ?.slice(name.length + 1)
      .trim();
  return { description, default: tag('default'), internal: tag('internal') !== undefined };
}

/** Members of an object type body (`{ ... }` without the braces). */
export function parseMembers(body: string): OptionDoc[] {
  const out: OptionDoc[] = [];
  for (const chunk of splitTopLevel(body, ';')) {
    const masked = mask(chunk);
    // Where the member's code starts, past its doc comment.
    const lead = masked.length - masked.trimStart().length;
    const m = /^(?:readonly\s+)?([A-Za-z_$][\w$]*)(\?)?\s*(\(|:)/.exec(masked.slice(lead));
    if (!m) continue;
    const doc = [...chunk.slice(0, lead).matchAll(/\/\*\*[\s\S]*?\*\//g)].at(-1);
    // A method keeps its parameter list in its type.
    const type = chunk.slice(lead + m[0].length - (m[3] === '(' ? 1 : 0)).trim();
    out.push({
      name: m[1]!,
      optional: m[2] === '?',
      type: type.replace(/\s+/g, ' '),
      ...(doc ? parseDoc(doc[0]) : { description: '', default: undefined, internal: false }),
    });
  }
  return out;
}

/** Type declarations found by name in a set of sources. */
export class OptionTypes {
  readonly #sources: { file: string; text: string }[];

  constructor(sources: { file: string; text: string }[]) {
    this.#sources = sources;
  }

  static fromDir(root: string, dir = 'src'): OptionTypes {
    const files = readdirSync(join(root, dir), { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile() && e.name.endsWith('.ts'))
      .map((e) => join(e.parentPath, e.name));
    return new OptionTypes(
      files.map((f) => ({ file: f.slice(root.length + 1), text: readFileSync(f, 'utf8') })),
    );
  }

  /** `interface Name` or `type Name =`, by name; throws when absent or declared twice. */
  #declaration(name: string): { kind: 'interface' | 'type'; heads: string[]; body: string } | undefined {
    const found: { kind: 'interface' | 'type'; heads: string[]; body: string; file: string }[] = [];
    const re = new RegExp(`(?:^|\\n)(?:export\\s+)?(interface|type)\\s+${name}\\b(?:<[^>]*>)?\\s*`, 'g');
    for (const { file, text } of this.#sources) {
      const masked = mask(text);
      for (const m of masked.matchAll(re)) {
        const after = m.index + m[0].length;
        if (m[1] === 'interface') {
          const open = masked.indexOf('{', after);
          const ext = /^extends\s+([\s\S]*)$/.exec(text.slice(after, open).trim());
          found.push({
            kind: 'interface',
            heads: ext ? splitTopLevel(ext[1]!, ',') : [],
            body: braced(text, open),
            file,
          });
        } else {
          if (masked[after] !== '=') continue;
          // A type alias runs to the `;` that closes it at the top level.
          const rest = text.slice(after + 1);
          const end = splitTopLevel(rest, ';')[0] ?? '';
          found.push({ kind: 'type', heads: splitTopLevel(end, '&'), body: '', file });
        }
      }
    }
    if (found.length > 1) throw new Error(`${name} is declared in ${found.map((f) => f.file).join(' and ')}`);
    return found[0];
  }

  has(name: string): boolean {
    return this.#declaration(name) !== undefined;
  }

  /** What an interface extends, or the parts of a type alias's intersection, as written. */
  heads(name: string): string[] {
    return this.#declaration(name)?.heads ?? [];
  }

  /** An interface's own members, without what it inherits. */
  ownMembers(name: string): OptionDoc[] | undefined {
    const d = this.#declaration(name);
    if (!d) return undefined;
    if (d.kind === 'type') return this.members(name);
    const inherited = new Map(d.heads.flatMap((h) => this.expression(h) ?? []).map((o) => [o.name, o]));
    return parseMembers(d.body).map((o) => {
      const prev = inherited.get(o.name);
      return prev && !o.description && o.default === undefined
        ? { ...o, description: prev.description, default: prev.default }
        : o;
    });
  }

  /**
   * The members of a named type: an interface's own members first, then what
   * it inherits; a type alias's in the order written. Undefined when the type
   * is not declared in src/.
   */
  members(name: string): OptionDoc[] | undefined {
    const d = this.#declaration(name);
    if (!d) return undefined;
    const merged = new Map<string, OptionDoc>();
    const add = (list: OptionDoc[]) => {
      for (const o of list) {
        const prev = merged.get(o.name);
        // A redeclaration without TSDoc (a narrowed type, say) keeps the docs it had.
        merged.set(
          o.name,
          prev && !o.description && o.default === undefined
            ? { ...o, description: prev.description, default: prev.default }
            : o,
        );
      }
    };
    const inherited = d.heads.flatMap((head) => this.expression(head) ?? []);
    if (d.kind === 'type') {
      add(inherited);
      return [...merged.values()];
    }
    const own = parseMembers(d.body);
    const ownNames = new Set(own.map((o) => o.name));
    add(inherited.filter((o) => ownNames.has(o.name)));
    add(own);
    const first = [...merged.values()];
    return [...first, ...inherited.filter((o) => !ownNames.has(o.name))];
  }

  /** Members of a type expression, or undefined when it is not an object type this can read. */
  expression(expr: string): OptionDoc[] | undefined {
    const e = expr.trim();
    if (e.startsWith('{')) return parseMembers(braced(e, 0));
    const parts = splitTopLevel(e, '&');
    if (parts.length > 1) return parts.flatMap((p) => this.expression(p) ?? []);
    const generic = /^(Omit|Pick|Partial|Required|Readonly)<([\s\S]*)>$/.exec(e);
    if (generic) {
      const [target = '', keys = ''] = splitTopLevel(generic[2]!, ',');
      const inner = this.expression(target) ?? [];
      const names = new Set([...keys.matchAll(/'([^']+)'/g)].map((k) => k[1]!));
      if (generic[1] === 'Omit') return inner.filter((o) => !names.has(o.name));
      if (generic[1] === 'Pick') return inner.filter((o) => names.has(o.name));
      if (generic[1] === 'Partial') return inner.map((o) => ({ ...o, optional: true }));
      if (generic[1] === 'Required') return inner.map((o) => ({ ...o, optional: false }));
      return inner;
    }
    if (/^[A-Za-z_$][\w$]*$/.test(e)) return this.members(e);
    return undefined;
  }
}

function cell(text: string): string {
  return text.replace(/\s+/g, ' ').replace(/\|/g, '\\|').trim();
}

function defaultCell(o: OptionDoc): string {
  if (o.default !== undefined) {
    const d = o.default;
    return /^'[^']*'$/.test(d) ? `\`${d.slice(1, -1)}\`` : d;
  }
  return o.optional ? '-' : 'required';
}

/** Nested options worth their own rows: `backoff.initialDelayMs` under `backoff`. */
function nested(types: OptionTypes, o: OptionDoc): OptionDoc[] {
  const t = o.type.replace(/\s*\|\s*undefined$/, '');
  const m = /^(Partial<)?([A-Za-z_$][\w$]*(?:Options|Thresholds))>?$/.exec(t);
  const members = m && types.has(m[2]!) ? (types.members(m[2]!) ?? []) : [];
  return members.filter((n) => !n.internal).map((n) => (m?.[1] ? { ...n, optional: true } : n));
}

/**
 * A markdown table of a named options type: every member not marked
 * `@internal`, its default (`@default`, else required or `-`) and its TSDoc.
 * Members typed as another local `*Options`/`*Thresholds` type get a row per
 * nested member too. `omit` drops members a wrapper fills in itself;
 * `inherited: false` leaves out what an interface extends (documented once
 * in its own table).
 */
export function optionsTable(
  types: OptionTypes,
  typeName: string,
  { omit = [], inherited = true }: { omit?: string[]; inherited?: boolean } = {},
): string {
  const members = inherited ? types.members(typeName) : types.ownMembers(typeName);
  if (!members) throw new Error(`no interface or type named ${typeName} under src/`);
  const rows: string[] = [];
  const row = (name: string, o: OptionDoc) => {
    const meaning = o.description || `\`${o.type}\``;
    rows.push(`| \`${name}\` | ${cell(defaultCell(o))} | ${cell(meaning)} |`);
  };
  for (const o of members) {
    if (o.internal || omit.includes(o.name)) continue;
    row(o.name, o);
    for (const n of nested(types, o)) row(`${o.name}.${n.name}`, n);
  }
  return ['| option | default | meaning |', '|---|---|---|', ...rows].join('\n');
}
