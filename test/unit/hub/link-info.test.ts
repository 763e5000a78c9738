import { describe, expect, it } from 'vitest';
import { linkInfo } from '../../../src/hub/link-info.js';
import type { Link } from '../../../src/link/link.js';
import type { Session } from '../../../src/link/session.js';

const session = {
  lastHeartbeatAt: undefined,
  lastRttMs: undefined,
  inbox: { lastAccepted: 0, processed: 0 },
  queue: { depth: 0, hung: 0 },
  counters: { reconnects: 0 },
  peerProgress: undefined,
} as unknown as Session;

function info(connected: boolean, state: string | undefined) {
  const link = connected ? ({ lastAckSent: 0 } as unknown as Link) : undefined;
  return linkInfo('w1', { session, link, epoch: 1, lastError: undefined }, state);
}

describe('/links: connected and state never disagree', () => {
  it('a disconnected link the watchdog still calls healthy or degraded is down', () => {
    expect(info(false, 'healthy').state).toBe('down');
    expect(info(false, 'degraded').state).toBe('down');
    expect(info(false, 'stalled').state).toBe('down');
    expect(info(false, 'connecting').state).toBe('connecting');
  });
  it('a connected link the watchdog still calls down is connecting', () => {
    expect(info(true, 'down').state).toBe('connecting');
    expect(info(true, 'degraded').state).toBe('degraded');
  });
  it('without a watchdog: healthy when connected, else down', () => {
    expect(info(true, undefined).state).toBe('healthy');
    expect(info(false, undefined).state).toBe('down');
  });
});
