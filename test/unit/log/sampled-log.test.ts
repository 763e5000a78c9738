import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { LinkEvent } from '../../../src/link/events.js';
import { linkLogger } from '../../../src/log/link-logger.js';
import { jsonLogger } from '../../../src/log/logger.js';
import { SampledLog } from '../../../src/log/sampled-log.js';

function captured() {
  const lines: Record<string, unknown>[] = [];
  const logger = jsonLogger({ write: (line) => lines.push(JSON.parse(line) as Record<string, unknown>) });
  return { lines, logger };
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('SampledLog', () => {
  it('writes the first event at once, then one line per interval with the count by reason', () => {
    const { lines, logger } = captured();
    const log = new SampledLog(logger, 'warn', 'authentication failed', { intervalMs: 1000 });
    log.record('LW_ERR_AUTH', { remote_address: '127.0.0.1', n: 0 });
    expect(lines).toEqual([expect.objectContaining({ level: 'warn', msg: 'authentication failed', n: 0 })]);
    for (let n = 1; n <= 30; n++) log.record(n % 3 ? 'LW_ERR_AUTH' : 'LW_ERR_WORKER_ID_MISMATCH', { n });
    expect(lines).toHaveLength(1);
    vi.advanceTimersByTime(1000);
    expect(lines).toHaveLength(2);
    expect(lines[1]).toMatchObject({
      msg: 'authentication failed',
      suppressed: 30,
      by_reason: 'LW_ERR_AUTH=20,LW_ERR_WORKER_ID_MISMATCH=10',
      interval_ms: 1000,
      n: 30, // the latest event's fields
    });
  });

  it('a steady flood gives one line per interval; a quiet interval ends sampling and the timer', () => {
    const { lines, logger } = captured();
    const log = new SampledLog(logger, 'warn', 'x', { intervalMs: 1000 });
    // 10 s of 500 events a second.
    for (let ms = 0; ms < 10_000; ms += 2) {
      log.record('r', {});
      vi.advanceTimersByTime(2);
    }
    expect(lines.length).toBeGreaterThanOrEqual(10);
    expect(lines.length).toBeLessThanOrEqual(11);
    // The interval still open at the end writes the rest; every event is counted once.
    vi.advanceTimersByTime(1000);
    expect(1 + lines.slice(1).reduce((sum, l) => sum + Number(l.suppressed), 0)).toBe(5000);
    vi.advanceTimersByTime(5000);
    expect(vi.getTimerCount()).toBe(0);
    // After the quiet interval the next event is written at once again.
    const before = lines.length;
    log.record('r', { again: true });
    expect(lines).toHaveLength(before + 1);
    expect(lines.at(-1)).toMatchObject({ again: true });
    expect(lines.at(-1)).not.toHaveProperty('suppressed');
    log.close();
  });

  it('close() writes the pending count and leaves no timer', () => {
    const { lines, logger } = captured();
    const log = new SampledLog(logger, 'warn', 'x', { intervalMs: 60_000 });
    log.record('a', {});
    log.record('a', {});
    log.record('b', {});
    log.close();
    expect(lines).toHaveLength(2);
    expect(lines[1]).toMatchObject({ suppressed: 2, by_reason: 'a=1,b=1' });
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('linkLogger', () => {
  const base = { side: 'hub', workerId: 'unknown', hubId: 'h1', at: 0 } as const;

  // Regression (issue 7, item 9): 4,930 bad-token attempts in 10 s wrote 4,930 log lines (965 KB).
  it('4,930 failed logins in 10 s write 2 lines with the count by error.type, not 4,930', () => {
    const { lines, logger } = captured();
    const listener = linkLogger(logger);
    for (let i = 0; i < 4930; i++) {
      listener({
        ...base,
        type: 'auth-failed',
        errorType: i % 10 === 0 ? 'LW_ERR_WORKER_ID_MISMATCH' : 'LW_ERR_AUTH',
        remoteAddress: '127.0.0.1',
      } as LinkEvent);
      vi.advanceTimersByTime(2);
    }
    listener.close();
    const auth = lines.filter((l) => l.msg === 'authentication failed');
    expect(auth.length).toBeLessThanOrEqual(3);
    expect(1 + auth.slice(1).reduce((sum, l) => sum + Number(l.suppressed), 0)).toBe(4930);
    expect(auth.at(-1)!.by_reason).toMatch(/LW_ERR_AUTH=\d+/);
  });

  // Issue 7, item 18: every rejection gets a sampled log line.
  it('rejected frames are sampled the same way, apart from failed logins', () => {
    const { lines, logger } = captured();
    const listener = linkLogger(logger, { sampleIntervalMs: 1000 });
    for (let i = 0; i < 100; i++) {
      listener({
        ...base,
        type: 'frame-rejected',
        errorType: 'LW_ERR_FRAME_TOO_LARGE',
        closeCode: 1009,
        reason: 'too large',
      } as LinkEvent);
    }
    listener({
      ...base,
      type: 'auth-failed',
      errorType: 'LW_ERR_AUTH',
      remoteAddress: '127.0.0.1',
    } as LinkEvent);
    vi.advanceTimersByTime(1000);
    expect(lines.map((l) => [l.msg, l.suppressed])).toEqual([
      ['frame rejected: closing link', undefined],
      ['authentication failed', undefined],
      ['frame rejected: closing link', 99],
    ]);
    listener.close();
  });

  // Issue 7, items 8 and 18: refused connections and sockets that never say hello (4003).
  it("refused connections and hub-side handshake failures are sampled; a worker's own handshake failures are not", () => {
    const { lines, logger } = captured();
    const listener = linkLogger(logger, { sampleIntervalMs: 1000 });
    for (let i = 0; i < 50; i++) {
      listener({ ...base, type: 'connection-refused', errorType: 'LW_ERR_CONNECTION_LIMIT' } as LinkEvent);
      listener({
        ...base,
        type: 'handshake-failed',
        url: '',
        errorType: 'LW_ERR_HANDSHAKE_TIMEOUT',
        handshakeMs: 5000,
      } as LinkEvent);
    }
    for (let i = 0; i < 3; i++) {
      listener({
        ...base,
        side: 'worker',
        type: 'handshake-failed',
        url: 'ws://127.0.0.1:1/',
        errorType: 'LW_ERR_CONNECT',
        handshakeMs: 1,
      } as LinkEvent);
    }
    listener.close();
    expect(lines.map((l) => [l.msg, l.side, l.suppressed, l.by_reason])).toEqual([
      ['connection refused', 'hub', undefined, undefined],
      ['handshake failed', 'hub', undefined, undefined],
      ['handshake failed', 'worker', undefined, undefined],
      ['handshake failed', 'worker', undefined, undefined],
      ['handshake failed', 'worker', undefined, undefined],
      ['handshake failed', 'hub', 49, 'LW_ERR_HANDSHAKE_TIMEOUT=49'],
      ['connection refused', 'hub', 49, 'LW_ERR_CONNECTION_LIMIT=49'],
    ]);
  });

  // Issue 7, item 19: the client gets a generic reason; the hub's log gets which entry refused what.
  it("an auth failure's private detail reaches the hub's log", () => {
    const { lines, logger } = captured();
    const listener = linkLogger(logger);
    listener({
      ...base,
      type: 'auth-failed',
      errorType: 'LW_ERR_WORKER_ID_MISMATCH',
      remoteAddress: '127.0.0.1',
      detail: 'token /etc/linkwatch/tokens:3 may not claim worker id "w9"',
    } as LinkEvent);
    listener.close();
    expect(lines[0]).toMatchObject({
      msg: 'authentication failed',
      detail: 'token /etc/linkwatch/tokens:3 may not claim worker id "w9"',
    });
  });

  it('other events are still one line each', () => {
    const { lines, logger } = captured();
    const listener = linkLogger(logger);
    for (let i = 0; i < 3; i++) listener({ ...base, type: 'superseded', epoch: i } as LinkEvent);
    expect(lines).toHaveLength(3);
  });
});
