import { chmodSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { looseTokenFileMode, readTokenFile, UsageError } from '../../../src/cli/args.js';
import { tempDir, writeFile } from '../../helpers/cli.js';

function usageMessage(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    return (err as Error).message;
  }
  throw new Error('expected a UsageError');
}

describe("the worker's token file", () => {
  // Regression (issue 7, item 12): the token was cut at its first `#`.
  it('reads a token containing # whole', () => {
    const file = writeFile(tempDir(), 'token', '# my token\nsecret-prefix#rest\n');
    expect(readTokenFile('token-file', file)).toBe('secret-prefix#rest');
  });

  it('drops a comment after whitespace and a CRLF line end', () => {
    const file = writeFile(tempDir(), 'token', '\r\n  # comment\r\nsecret-token-1 # the capture box\r\n');
    expect(readTokenFile('token-file', file)).toBe('secret-token-1');
  });

  // Regression (issue 7, item 5): the worker logged `fatal ERR_INVALID_CHAR` and kept running.
  it.each([
    ['a control character', 'secret\u0001token', 'contains a control character'],
    ['a character outside visible ASCII', 'secret\u20actoken', 'contains a character outside visible ASCII'],
    ['whitespace inside', 'secret token', 'contains whitespace'],
  ])('a token with %s is a usage error naming the file and line, never the token', (_, token, problem) => {
    const file = writeFile(tempDir(), 'token', `# comment\n\n${token}\n`);
    const message = usageMessage(() => readTokenFile('token-file', file));
    expect(message).toBe(`--token-file: ${file}:3: the token ${problem}`);
    expect(message).not.toContain('secret');
  });

  it('ignores a byte-order mark an editor put at the start', () => {
    const file = writeFile(tempDir(), 'token', '\uFEFFsecret-token-1\n');
    expect(readTokenFile('token-file', file)).toBe('secret-token-1');
  });

  it('a file with only comments holds no token', () => {
    const file = writeFile(tempDir(), 'token', '# nothing\n\n');
    expect(usageMessage(() => readTokenFile('token-file', file))).toBe(
      `--token-file: ${file} holds no token`,
    );
  });
});

describe('token file permissions', () => {
  it.each([
    [0o644, '0644'],
    [0o640, '0640'],
    [0o604, '0604'],
    [0o660, '0660'],
  ])('mode %o is reported as %s (group or others may access it)', (mode, shown) => {
    const file = writeFile(tempDir(), 'token', 'secret-token-1\n');
    chmodSync(file, mode);
    expect(looseTokenFileMode(file)).toBe(shown);
  });

  it.each([0o600, 0o400])('mode %o, owner only, is fine', (mode) => {
    const file = writeFile(tempDir(), 'token', 'secret-token-1\n');
    chmodSync(file, mode);
    expect(looseTokenFileMode(file)).toBeUndefined();
  });
});
