/**
 * Option checks shared by the hub and the worker. Each failure is a
 * TypeError that names the option, what was expected and what was given.
 */
export function describe(value: unknown): string {
  if (typeof value === 'string')
    return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value);
  if (value === null) return 'null';
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (typeof value === 'object') return 'an object';
  return `${typeof value} ${String(value)}`;
}

function fail(name: string, expected: string, value: unknown): never {
  throw new TypeError(`Expected \`${name}\` to be ${expected}, got ${describe(value)}`);
}

export function intOption(
  name: string,
  value: unknown,
  fallback: number,
  { min = 0, max = Number.MAX_SAFE_INTEGER }: { min?: number; max?: number } = {},
): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    fail(
      name,
      `an integer from ${min} to ${max === Number.MAX_SAFE_INTEGER ? 'MAX_SAFE_INTEGER' : max}`,
      value,
    );
  }
  return value;
}

export function numberOption(name: string, value: unknown, fallback: number, min = 0): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min)
    fail(name, `a finite number ≥ ${min}`, value);
  return value;
}

export function stringOption(name: string, value: unknown, pattern?: RegExp, hint?: string): string {
  if (typeof value !== 'string' || value.length === 0) fail(name, 'a non-empty string', value);
  if (pattern && !pattern.test(value)) fail(name, hint ?? `a string matching ${pattern}`, value);
  return value;
}

export function oneOf<T extends string>(name: string, value: unknown, allowed: readonly T[], fallback: T): T {
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || !allowed.includes(value as T)) {
    fail(name, `one of ${allowed.map((a) => `'${a}'`).join(', ')}`, value);
  }
  return value as T;
}

export function functionOption<T>(name: string, value: unknown, fallback?: T): T {
  if (value === undefined && fallback !== undefined) return fallback;
  if (typeof value !== 'function') fail(name, 'a function', value);
  return value as T;
}

/**
 * Parses a URL option with one of `protocols`. A failure echoes the value with
 * anything that could be a credential cut out.
 */
function parseUrl(
  name: string,
  value: unknown,
  expected: string,
  protocols: readonly string[],
): { text: string; url: URL; shown: string } {
  if (typeof value !== 'string') fail(name, expected, value);
  const shown = redactUrl(value);
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    fail(name, expected, shown);
  }
  if (!protocols.includes(url.protocol)) fail(name, expected, shown);
  return { text: value, url, shown };
}

export function urlOption(name: string, value: unknown): string {
  const { text, url } = parseUrl(name, value, 'a ws:// or wss:// URL', ['ws:', 'wss:']);
  if (url.username || url.password)
    fail(name, 'a URL without credentials (pass the token separately)', '[redacted]');
  return text;
}

/** An HTTP endpoint with its credentials moved out of the URL into a header. */
export interface HttpEndpoint {
  /** The URL without `user:pass@`: safe to log. */
  url: string;
  /** `authorization: Basic …` when the URL carried credentials, else empty. */
  headers: Record<string, string>;
}

/**
 * An http(s) base URL such as Alertmanager's. `user:pass@` in it becomes a
 * Basic authorization header, because fetch refuses credentials in a URL and
 * Alertmanager's web config protects its API with Basic auth. Errors never
 * echo the credentials.
 */
export function httpEndpointOption(name: string, value: unknown): HttpEndpoint {
  const { url, shown } = parseUrl(name, value, 'an http(s) URL', ['http:', 'https:']);
  if (url.search || url.hash) fail(name, 'an http(s) base URL without a query or fragment', shown);
  const headers: Record<string, string> = {};
  if (url.username || url.password) {
    const user = decodeURIComponent(url.username);
    const pass = decodeURIComponent(url.password);
    headers.authorization = `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;
    url.username = '';
    url.password = '';
  }
  return { url: `${url.origin}${url.pathname.replace(/\/$/, '')}`, headers };
}

/** Cuts `user:pass@` and the query out of a URL-like string, even one that does not parse. */
function redactUrl(value: string): string {
  return value.replace(/\/\/[^/?#]*@/, '//[redacted]@').replace(/[?#].*$/, '');
}

/** A URL as it may appear in logs and telemetry: no credentials, no query. */
export function safeUrl(value: string): string {
  try {
    const url = new URL(value);
    return `${url.protocol}//${url.host}${url.pathname}`;
  } catch {
    return '[invalid url]';
  }
}

/**
 * Why `token` cannot be sent as `Authorization: Bearer <token>`, or undefined
 * when it can: only visible ASCII (0x21-0x7e) may be in it. Node refuses
 * control and non-Latin-1 characters in a header (ERR_INVALID_CHAR), Latin-1
 * bytes survive only if both sides agree on the encoding, and the hub reads
 * the token as one run of non-space characters, so whitespace would cut it.
 * The same rule as the worker's `token` option. The answer never quotes the
 * token.
 */
export function tokenProblem(token: string): string | undefined {
  if (token.length === 0) return 'is empty';
  if (/\s/.test(token)) return 'contains whitespace';
  for (const ch of token) {
    const code = ch.codePointAt(0)!;
    if (code < 0x20 || code === 0x7f) return 'contains a control character';
    if (code > 0x7e) return 'contains a character outside visible ASCII';
  }
  return undefined;
}

/**
 * A token option: a string that can travel in an HTTP header. The TypeError
 * names the option and the problem, never the value (a secret).
 */
export function tokenOption(name: string, value: unknown): string {
  if (typeof value !== 'string') fail(name, 'a non-empty string', value);
  const problem = tokenProblem(value);
  if (problem) {
    throw new TypeError(
      `Expected \`${name}\` to be a non-empty string of visible ASCII characters (it is sent in an HTTP header), got a string that ${problem}`,
    );
  }
  return value;
}

/**
 * Cuts a `#` comment off a line of a token file (the hub's and the worker's). A comment starts at the start of
 * the line or after whitespace; a `#` inside a token is part of it (cutting
 * there once let a worker holding only the prefix authenticate).
 */
export function stripComment(line: string): string {
  return line.replace(/(^|\s)#.*$/s, '$1');
}
