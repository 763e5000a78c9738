import type { AroundHandler } from '../queue/work-queue.js';
import type { LinkState } from './events.js';
import type { Session } from './session.js';

/** A producer span (or anything else) started by send(), told what became of the message. */
export interface SendTrace {
  /** W3C traceparent to carry in the data frame; undefined when not sampled. */
  traceparent: string | undefined;
  /** The message got this seq (status 'dropped' under drop-newest). */
  queued(seq: number, status: 'queued' | 'dropped'): void;
  /** send() rejected (outbox full under `reject`, closed, bad payload). */
  failed(error: unknown): void;
}

/**
 * The only places the core calls out to telemetry. Everything else is
 * observed through events. A Hub or Worker shares one hooks object with all
 * its sessions, so installing hooks later still reaches every session.
 */
export interface LinkHooks {
  send?: ((session: Session) => SendTrace | undefined) | undefined;
  around?: AroundHandler | undefined;
  /** The watchdog's state of a link, shown on /links and in the link-state metric. */
  stateOf?: ((workerId: string) => LinkState | undefined) | undefined;
  /** Alerts firing for a link, shown on /links. */
  alertsOf?: ((workerId: string) => string[]) | undefined;
}
