import type { AroundHandler } from '../queue/work-queue.js';
import type { LinkState } from './events.js';
import type { SessionView } from './view.js';

/** A producer span (or anything else) started by send(), told what became of the message. */
export interface SendTrace {
  /** W3C traceparent to carry in the data frame; undefined when not sampled. */
  traceparent: string | undefined;
  /** The message got this seq (status 'dropped' under drop-newest). */
  queued(seq: number, status: 'queued' | 'dropped'): void;
  /** send() rejected (outbox full under `reject`, closed, bad payload). */
  failed(error: unknown): void;
}

/** What one subscriber (telemetry, a watchdog) plugs into a Hub's or Worker's hooks. */
export interface LinkHookProvider {
  /** Starts a producer span for a message; undefined when not sampled. */
  send?: ((session: SessionView) => SendTrace | undefined) | undefined;
  /** Runs a handler call inside the consumer span's context. */
  around?: AroundHandler | undefined;
  /**
   * The peer's ack released messages of this session (once per ack frame,
   * not per message), so producer spans end when their ack arrives.
   */
  acked?: ((session: SessionView) => void) | undefined;
  /** The watchdog's state of a link, shown on /links and in the link-state metric. */
  stateOf?: ((workerId: string) => LinkState | undefined) | undefined;
  /** Alerts firing for a link, shown on /links. */
  alertsOf?: ((workerId: string) => string[]) | undefined;
}

/**
 * The only places the core calls out to subscribers; everything else is
 * observed through events. Subscribers `add()` a provider and get a disposer
 * that removes only their own, so several compose (two telemetry instances,
 * a watchdog beside them). The core reads the composed functions, each
 * undefined while no provider has one, so an unobserved link pays nothing.
 * A Hub or Worker shares one LinkHooks with all its sessions, so a provider
 * added later still reaches every session.
 */
export class LinkHooks {
  // Providers in the order added; the composed functions below are rebuilt on each change.
  #providers: LinkHookProvider[] = [];
  #send: LinkHookProvider['send'];
  #around: LinkHookProvider['around'];
  #acked: LinkHookProvider['acked'];
  #stateOf: LinkHookProvider['stateOf'];
  #alertsOf: LinkHookProvider['alertsOf'];

  get send(): LinkHookProvider['send'] {
    return this.#send;
  }
  get around(): LinkHookProvider['around'] {
    return this.#around;
  }
  get acked(): LinkHookProvider['acked'] {
    return this.#acked;
  }
  get stateOf(): LinkHookProvider['stateOf'] {
    return this.#stateOf;
  }
  get alertsOf(): LinkHookProvider['alertsOf'] {
    return this.#alertsOf;
  }

  /** Adds a provider; the returned function removes it (and only it), once. */
  add(provider: LinkHookProvider): () => void {
    const entry = { ...provider };
    this.#providers.push(entry);
    this.#compose();
    return () => {
      const i = this.#providers.indexOf(entry);
      if (i < 0) return;
      this.#providers.splice(i, 1);
      this.#compose();
    };
  }

  #compose(): void {
    const sends = this.#providers.flatMap((p) => (p.send ? [p.send] : []));
    const arounds = this.#providers.flatMap((p) => (p.around ? [p.around] : []));
    const acks = this.#providers.flatMap((p) => (p.acked ? [p.acked] : []));
    const states = this.#providers.flatMap((p) => (p.stateOf ? [p.stateOf] : []));
    const alerts = this.#providers.flatMap((p) => (p.alertsOf ? [p.alertsOf] : []));
    this.#send = sends.length <= 1 ? sends[0] : (session) => fanOut(sends.map((f) => f(session)));
    this.#around =
      arounds.length <= 1
        ? arounds[0]
        : (message, traceparent, fn) =>
            arounds.reduceRight<() => Promise<void>>(
              (inner, a) => () => a(message, traceparent, inner),
              fn,
            )();
    this.#acked =
      acks.length <= 1
        ? acks[0]
        : (session) => {
            for (const f of acks) f(session);
          };
    this.#stateOf =
      states.length <= 1
        ? states[0]
        : (id) => {
            for (const f of states) {
              const state = f(id);
              if (state !== undefined) return state;
            }
            return undefined;
          };
    this.#alertsOf = alerts.length <= 1 ? alerts[0] : (id) => alerts.flatMap((f) => f(id));
  }
}

/** Several producer spans for one message: the first sampled one's traceparent travels; all hear the outcome. */
function fanOut(traces: (SendTrace | undefined)[]): SendTrace | undefined {
  const live = traces.filter((t): t is SendTrace => t !== undefined);
  if (live.length <= 1) return live[0];
  return {
    traceparent: live.find((t) => t.traceparent !== undefined)?.traceparent,
    queued: (seq, status) => {
      for (const t of live) t.queued(seq, status);
    },
    failed: (error) => {
      for (const t of live) t.failed(error);
    },
  };
}
