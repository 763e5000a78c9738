import { type LinkEvent, LinkEvents } from '../../../src/link/events.js';
import { LinkHooks } from '../../../src/link/hooks.js';
import { newSessionCounters, type Session } from '../../../src/link/session.js';
import type { InstrumentTarget } from '../../../src/telemetry/instrumentation.js';

/** A link event without its base fields, per event type. */
export type EventBody = LinkEvent extends infer E
  ? E extends LinkEvent
    ? Omit<E, 'side' | 'workerId' | 'hubId' | 'at'> & { hubId?: string }
    : never
  : never;

/**
 * A hub or worker as telemetry sees it, with synthetic sessions: enough to
 * drive the real instrumentation and SDK without thousands of sockets.
 */
export interface FakeTarget extends InstrumentTarget {
  events: LinkEvents;
  sessionsMap: Map<string, Session>;
  emit(workerId: string, e: EventBody): void;
  addWorkers(ids: Iterable<string>): void;
}

export function fakeTarget(side: 'hub' | 'worker', hubId = 'hub-1'): FakeTarget {
  const events = new LinkEvents();
  const sessionsMap = new Map<string, Session>();
  const hooks = new LinkHooks();
  const link = { silentMs: () => 500, bufferedAmount: 0 };
  return {
    events,
    sessionsMap,
    hooks,
    on: (listener, scope) => events.subscribe(listener, scope),
    sessions: () => sessionsMap,
    linkOf: (id) => (sessionsMap.has(id) ? link : undefined),
    emit(workerId, e) {
      events.emit({ side, workerId, hubId, at: performance.now(), ...e } as LinkEvent);
    },
    addWorkers(ids) {
      for (const id of ids) {
        const session = {
          workerId: id,
          hubId,
          counters: newSessionCounters(),
          lastHeartbeatAt: performance.now(),
          queue: { depth: 0, capacity: 100, hung: 0 },
          outbox: { size: 0, bytes: 0, waiting: 0, oldestAgeMs: () => 0 },
        };
        sessionsMap.set(id, session as unknown as Session);
      }
    },
  };
}
