import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { decodeRecord, type JournalRecord } from '../../src/cli/journal.js';
import { freePort, type Proc, runCli, summary, tempDir, writeFile } from '../helpers/cli.js';
import { waitFor } from '../helpers/fleet.js';

const procs: Proc[] = [];
afterEach(() => {
  for (const p of procs.splice(0)) p.child.kill('SIGKILL');
});

function journalSeqs(file: string): number[] {
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {}
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => decodeRecord(line))
    .filter((r) => typeof r !== 'string' && r.kind === 'effect')
    .map((r) => (r as JournalRecord).seq);
}

describe('a hub killed with SIGKILL mid-stream', () => {
  it('loses nothing and delivers nothing twice across the restart (10,000 messages)', async () => {
    const dir = tempDir();
    const tokens = writeFile(dir, 'tokens', 'crash-test-token-1 w-crash\n');
    const token = writeFile(dir, 'token', 'crash-test-token-1\n');
    const journal = join(dir, 'journal');
    const port = await freePort();
    const hubArgs = [
      'hub',
      '--listen',
      `127.0.0.1:${port}`,
      '--tokens',
      tokens,
      '--journal',
      journal,
      '--metrics-listen',
      'off',
      '--heartbeat-interval',
      '200ms',
    ];
    const hub1 = runCli(hubArgs);
    procs.push(hub1);
    await hub1.waitFor('hub listening');
    const worker = runCli([
      'worker',
      '--hub',
      `ws://127.0.0.1:${port}`,
      '--id',
      'w-crash',
      '--token-file',
      token,
      '--rate',
      '4000',
      '--count',
      '10000',
      '--size',
      '64',
      '--metrics-listen',
      'off',
    ]);
    procs.push(worker);

    await waitFor(() => journalSeqs(journal).length >= 3000, 20_000, '3000 journaled messages');
    hub1.child.kill('SIGKILL');
    expect((await hub1.exited).signal).toBe('SIGKILL');
    const beforeRestart = journalSeqs(journal).length;
    expect(beforeRestart).toBeLessThan(10_000);

    const hub2 = runCli(hubArgs);
    procs.push(hub2);
    await hub2.waitFor('hub listening');
    const { code } = await worker.exited;
    expect(code).toBe(0);

    const seqs = journalSeqs(journal);
    expect(seqs).toHaveLength(10_000);
    expect(seqs).toEqual(Array.from({ length: 10_000 }, (_, i) => i + 1));
    const s = summary(worker);
    expect(s).toMatchObject({ sent: 10_000, acked: 10_000, unacked: 0 });
    expect(s.reconnects).toBeGreaterThanOrEqual(1);

    hub2.child.kill('SIGTERM');
    await hub2.exited;
    // The restarted hub dropped what the worker replayed but the journal already held.
    expect(summary(hub2)).toMatchObject({ processed: 10_000 - beforeRestart });
  }, 60_000);
});
