/**
 * JSON text read as JSON.parse reads it, minus a V8 bug.
 *
 * V8 13.6 (Node 24.x) and the V8 in Node 26 can decode an object key written
 * with an escape (`"\n"`, `"\""`, `"\u0061"`, `"x\n"`) as the key of a map
 * transition an earlier parse created, when the raw source matches it: after
 * `JSON.parse('{"h":[],"\\\\":0}')` (a key that is one backslash),
 * `JSON.parse('{"h":1,"\\n":2}')` has the key "\\", not "\n". A reviver sees
 * the wrong key too. On the wire that is a worker's payload key reaching the
 * app changed, silently. https://github.com/nodejs/node/issues/63785, V8
 * issue 521080746 (https://issues.chromium.org/issues/521080746).
 *
 * Only a key written with an escape is misread, and the wrong key is always
 * an existing transition key holding a literal backslash where the source had
 * its escape: a key decoded wrongly always contains a backslash. So
 * `parseJsonText` calls JSON.parse, then:
 * - a text without a backslash cannot hit the bug: one indexOf per frame, the
 *   only cost on the common path;
 * - a text with one has each string holding a backslash scanned to its end,
 *   to see whether it is a key (a colon follows). Escapes in values only (a
 *   quote or newline in a message) stop there: about 0.1 µs for a 16 KiB frame;
 * - a text with an escaped key has the keys of its parsed objects walked
 *   (12 µs for a 16 KiB frame);
 * - only when a parsed key holds a backslash is the text parsed again, by
 *   `parseJsonStrict`, which decodes every key itself, so no cached key can
 *   stand in for one. A key that really holds a backslash (source `"\\"`)
 *   pays that second parse too, about twice JSON.parse's time.
 *
 * The strict parser exists only for this fallback, so the file stays whole
 * past 300 lines: both go together. Remove the file, and call JSON.parse in
 * codec.ts again, once the oldest Node the package supports (`engines`) ships
 * a V8 with the fix.
 */

/** What `JSON.parse(text)` returns, with keys the V8 bug above got wrong read again. */
export function parseJsonText(text: string): unknown {
  const value: unknown = JSON.parse(text);
  const first = text.indexOf('\\');
  if (first === -1 || !hasEscapedKey(text, first) || !hasBackslashKey(value)) return value;
  return parseJsonStrict(text);
}

/**
 * Whether a key in `text`, which JSON.parse accepted, is written with an
 * escape. Every backslash of valid JSON is in a string, and a string is a key
 * when a colon follows it. `first` is the first backslash; each string
 * holding one is scanned from there to its closing quote.
 */
function hasEscapedKey(text: string, first: number): boolean {
  for (let at = first; at !== -1; at = text.indexOf('\\', at)) {
    // `at` is the first escape of its string (the search resumes past the string before).
    let c = text.charCodeAt(at);
    while (c !== QUOTE && at < text.length) {
      at += c === BACKSLASH ? 2 : 1;
      c = text.charCodeAt(at);
    }
    do c = text.charCodeAt(++at);
    while (c === SPACE || c === LF || c === CR || c === TAB);
    if (c === COLON) return true;
  }
  return false;
}

/**
 * Whether an object anywhere in `root` has a key holding a backslash. Walks
 * with its own stack, not recursion: a parsed value nests as deep as its text.
 * A key enumerable on a polluted Object.prototype may also count; that only
 * costs a needless second parse.
 */
function hasBackslashKey(root: unknown): boolean {
  if (typeof root !== 'object' || root === null) return false;
  const pending: object[] = [root];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    if (Array.isArray(next)) {
      for (let i = 0; i < next.length; i++) {
        const c: unknown = next[i];
        if (typeof c === 'object' && c !== null) pending.push(c);
      }
      continue;
    }
    const o = next as Record<string, unknown>;
    for (const k in o) {
      if (k.indexOf('\\') !== -1) return true;
      const c = o[k];
      if (typeof c === 'object' && c !== null) pending.push(c);
    }
  }
  return false;
}

/** An array or object whose closing bracket the strict parser has not reached yet. */
type OpenContainer =
  | { kind: 'array'; array: unknown[] }
  | { kind: 'object'; object: Record<string, unknown>; key: string };

/**
 * An RFC 8259 parser giving what a correct JSON.parse gives: the same values,
 * -0 and 1e400 (Infinity) included, lone surrogates kept, the last of
 * duplicate keys winning in the first one's place, `__proto__` an own data
 * property. It throws a SyntaxError where JSON.parse does. It keeps open
 * containers on its own stack, so any depth parses without recursion.
 *
 * The fallback of `parseJsonText`; exported for its tests.
 */
export function parseJsonStrict(text: string): unknown {
  const r = new StrictReader(text);
  const open: OpenContainer[] = [];
  for (;;) {
    let value: unknown;
    r.skipSpace();
    const c = r.peek();
    if (c === OPEN_BRACE) {
      r.advance();
      r.skipSpace();
      if (r.peek() === CLOSE_BRACE) {
        r.advance();
        value = {};
      } else {
        open.push({ kind: 'object', object: {}, key: r.key() });
        continue;
      }
    } else if (c === OPEN_BRACKET) {
      r.advance();
      r.skipSpace();
      if (r.peek() === CLOSE_BRACKET) {
        r.advance();
        value = [];
      } else {
        open.push({ kind: 'array', array: [] });
        continue;
      }
    } else {
      value = r.scalar();
    }
    // A complete value goes into the innermost open container, which may close in turn.
    for (;;) {
      const top = open.at(-1);
      r.skipSpace();
      if (top === undefined) {
        if (!r.done()) throw r.unexpected();
        return value;
      }
      const next = r.peek();
      if (top.kind === 'array') {
        top.array.push(value);
        if (next === COMMA) {
          r.advance();
          break;
        }
        if (next !== CLOSE_BRACKET) throw r.unexpected();
        value = top.array;
      } else {
        defineKey(top.object, top.key, value);
        if (next === COMMA) {
          r.advance();
          r.skipSpace();
          top.key = r.key();
          break;
        }
        if (next !== CLOSE_BRACE) throw r.unexpected();
        value = top.object;
      }
      r.advance();
      open.pop();
    }
  }
}

/**
 * Sets an own data property, as JSON.parse does. Assignment does that for a
 * key Object.prototype lacks, and costs less: the reparse of a 16 KiB frame
 * took 306 µs with defineProperty for every key, 146 µs this way.
 * A key Object.prototype holds gets defineProperty: assignment would call the
 * `__proto__` setter (or one a polluted prototype added), or throw on a
 * read-only key (every one under --frozen-intrinsics).
 */
function defineKey(o: Record<string, unknown>, key: string, value: unknown): void {
  if (key in Object.prototype) {
    Object.defineProperty(o, key, { value, writable: true, enumerable: true, configurable: true });
  } else {
    o[key] = value;
  }
}

const TAB = 0x09;
const LF = 0x0a;
const CR = 0x0d;
const SPACE = 0x20;
const QUOTE = 0x22;
const PLUS = 0x2b;
const COMMA = 0x2c;
const MINUS = 0x2d;
const DOT = 0x2e;
const ZERO = 0x30;
const NINE = 0x39;
const COLON = 0x3a;
const UPPER_E = 0x45;
const OPEN_BRACKET = 0x5b;
const BACKSLASH = 0x5c;
const CLOSE_BRACKET = 0x5d;
const LOWER_E = 0x65;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;

/** What a single-character escape stands for, by the character after its backslash (`u` is not one). */
function escaped(c: string | undefined): string | undefined {
  switch (c) {
    case '"':
    case '\\':
    case '/':
      return c;
    case 'b':
      return '\b';
    case 'f':
      return '\f';
    case 'n':
      return '\n';
    case 'r':
      return '\r';
    case 't':
      return '\t';
    default:
      return undefined;
  }
}

function isDigit(c: number): boolean {
  return c >= ZERO && c <= NINE;
}

/** A hex digit's value, or -1 (NaN, past the end, is not one either). */
function hexValue(c: number): number {
  if (c >= ZERO && c <= NINE) return c - ZERO;
  const lower = c | 0x20;
  return lower >= 0x61 && lower <= 0x66 ? lower - 0x61 + 10 : -1;
}

/** A cursor over the text: the tokens of the strict parser. */
class StrictReader {
  readonly #text: string;
  /** Index of the next character to read; `#text.length` at the end. */
  #at = 0;

  constructor(text: string) {
    this.#text = text;
  }

  /** The next character's code, NaN at the end. */
  peek(): number {
    return this.#text.charCodeAt(this.#at);
  }

  advance(): void {
    this.#at++;
  }

  done(): boolean {
    return this.#at >= this.#text.length;
  }

  skipSpace(): void {
    for (;;) {
      const c = this.#text.charCodeAt(this.#at);
      if (c !== SPACE && c !== LF && c !== CR && c !== TAB) return;
      this.#at++;
    }
  }

  /** An object key and its colon, the reader standing on the key's opening quote. */
  key(): string {
    if (this.peek() !== QUOTE) throw this.unexpected();
    const key = this.#string();
    this.skipSpace();
    if (this.peek() !== COLON) throw this.unexpected();
    this.#at++;
    return key;
  }

  /** A string, number, true, false or null. */
  scalar(): string | number | boolean | null {
    const c = this.peek();
    if (c === QUOTE) return this.#string();
    if (c === MINUS || isDigit(c)) return this.#number();
    if (this.#text.startsWith('true', this.#at)) {
      this.#at += 4;
      return true;
    }
    if (this.#text.startsWith('false', this.#at)) {
      this.#at += 5;
      return false;
    }
    if (this.#text.startsWith('null', this.#at)) {
      this.#at += 4;
      return null;
    }
    throw this.unexpected();
  }

  /** Never quotes the text: it came from a peer. */
  unexpected(at = this.#at): SyntaxError {
    return at >= this.#text.length
      ? new SyntaxError('Unexpected end of JSON input')
      : new SyntaxError(`Unexpected character in JSON at position ${at}`);
  }

  #string(): string {
    const text = this.#text;
    let at = this.#at + 1;
    let start = at;
    let out = '';
    for (;;) {
      const c = text.charCodeAt(at);
      if (c === QUOTE) break;
      if (c === BACKSLASH) {
        out += text.slice(start, at);
        const e = text[at + 1];
        const plain = escaped(e);
        if (plain !== undefined) {
          out += plain;
          at += 2;
        } else if (e === 'u') {
          let unit = 0;
          for (let i = at + 2; i < at + 6; i++) {
            const v = hexValue(text.charCodeAt(i));
            if (v === -1) throw this.unexpected(i);
            unit = unit * 16 + v;
          }
          out += String.fromCharCode(unit);
          at += 6;
        } else {
          throw this.unexpected(at + 1);
        }
        start = at;
      } else if (c < SPACE || Number.isNaN(c)) {
        // A raw control character, or the end of the text before the closing quote.
        throw this.unexpected(at);
      } else {
        at++;
      }
    }
    this.#at = at + 1;
    return out + text.slice(start, at);
  }

  /** `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`, converted with Number() as JSON.parse does. */
  #number(): number {
    const text = this.#text;
    const start = this.#at;
    let at = start;
    if (text.charCodeAt(at) === MINUS) at++;
    if (text.charCodeAt(at) === ZERO) at++;
    else at = this.#digits(at);
    if (text.charCodeAt(at) === DOT) at = this.#digits(at + 1);
    const e = text.charCodeAt(at);
    if (e === LOWER_E || e === UPPER_E) {
      at++;
      const sign = text.charCodeAt(at);
      if (sign === PLUS || sign === MINUS) at++;
      at = this.#digits(at);
    }
    this.#at = at;
    return Number(text.slice(start, at));
  }

  /** The end of a run of one or more digits starting at `at`. */
  #digits(at: number): number {
    if (!isDigit(this.#text.charCodeAt(at))) throw this.unexpected(at);
    let end = at + 1;
    while (isDigit(this.#text.charCodeAt(end))) end++;
    return end;
  }
}
