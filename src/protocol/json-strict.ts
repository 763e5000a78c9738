/**
 * A strict RFC 8259 JSON parser in plain code: the fallback of
 * `parseJsonText` (json-text.ts) for a text V8's JSON.parse may have read
 * wrongly. It decodes every key itself, so no key V8 cached can stand in for
 * one. Slower than JSON.parse (about 2.5 times at 16 KiB); it runs only
 * when a parsed key holds a backslash. It goes with json-text.ts.
 */

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

export const TAB = 0x09;
export const LF = 0x0a;
export const CR = 0x0d;
export const SPACE = 0x20;
export const QUOTE = 0x22;
const PLUS = 0x2b;
const COMMA = 0x2c;
const MINUS = 0x2d;
const DOT = 0x2e;
const ZERO = 0x30;
const NINE = 0x39;
export const COLON = 0x3a;
const UPPER_E = 0x45;
const OPEN_BRACKET = 0x5b;
export const BACKSLASH = 0x5c;
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
