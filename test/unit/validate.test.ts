import { expect, it, describe as suite } from 'vitest';
import {
  describe,
  functionOption,
  httpEndpointOption,
  intOption,
  numberOption,
  oneOf,
  safeUrl,
  stringOption,
  stripComment,
  tokenOption,
  tokenProblem,
  urlOption,
} from '../../src/validate.js';

/** Runs `fn` and returns the TypeError it threw; fails on anything else. */
function typeError(fn: () => unknown): TypeError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(TypeError);
    return err as TypeError;
  }
  throw new Error('expected a TypeError, but the call returned');
}

suite('describe', () => {
  it.each<[unknown, string]>([
    ['abc', '"abc"'],
    ['', '""'],
    ['x'.repeat(40), `"${'x'.repeat(40)}"`],
    ['x'.repeat(41), `"${'x'.repeat(40)}..."`],
    [null, 'null'],
    [[1, 2, 3], 'an array of 3'],
    [{ a: 1 }, 'an object'],
    [42, 'number 42'],
    [Number.NaN, 'number NaN'],
    [true, 'boolean true'],
    [10n, 'bigint 10'],
  ])('describes %s as %s', (value, expected) => {
    expect(describe(value)).toBe(expected);
  });
});

suite('intOption', () => {
  it('returns the fallback for undefined and the value when valid', () => {
    expect(intOption('retries', undefined, 5)).toBe(5);
    expect(intOption('retries', 0, 5)).toBe(0);
    expect(intOption('port', 65_535, 0, { min: 1, max: 65_535 })).toBe(65_535);
    expect(intOption('port', 1, 0, { min: 1, max: 65_535 })).toBe(1);
  });

  it.each<[unknown, string]>([
    ['3', '"3"'],
    [1.5, 'number 1.5'],
    [-1, 'number -1'],
    [Number.NaN, 'number NaN'],
    [Number.POSITIVE_INFINITY, 'number Infinity'],
    [null, 'null'],
  ])('rejects %j, naming the option, the range and the value', (value, shown) => {
    const err = typeError(() => intOption('retries', value, 5));
    expect(err.message).toBe(
      `Expected \`retries\` to be an integer from 0 to MAX_SAFE_INTEGER, got ${shown}`,
    );
  });

  it('names custom bounds, and checks both ends', () => {
    expect(typeError(() => intOption('port', 0, 80, { min: 1, max: 65_535 })).message).toBe(
      'Expected `port` to be an integer from 1 to 65535, got number 0',
    );
    expect(typeError(() => intOption('port', 65_536, 80, { min: 1, max: 65_535 })).message).toBe(
      'Expected `port` to be an integer from 1 to 65535, got number 65536',
    );
  });
});

suite('numberOption', () => {
  it('returns the fallback for undefined and accepts finite numbers at or above min', () => {
    expect(numberOption('ratio', undefined, 0.5)).toBe(0.5);
    expect(numberOption('ratio', 0, 0.5)).toBe(0);
    expect(numberOption('ratio', 2.25, 0.5, 2)).toBe(2.25);
  });

  it.each<[unknown, string]>([
    [Number.NaN, 'number NaN'],
    [Number.POSITIVE_INFINITY, 'number Infinity'],
    [-0.1, 'number -0.1'],
    ['1', '"1"'],
    [[], 'an array of 0'],
  ])('rejects %j', (value, shown) => {
    expect(typeError(() => numberOption('ratio', value, 1)).message).toBe(
      `Expected \`ratio\` to be a finite number ≥ 0, got ${shown}`,
    );
  });

  it('names a custom minimum', () => {
    expect(typeError(() => numberOption('ratio', 1, 1, 1.5)).message).toBe(
      'Expected `ratio` to be a finite number ≥ 1.5, got number 1',
    );
  });
});

suite('stringOption', () => {
  it('returns a non-empty string that matches the pattern', () => {
    expect(stringOption('workerId', 'w-1')).toBe('w-1');
    expect(stringOption('workerId', 'w-1', /^[a-z0-9-]+$/)).toBe('w-1');
  });

  it('rejects empty strings and non-strings', () => {
    expect(typeError(() => stringOption('workerId', '')).message).toBe(
      'Expected `workerId` to be a non-empty string, got ""',
    );
    expect(typeError(() => stringOption('workerId', 7)).message).toBe(
      'Expected `workerId` to be a non-empty string, got number 7',
    );
    expect(typeError(() => stringOption('workerId', undefined)).message).toMatch(
      /^Expected `workerId` to be a non-empty string, got undefined/,
    );
  });

  it('names the pattern, or the hint when one is given', () => {
    expect(typeError(() => stringOption('workerId', 'a b', /^\S+$/)).message).toBe(
      'Expected `workerId` to be a string matching /^\\S+$/, got "a b"',
    );
    expect(typeError(() => stringOption('workerId', 'a b', /^\S+$/, 'a label without spaces')).message).toBe(
      'Expected `workerId` to be a label without spaces, got "a b"',
    );
  });
});

suite('oneOf', () => {
  const policies = ['block', 'drop-oldest', 'reject'] as const;

  it('returns the fallback for undefined and an allowed value as is', () => {
    expect(oneOf('policy', undefined, policies, 'block')).toBe('block');
    expect(oneOf('policy', 'reject', policies, 'block')).toBe('reject');
  });

  it.each<[unknown, string]>([
    ['drop', '"drop"'],
    ['BLOCK', '"BLOCK"'],
    [1, 'number 1'],
    [null, 'null'],
  ])('rejects %j, listing the allowed values', (value, shown) => {
    expect(typeError(() => oneOf('policy', value, policies, 'block')).message).toBe(
      `Expected \`policy\` to be one of 'block', 'drop-oldest', 'reject', got ${shown}`,
    );
  });
});

suite('functionOption', () => {
  it('returns the function, or the fallback for undefined', () => {
    const fn = () => 1;
    const fallback = () => 2;
    expect(functionOption('handler', fn)).toBe(fn);
    expect(functionOption('handler', undefined, fallback)).toBe(fallback);
    expect(functionOption('handler', fn, fallback)).toBe(fn);
  });

  it('rejects a missing function without a fallback, and non-functions', () => {
    expect(typeError(() => functionOption('handler', undefined)).message).toMatch(
      /^Expected `handler` to be a function, got undefined/,
    );
    expect(typeError(() => functionOption('handler', 'run', () => 0)).message).toBe(
      'Expected `handler` to be a function, got "run"',
    );
    expect(typeError(() => functionOption('handler', { call: 1 })).message).toBe(
      'Expected `handler` to be a function, got an object',
    );
  });
});

suite('urlOption', () => {
  it('accepts ws:// and wss:// URLs and returns them unchanged', () => {
    expect(urlOption('hubUrl', 'ws://127.0.0.1:8080/link')).toBe('ws://127.0.0.1:8080/link');
    expect(urlOption('hubUrl', 'wss://hub.example.com/link?x=1')).toBe('wss://hub.example.com/link?x=1');
  });

  it.each<[unknown, string]>([
    ['http://hub.example.com', '"http://hub.example.com"'],
    ['not a url', '"not a url"'],
    ['', '""'],
    [8080, 'number 8080'],
  ])('rejects %j as not a ws:// or wss:// URL', (value, shown) => {
    expect(typeError(() => urlOption('hubUrl', value)).message).toBe(
      `Expected \`hubUrl\` to be a ws:// or wss:// URL, got ${shown}`,
    );
  });

  it('rejects a missing URL', () => {
    expect(typeError(() => urlOption('hubUrl', undefined)).message).toMatch(
      /^Expected `hubUrl` to be a ws:\/\/ or wss:\/\/ URL, got undefined/,
    );
  });

  it('rejects credentials in a ws URL without echoing them', () => {
    for (const url of ['ws://alice:s3cret@hub:8080/', 'wss://s3cret@hub/', 'ws://:s3cret@hub/']) {
      const err = typeError(() => urlOption('hubUrl', url));
      expect(err.message).toBe(
        'Expected `hubUrl` to be a URL without credentials (pass the token separately), got "[redacted]"',
      );
      expect(err.message).not.toContain('s3cret');
    }
  });

  // Regression: the scheme check and the parse failure once echoed the raw URL, password included.
  it('never echoes the password of a non-ws or unparsable URL', () => {
    for (const url of ['https://alice:s3cret@hub/', 'ws://alice:s3cret@', 'http://hub/?token=s3cret']) {
      const err = typeError(() => urlOption('hubUrl', url));
      expect(err.message).not.toContain('s3cret');
    }
  });
});

suite('safeUrl', () => {
  it.each([
    ['wss://alice:s3cret@hub.example.com:8443/link?token=abc#frag', 'wss://hub.example.com:8443/link'],
    ['ws://127.0.0.1:9000/a/b?x=1', 'ws://127.0.0.1:9000/a/b'],
    ['ws://hub', 'ws://hub/'],
    ['ws://[::1]:9000/x', 'ws://[::1]:9000/x'],
    ['http://u@h/p?q', 'http://h/p'],
  ])('turns %s into %s', (input, expected) => {
    expect(safeUrl(input)).toBe(expected);
  });

  it('never returns anything from an invalid URL', () => {
    expect(safeUrl('not a url with s3cret')).toBe('[invalid url]');
    expect(safeUrl('')).toBe('[invalid url]');
  });
});

suite('httpEndpointOption', () => {
  it('returns the base URL without a trailing slash and no headers when there are no credentials', () => {
    expect(httpEndpointOption('am', 'http://127.0.0.1:9093/')).toEqual({
      url: 'http://127.0.0.1:9093',
      headers: {},
    });
    expect(httpEndpointOption('am', 'https://am.example.com/prefix/').url).toBe(
      'https://am.example.com/prefix',
    );
  });

  it('moves user:pass@ into a Basic authorization header and out of the URL', () => {
    const e = httpEndpointOption('am', 'http://alice:s3cr%40t@127.0.0.1:9093');
    expect(e.url).toBe('http://127.0.0.1:9093');
    expect(e.headers).toEqual({ authorization: `Basic ${Buffer.from('alice:s3cr@t').toString('base64')}` });
  });

  it.each<[unknown, string]>([
    ['ws://127.0.0.1:9093', 'an http(s) URL, got "ws://127.0.0.1:9093"'],
    ['127.0.0.1:9093', 'an http(s) URL, got "127.0.0.1:9093"'],
    [9093, 'an http(s) URL, got number 9093'],
    ['http://h:9093/?x=1', 'an http(s) base URL without a query or fragment, got "http://h:9093/"'],
  ])('rejects %j', (value, expected) => {
    expect(typeError(() => httpEndpointOption('am', value)).message).toBe(
      `Expected \`am\` to be ${expected}`,
    );
  });

  it('never echoes the password of a URL it rejects', () => {
    for (const url of ['ftp://alice:s3cret@h/', 'http://alice:s3cret@h/?q', 'http://alice:s3cret@[bad']) {
      expect(typeError(() => httpEndpointOption('am', url)).message).not.toContain('s3cret');
    }
  });
});

suite('tokenOption: a token that can be sent in an HTTP header', () => {
  it('accepts visible ASCII, a # included', () => {
    expect(tokenOption('token', 'abc#def-123_~+/=!')).toBe('abc#def-123_~+/=!');
  });

  // Regression (issue 7, item 5): such a token made every dial throw ERR_INVALID_CHAR.
  it.each([
    ['secret\u0000nul', 'contains a control character'],
    ['secret\u007fdel', 'contains a control character'],
    ['secret\nline', 'contains whitespace'],
    ['secret two', 'contains whitespace'],
    ['secret\u2603snow', 'contains a character outside visible ASCII'],
    ['secret\u00e9latin1', 'contains a character outside visible ASCII'],
    ['secret\u{1f600}', 'contains a character outside visible ASCII'],
    ['', 'is empty'],
  ])('refuses %j with a TypeError naming `token` and the problem, never the value', (value, problem) => {
    const err = typeError(() => tokenOption('token', value));
    expect(err.message).toBe(
      `Expected \`token\` to be a non-empty string of visible ASCII characters (it is sent in an HTTP header), got a string that ${problem}`,
    );
    expect(err.message).not.toContain('secret');
    expect(tokenProblem(value)).toBe(problem);
  });

  it('refuses a non-string, describing only its type', () => {
    expect(typeError(() => tokenOption('token', 42)).message).toBe(
      'Expected `token` to be a non-empty string, got number 42',
    );
  });
});

suite('stripComment', () => {
  it.each([
    ['# whole line', ''],
    ['  # indented', '  '],
    ['tok#en', 'tok#en'],
    ['tok#en # note', 'tok#en '],
    ['tok\t#note', 'tok\t'],
    ['tok # note\r', 'tok '],
  ])('%j -> %j', (line, expected) => {
    expect(stripComment(line)).toBe(expected);
  });
});
