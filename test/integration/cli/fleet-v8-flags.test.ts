import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  FLEET_V8_FLAGS,
  fleetFlagsToAdd,
  HUB_HEAP_GROWING_PERCENT,
  HUB_SEMI_SPACE_MB,
} from '../../../src/fleet-v8-flags.js';
import { cliPerTest, freePort, hubArgs, tempDir, writeFile } from '../../helpers/cli.js';

/*
 * The CLI hub and the load tool's children run with V8's garbage-collector
 * flags for many links (src/fleet-v8-flags.ts): the hub re-executes itself
 * with them, keeping its pid; the load tool forks its children with its share.
 * Either leaves out any the user set.
 */

const cli = cliPerTest();
const SEMI = `--max-semi-space-size=${HUB_SEMI_SPACE_MB}`;
const PRETENURING = '--no-allocation-site-pretenuring';
const GROWING = `--heap-growing-percent=${HUB_HEAP_GROWING_PERCENT}`;

function tokens(): string {
  return writeFile(tempDir(), 'tokens', 'fleet-v8-flags-token-0123456789\n');
}

function cmdline(pid: number): string[] {
  return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
}

describe.skipIf(process.platform !== 'linux' || typeof process.execve !== 'function')(
  'CLI: V8 flags for many links',
  () => {
    it('the hub runs with its young generation capped, without pretenuring and with a tighter heap, in the process that was started (same pid)', async () => {
      const hub = cli(hubArgs('127.0.0.1:0', tokens()));
      await hub.waitFor('hub listening');
      const args = cmdline(hub.child.pid!);
      expect(args).toEqual(expect.arrayContaining([SEMI, PRETENURING, GROWING]));
      expect(args.filter((a) => a.startsWith('--max-semi-space-size'))).toHaveLength(1);
    });

    it('keeps a size the user chose in NODE_OPTIONS, and still adds the rest', async () => {
      const hub = cli(hubArgs('127.0.0.1:0', tokens()), { NODE_OPTIONS: '--max-semi-space-size=4' });
      await hub.waitFor('hub listening');
      const args = cmdline(hub.child.pid!);
      expect(args.some((a) => a.startsWith('--max-semi-space-size'))).toBe(false);
      expect(args).toEqual(expect.arrayContaining([PRETENURING, GROWING]));
    });

    it("the load tool forks its children with the young-generation and pretenuring flags, not the hub's heap growth", async () => {
      const token = 'fleet-v8-flags-token-0123456789';
      const file = writeFile(tempDir(), 'tokens', `${token} load-0,load-1\n`);
      const port = await freePort();
      const hub = cli(hubArgs(`127.0.0.1:${port}`, file));
      await hub.waitFor('hub listening');
      const load = cli([
        'load',
        '--hub',
        `ws://127.0.0.1:${port}`,
        '--workers',
        '2',
        '--procs',
        '2',
        '--duration',
        '0',
        '--token-file',
        file,
        '--progress',
      ]);
      await load.waitFor('"type":"progress"', 15_000);
      const pid = load.child.pid!;
      const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
        .trim()
        .split(' ')
        .map(Number);
      expect(children).toHaveLength(2);
      for (const child of children) {
        const args = cmdline(child);
        expect(args).toEqual(expect.arrayContaining([SEMI, PRETENURING]));
        expect(args.some((a) => a.startsWith('--heap-growing-percent'))).toBe(false);
      }
    });
  },
);

describe('fleetFlagsToAdd', () => {
  it('adds every flag for the process that the user set nowhere', () => {
    expect(fleetFlagsToAdd('hub', [], undefined)).toEqual([SEMI, PRETENURING, GROWING]);
    expect(fleetFlagsToAdd('hub', ['--cpu-prof'], '--max-old-space-size=4096')).toEqual([
      SEMI,
      PRETENURING,
      GROWING,
    ]);
    expect(fleetFlagsToAdd('load', [], undefined)).toEqual([SEMI, PRETENURING]);
    expect(FLEET_V8_FLAGS.map((f) => f.arg)).toEqual([SEMI, PRETENURING, GROWING]);
  });

  it('leaves out a flag set on node’s command line or in NODE_OPTIONS, in either spelling or sense', () => {
    expect(fleetFlagsToAdd('hub', ['--max-semi-space-size=8'], undefined)).toEqual([PRETENURING, GROWING]);
    expect(fleetFlagsToAdd('load', [], '--inspect --max_semi_space_size=2')).toEqual([PRETENURING]);
    expect(fleetFlagsToAdd('hub', ['--allocation-site-pretenuring'], undefined)).toEqual([SEMI, GROWING]);
    expect(fleetFlagsToAdd('hub', ['--heap_growing_percent=20'], undefined)).toEqual([SEMI, PRETENURING]);
    expect(
      fleetFlagsToAdd(
        'hub',
        ['--no-allocation-site-pretenuring', '--max-semi-space-size=32', '--heap-growing-percent=100'],
        undefined,
      ),
    ).toEqual([]);
  });
});
