import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { freePort, hubArgs, type Proc, runCli, summary, tempDir, writeFile } from '../../helpers/cli.js';

/**
 * Issue 7, item 10, reproduced over real sockets: a peer holding only worker
 * A's token says hello with a stream id that carries a newline and a forged
 * journal line for worker B. After a hub restart from the same --journal,
 * B's messages must still be processed.
 */
const procs: Proc[] = [];
afterEach(async () => {
  for (const p of procs.splice(0)) {
    if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
    await p.exited;
  }
});

const TOKEN_A = 'journal-token-aaaa';
const TOKEN_B = 'journal-token-bbbb';

/** A raw peer: hello, `count` data frames, then waits for the hub's ack of the last one. */
async function rawWorker(port: number, token: string, workerId: string, stream: string, count: number) {
  const ws = new WebSocket(`ws://127.0.0.1:${port}`, {
    headers: { authorization: `Bearer ${token}`, 'x-linkwatch-worker-id': workerId },
  });
  const acked = new Promise<void>((resolve, reject) => {
    const deadline = setTimeout(() => reject(new Error(`no ack of seq ${count} for ${workerId}`)), 10_000);
    ws.on('message', (raw: Buffer) => {
      const frame = JSON.parse(raw.toString()) as { t: string; seq?: number };
      if (frame.t === 'welcome') {
        for (let seq = 1; seq <= count; seq++) ws.send(JSON.stringify({ v: 1, t: 'data', seq, p: { seq } }));
      }
      if (frame.t === 'ack' && (frame.seq ?? 0) >= count) {
        clearTimeout(deadline);
        resolve();
      }
    });
    ws.on('close', (code, reason) => {
      clearTimeout(deadline);
      reject(new Error(`closed ${code} ${reason.toString()}`));
    });
    ws.on('error', reject);
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  ws.send(JSON.stringify({ v: 1, t: 'hello', workerId, stream, peerStream: '', processed: 0, window: 100 }));
  try {
    await acked;
  } finally {
    ws.removeAllListeners('close');
    ws.terminate();
  }
}

async function startHub(tokens: string, journal: string, port: number): Promise<Proc> {
  const hub = runCli([...hubArgs(`127.0.0.1:${port}`, tokens, '--journal', journal)]);
  procs.push(hub);
  await hub.waitFor('hub listening');
  return hub;
}

describe('--journal under a forged stream id', () => {
  it("a peer holding only worker A's token cannot checkpoint worker B: after a restart B's messages are processed", async () => {
    const dir = tempDir();
    const tokens = writeFile(dir, 'tokens', `${TOKEN_A} w-a\n${TOKEN_B} w-b\n`);
    const journal = join(dir, 'journal');
    const port = await freePort();

    const first = await startHub(tokens, journal, port);
    // Whatever the hub does with such a hello (process it, or refuse it), B's state must not move.
    await rawWorker(port, TOKEN_A, 'w-a', 'stream-a\nw-b stream-b 1000000', 1).catch(() => {});
    first.child.kill('SIGTERM');
    expect((await first.exited).code).toBe(0);

    const second = await startHub(tokens, journal, port);
    await rawWorker(port, TOKEN_B, 'w-b', 'stream-b', 3);
    second.child.kill('SIGTERM');
    expect((await second.exited).code).toBe(0);
    expect(summary(second)).toMatchObject({ processed: 3, duplicatesDropped: 0 });
  });
});

describe('a damaged --journal', () => {
  it('stops the hub with exit code 2 naming the file and line', async () => {
    const dir = tempDir();
    const tokens = writeFile(dir, 'tokens', `${TOKEN_A} w-a\n`);
    const journal = writeFile(dir, 'journal', 'w-a stream-a 1\nnot a record at all\n');
    const hub = runCli([...hubArgs('127.0.0.1:0', tokens, '--journal', journal)]);
    procs.push(hub);
    const { code } = await hub.exited;
    expect(code).toBe(2);
    expect(hub.stderr()).toContain(
      `linkwatch: --journal: ${journal}:2: not a journal record (expected one JSON object per line)`,
    );
  });
});
