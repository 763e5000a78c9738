import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeRecord } from '../../../src/cli/journal.js';
import { freePort, hubArgs, type Proc, runCli, summary, tempDir, writeFile } from '../../helpers/cli.js';

/**
 * docs/guarantees.md, "hub restart with --journal": the hub is SIGKILLed
 * under traffic and restarted from the same journal; every message the
 * worker sent is in the journal exactly once. With overlapping handler calls
 * too (issue 7, item 23, and the journal's commit records).
 */
const TOKEN = 'journal-restart-token-1';
const COUNT = 1500;

async function startHub(port: number, tokens: string, journal: string, extra: string[]): Promise<Proc> {
  const hub = runCli([...hubArgs(`127.0.0.1:${port}`, tokens, '--journal', journal), ...extra]);
  await hub.waitFor('hub listening');
  return hub;
}

function seqsInJournal(file: string): number[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => decodeRecord(line))
    .filter((r) => typeof r !== 'string' && r.kind === 'effect')
    .map((r) => (r as { seq: number }).seq);
}

describe.each([
  ['handler calls in order', [] as string[]],
  ['overlapping handler calls', ['--queue-concurrency', '4', '--handler-delay', '2ms']],
])('a hub SIGKILLed under traffic and restarted from its --journal (%s)', (_, extra) => {
  it('records every message exactly once', async () => {
    const dir = tempDir();
    const tokens = writeFile(dir, 'tokens', `${TOKEN} w-j\n`);
    const journal = join(dir, 'journal');
    const token = writeFile(dir, 'token', `${TOKEN}\n`);
    const port = await freePort();
    let hub = await startHub(port, tokens, journal, extra);
    const worker = runCli([
      'worker',
      '--hub',
      `ws://127.0.0.1:${port}`,
      '--id',
      'w-j',
      '--token-file',
      token,
      '--metrics-listen',
      'off',
      '--rate',
      '1000',
      '--count',
      String(COUNT),
      '--backoff-initial',
      '50ms',
      '--backoff-max',
      '200ms',
    ]);
    try {
      // Kill the hub mid-stream, once a few hundred messages are in the journal.
      const deadline = performance.now() + 10_000;
      while (seqsInJournal(journal).length < 300) {
        if (performance.now() > deadline) throw new Error('no 300 journal records within 10 s');
        await new Promise((r) => setTimeout(r, 20));
      }
      hub.child.kill('SIGKILL');
      await hub.exited;
      hub = await startHub(port, tokens, journal, extra);

      const { code } = await worker.exited;
      expect(code, worker.stderr().slice(-2000)).toBe(0);
      expect(summary(worker)).toMatchObject({ sent: COUNT, acked: COUNT, unacked: 0 });
      const seqs = seqsInJournal(journal);
      expect(seqs.length).toBe(COUNT);
      expect(new Set(seqs).size).toBe(COUNT);
      expect(Math.max(...seqs)).toBe(COUNT);
    } finally {
      worker.child.kill('SIGKILL');
      hub.child.kill('SIGKILL');
      await Promise.all([worker.exited, hub.exited]);
    }
  });
});
