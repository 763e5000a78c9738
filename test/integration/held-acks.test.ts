import { describe, expect, it } from 'vitest';
import type { LinkEvent } from '../../src/link/events.js';
import { linkPerTest, startHub, startWorker, waitFor } from '../helpers/fleet.js';
import { socketWrites } from '../helpers/socket-writes.js';

/*
 * Protocol revision 3 on real sockets: a worker answers the hub's heartbeat
 * with its own next one, in one write, and the hub takes the time held off
 * its RTT. A hub of revision 2 is answered at once, as before
 * (protocol-guards.test.ts).
 */

const INTERVAL = 200;
const link = linkPerTest();

/** Frame types in one write, in order ("hb-ack", "hb", ...). */
const typesIn = (text: string) => [...text.matchAll(/"t":"([a-z-]+)"/g)].map((m) => m[1]);

describe('held heartbeat answers (revision 3)', () => {
  it("a worker's answer to the hub's heartbeat leaves with its own next one, and the hub's RTT leaves out the hold", async () => {
    const hub = await startHub({ handler: () => {}, heartbeatIntervalMs: INTERVAL, heartbeatMisses: 3 });
    link.hub = hub;
    const hubRtts: number[] = [];
    hub.on((e: LinkEvent) => {
      if (e.type === 'heartbeat-rtt') hubRtts.push(e.rttMs);
    });
    const worker = startWorker(hub.url);
    link.worker = worker;
    await worker.waitConnected(5000);
    const writes = socketWrites();
    await waitFor(() => hubRtts.length >= 6, 5000, 'six of the hub heartbeats answered');
    // The worker's writes that answer a heartbeat: each also carries its own next heartbeat, after the answer.
    const answers = writes.filter((w) => typesIn(w).includes('hb-ack') && w.includes('"held":'));
    expect(answers.length).toBeGreaterThanOrEqual(5);
    for (const w of answers) expect(typesIn(w)).toEqual(['hb-ack', 'hb']);
    // Held for most of an interval, which the hub's RTT does not count.
    const held = answers.map((w) => Number(/"held":(\d+)/.exec(w)![1]));
    expect(Math.max(...held)).toBeGreaterThan(INTERVAL / 2);
    expect(Math.max(...hubRtts)).toBeLessThan(INTERVAL / 2);
    expect(hub.totals().heartbeatsMissed).toBe(0);
    expect(worker.status().counters.heartbeatsMissed).toBe(0);
  });
});
