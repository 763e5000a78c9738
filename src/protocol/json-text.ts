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
 * Remove this file and json-strict.ts, and call JSON.parse in codec.ts
 * again, once the oldest Node the package supports (`engines`) ships a V8
 * with the fix.
 */
import { BACKSLASH, COLON, CR, LF, parseJsonStrict, QUOTE, SPACE, TAB } from './json-strict.js';

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
