import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { HUB_SEMI_SPACE_MB, semiSpaceChosen } from '../../../src/cli/young-generation.js';
import { cliPerTest, hubArgs, tempDir, writeFile } from '../../helpers/cli.js';

/*
 * The CLI hub caps V8's young generation (src/cli/young-generation.ts): it
 * re-executes itself with --max-semi-space-size, keeping its pid, unless the
 * user chose a size.
 */

const cli = cliPerTest();

function tokens(): string {
  return writeFile(tempDir(), 'tokens', 'young-generation-token-0123456789\n');
}

function cmdline(pid: number): string[] {
  return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
}

describe.skipIf(process.platform !== 'linux' || typeof process.execve !== 'function')(
  'CLI hub: young generation',
  () => {
    it('the hub runs with its young generation capped, in the process that was started (same pid)', async () => {
      const hub = cli(hubArgs('127.0.0.1:0', tokens()));
      await hub.waitFor('hub listening');
      const args = cmdline(hub.child.pid!);
      expect(args).toContain(`--max-semi-space-size=${HUB_SEMI_SPACE_MB}`);
      expect(args.filter((a) => a.startsWith('--max-semi-space-size'))).toHaveLength(1);
    });

    it('keeps a size the user chose in NODE_OPTIONS', async () => {
      const hub = cli(hubArgs('127.0.0.1:0', tokens()), { NODE_OPTIONS: '--max-semi-space-size=4' });
      await hub.waitFor('hub listening');
      expect(cmdline(hub.child.pid!).some((a) => a.startsWith('--max-semi-space-size'))).toBe(false);
    });
  },
);

describe('semiSpaceChosen', () => {
  it('finds the flag on node’s command line or in NODE_OPTIONS, and nowhere else', () => {
    expect(semiSpaceChosen(['--max-semi-space-size=8'], undefined)).toBe(true);
    expect(semiSpaceChosen([], '--inspect --max-semi-space-size=2')).toBe(true);
    expect(semiSpaceChosen(['--cpu-prof'], '--max-old-space-size=4096')).toBe(false);
    expect(semiSpaceChosen([], undefined)).toBe(false);
  });
});
