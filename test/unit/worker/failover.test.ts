import { describe, expect, it } from 'vitest';
import { Failover } from '../../../src/worker/failover.js';

const urls = ['ws://a', 'ws://b', 'ws://c'];

describe('Failover', () => {
  it('moves on after a failed dial and wraps around', () => {
    const f = new Failover({ urls, minUptimeMs: 1000, maxSupersedes: 3 });
    expect(f.dialFailed()).toEqual({
      type: 'retry',
      url: 'ws://b',
      failedOver: { from: 'ws://a', to: 'ws://b' },
    });
    f.dialFailed();
    expect(f.dialFailed()).toMatchObject({ url: 'ws://a' });
  });

  it('gives a link that was up one retry at the same hub, and moves on after a second short-lived link', () => {
    const f = new Failover({ urls, minUptimeMs: 1000, maxSupersedes: 3 });
    expect(f.linkDown(10, false)).toEqual({ type: 'retry', url: 'ws://a', failedOver: undefined });
    expect(f.linkDown(10, false)).toMatchObject({ url: 'ws://b' });
    expect(f.linkDown(5000, false)).toEqual({ type: 'retry', url: 'ws://b', failedOver: undefined });
  });

  it('with one URL, always retries it', () => {
    const f = new Failover({ urls: ['ws://only'], minUptimeMs: 1000, maxSupersedes: 3 });
    expect(f.dialFailed()).toEqual({ type: 'retry', url: 'ws://only', failedOver: undefined });
    expect(f.linkDown(1, false)).toEqual({ type: 'retry', url: 'ws://only', failedOver: undefined });
  });

  it('gives up after maxSupersedes supersedes in a row; a stable link starts the count again', () => {
    const f = new Failover({ urls: ['ws://only'], minUptimeMs: 1000, maxSupersedes: 3 });
    expect(f.linkDown(10, true).type).toBe('retry');
    expect(f.linkDown(10, true).type).toBe('retry');
    expect(f.linkDown(10, true)).toEqual({ type: 'give-up', supersedes: 3 });
    const g = new Failover({ urls: ['ws://only'], minUptimeMs: 1000, maxSupersedes: 3 });
    g.linkDown(10, true);
    g.linkDown(10, true);
    expect(g.linkDown(5000, true).type).toBe('retry');
    expect(g.supersedes).toBe(1);
    g.linkDown(5000, false);
    expect(g.supersedes).toBe(0);
  });
});
