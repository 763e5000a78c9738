import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { parseTokenFile, TokenAuthenticator } from '../../../src/hub/auth.js';

function request(token: string | undefined, workerId?: string): IncomingMessage {
  return {
    headers: {
      ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
      ...(workerId === undefined ? {} : { 'x-linkwatch-worker-id': workerId }),
    },
  } as IncomingMessage;
}

const FILE = '/etc/linkwatch/tokens.txt';

describe('the hub token file', () => {
  // Regression (issue 7, item 12): `prefix#suffix` was cut at the `#`, and a worker presenting
  // only `prefix` authenticated.
  it('keeps a # inside a token: only the whole token authenticates, never its prefix', () => {
    const auth = new TokenAuthenticator(parseTokenFile('secret-prefix#rest-of-token w1\n', FILE));
    expect(auth.authenticate(request('secret-prefix', 'w1'))).toMatchObject({ ok: false, status: 401 });
    expect(auth.authenticate(request('secret-prefix#rest-of-token', 'w1'))).toMatchObject({
      ok: true,
      workerId: 'w1',
    });
  });

  it('takes a # at the start of a line or after whitespace as a comment', () => {
    const entries = parseTokenFile(
      '# fleet tokens\n  # indented comment\ntoken-one-abc w1 # bound to w1\ntoken-two#x\t#tab then comment\n',
      FILE,
    );
    expect(entries).toEqual([
      { token: 'token-one-abc', workerIds: ['w1'], name: `${FILE}:3` },
      { token: 'token-two#x', name: `${FILE}:4` },
    ]);
  });

  it('ignores a byte-order mark an editor put at the start', () => {
    expect(parseTokenFile('\uFEFFtoken-one-abc w1\n', FILE)).toEqual([
      { token: 'token-one-abc', workerIds: ['w1'], name: `${FILE}:1` },
    ]);
  });

  it('counts line numbers from the first line of the file, leading blank lines included', () => {
    expect(() => parseTokenFile('\n\nshort w1\n', FILE)).toThrow(
      `${FILE}:3: the token must be at least 8 chars`,
    );
  });

  // Issue 7, item 5: such a token can never be sent in a header, so it could never match.
  it.each([
    ['a control character', 'token-with-\u0001-inside', 'contains a control character'],
    [
      'a character outside visible ASCII',
      'token-with-\u2603-inside',
      'contains a character outside visible ASCII',
    ],
  ])('refuses a token with %s, naming the file and line, never the token', (_, token, problem) => {
    let message = '';
    try {
      parseTokenFile(`good-token-1234 w0\n${token} w1\n`, FILE);
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toBe(`${FILE}:2: the token ${problem}`);
    expect(message).not.toContain('inside');
  });

  it('refuses such a token in a JSON file too, naming the entry', () => {
    expect(() => parseTokenFile(JSON.stringify([{ token: 'json-token-\u0007-x' }]), FILE)).toThrow(
      `${FILE}: entry [0].token contains a control character`,
    );
  });

  it('TokenAuthenticator refuses such a token with a TypeError naming tokens[i].token, not the token', () => {
    expect(() => new TokenAuthenticator([{ token: 'lib-token-\n-x' }])).toThrow(
      new TypeError(
        'Expected `tokens[0].token` to be a string that can be sent in an HTTP header, got a string that contains whitespace',
      ),
    );
  });
});

describe('authentication results', () => {
  const auth = new TokenAuthenticator(parseTokenFile('bound-token-123 w1,w2\nfree-token-4567\n', FILE));

  // Regression (issue 7, item 19): the 403 body told the client the hub's token file path and line.
  it('a token claiming a worker id it may not: the public reason is generic, the detail names file and line', () => {
    const result = auth.authenticate(request('bound-token-123', 'w3'));
    expect(result).toEqual({
      ok: false,
      status: 403,
      errorType: 'LW_ERR_WORKER_ID_MISMATCH',
      reason: 'this token may not claim this worker id',
      detail: `token ${FILE}:1 may not claim worker id "w3"`,
    });
    if (!result.ok) {
      expect(result.reason).not.toContain(FILE);
      expect(result.reason).not.toContain('w3');
    }
  });

  it('no public reason names the token file', () => {
    const results = [
      auth.authenticate(request(undefined, 'w1')),
      auth.authenticate(request('unknown-token-99', 'w1')),
      auth.authenticate(request('free-token-4567')),
      auth.authenticate(request('bound-token-123', 'w9')),
    ];
    expect(results.map((r) => (r.ok ? 'ok' : [r.status, r.reason]))).toEqual([
      [401, 'missing bearer token'],
      [401, 'unknown token'],
      [401, 'missing x-linkwatch-worker-id header'],
      [403, 'this token may not claim this worker id'],
    ]);
    for (const r of results) if (!r.ok) expect(r.detail).not.toContain('bound-token-123');
  });

  it('a bound token claiming one of its ids, and a free token claiming any id, authenticate', () => {
    expect(auth.authenticate(request('bound-token-123', 'w2'))).toEqual({
      ok: true,
      workerId: 'w2',
      tokenName: `${FILE}:1`,
    });
    expect(auth.authenticate(request('free-token-4567', 'anything'))).toMatchObject({ ok: true });
  });
});
