import {
  type Attributes,
  context,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  TraceFlags,
  type Tracer,
  trace,
} from '@opentelemetry/api';
import type { LinkEvent } from '../link/events.js';
import type { SendTrace } from '../link/hooks.js';
import type { SessionView } from '../link/view.js';
import { SETTLED } from '../queue/handler-call.js';
import type { AroundHandler } from '../queue/work-queue.js';
import { ATTR, SPANS } from './catalog.js';
import type { LinkAttributes } from './instruments.js';
import { MessageSampler } from './message-sampler.js';
import { contextFromTraceparent, formatTraceparent } from './traceparent.js';

/** Share of messages and of healthy heartbeats traced when nothing else decides. */
export const DEFAULT_TRACE_SAMPLE_RATIO = 0.01;
/**
 * At most this many messages a second get spans per process and side,
 * whatever the ratio: at 700,000 messages a second 1% would be 7,000 spans a
 * second, more than the link's own work.
 */
export const DEFAULT_MAX_MESSAGE_TRACES_PER_SECOND = 100;
/** A heartbeat round trip at least this slow is traced always, ms. */
export const DEFAULT_SLOW_HEARTBEAT_MS = 250;

/** How one heartbeat round trip ended: the span attribute the Collector's tail sampling reads. */
export type HeartbeatOutcome = 'ok' | 'slow' | 'overtaken' | 'missed' | 'timeout' | 'down';
export const HEARTBEAT_OUTCOME = 'linkwatch.heartbeat.outcome';

/**
 * Link spans, sampled so that what will not be kept is never built:
 *
 * - Lifecycle spans (handshakes, outages) always.
 * - Heartbeats: every anomalous one (missed, timed out, cut by a disconnect,
 *   overtaken, slow) and `ratio` of the healthy ones. A heartbeat's span is
 *   made when it ends, with its start time, so an unsampled healthy round
 *   trip costs one map entry.
 * - Messages (MessageSampler): at most `maxMessageTracesPerSecond` per
 *   process; within that, the producer span when the caller's context is sampled or, at `ratio`,
 *   on its own; the consumer span when the frame's traceparent is sampled.
 *   A frame without one is sampled at `ratio` only if its peer has sent no
 *   traceparent on this link: a peer that traces sends one with every
 *   message it samples, so its other frames are messages it chose not to
 *   trace, and sampling them again would double the traces. Decided before
 *   any span object exists, in the send and around hooks, so no per-message
 *   event is needed; a producer span ends in the acked hook, when the ack
 *   frame that covers its message arrives.
 */
export class LinkSpans {
  readonly #attrs: LinkAttributes;
  readonly #tracer: () => Tracer;
  readonly #ratio: number;
  readonly #slowMs: number;
  // Which messages get spans: the ratio as a countdown, then the cap a second.
  readonly #messages: MessageSampler;
  readonly #side: 'hub' | 'worker';
  readonly #hubId: string | undefined;
  // A worker's session, to see whether its open producer spans' messages were acked.
  readonly #sessionOf: (workerId: string) => SessionView | undefined;
  // Heartbeats sent and not yet answered: when, per worker; bounded by the links.
  readonly #heartbeats = new Map<string, number>();
  // Open spans; each map is bounded by what it tracks (links, outbox, queue) and empty when nothing is sampled.
  readonly #producerSpans = new Map<string, { seq: number; span: Span }[]>();
  readonly #processSpans = new Map<string, Span>();
  readonly #outageSpans = new Map<string, { span: Span; attempts: number }>();
  readonly #handshakeSpans = new Map<string, Span>();
  // Peers that sent a traceparent on their current link (they make the sampling decision); bounded by links.
  readonly #tracingPeers = new Set<string>();

  constructor(
    side: 'hub' | 'worker',
    attrs: LinkAttributes,
    tracer: () => Tracer,
    ratio: number,
    slowHeartbeatMs: number,
    hubId: string | undefined,
    sessionOf: (workerId: string) => SessionView | undefined,
    maxMessageTracesPerSecond: number,
  ) {
    this.#messages = new MessageSampler(ratio, maxMessageTracesPerSecond);
    this.#side = side;
    this.#hubId = hubId;
    this.#sessionOf = sessionOf;
    this.#attrs = attrs;
    this.#tracer = tracer;
    this.#ratio = ratio;
    this.#slowMs = slowHeartbeatMs;
  }

  /** Healthy heartbeats: one draw each, once per interval and link (messages use #messages). */
  #sampled(): boolean {
    return this.#ratio >= 1 || (this.#ratio > 0 && Math.random() < this.#ratio);
  }

  onEvent(e: LinkEvent): void {
    if (this.#producerSpans.size > 0) {
      const session = this.#sessionOf(e.workerId);
      if (session) this.#settleProducers(session);
    }
    switch (e.type) {
      case 'heartbeat-sent':
        // Still open: data proved the round trip while this heartbeat queued behind it. Kept, not an error.
        this.#heartbeatEnd(e, 'overtaken', undefined);
        this.#heartbeats.set(e.workerId, e.at);
        return;
      case 'heartbeat-rtt':
        this.#heartbeatEnd(e, e.rttMs >= this.#slowMs ? 'slow' : 'ok', undefined, e.rttMs);
        return;
      case 'heartbeat-missed':
        this.#heartbeatEnd(e, 'missed', 'LW_ERR_HEARTBEAT_MISSED');
        return;
      case 'heartbeat-timeout':
        this.#heartbeatEnd(e, 'timeout', 'LW_ERR_HEARTBEAT_TIMEOUT');
        return;
      case 'outbox-dropped':
        this.#producerDropped(e.workerId, e.seq, e.reason);
        return;
      case 'queue-failed':
        this.#processEnd(e.workerId, e.seq, e.errorType);
        return;
      case 'dialing':
        this.#handshakeStart(e.workerId, e.url);
        return;
      case 'connected':
        this.#handshakeEnd(e.workerId, e.hubId, undefined);
        this.#outageEnd(e.workerId);
        return;
      case 'handshake-failed':
        this.#handshakeEnd(e.workerId, undefined, e.errorType);
        return;
      case 'disconnected':
        // The next link may come from a process with other tracing settings.
        this.#tracingPeers.delete(e.workerId);
        this.#outageStart(e.workerId, e.errorType, this.#attrs.base(e.workerId, e.hubId));
        this.#heartbeatEnd(e, 'down', e.errorType);
        return;
      case 'reconnect-scheduled':
        this.#outageAttempt(e, this.#attrs.base(e.workerId, e.hubId));
        return;
      default:
        return;
    }
  }

  /** Ends every open span (detach). */
  dispose(): void {
    for (const list of this.#producerSpans.values()) for (const { span } of list) span.end();
    for (const span of this.#processSpans.values()) span.end();
    for (const { span } of this.#outageSpans.values()) span.end();
    for (const span of this.#handshakeSpans.values()) span.end();
    this.#heartbeats.clear();
    this.#producerSpans.clear();
    this.#processSpans.clear();
    this.#outageSpans.clear();
    this.#handshakeSpans.clear();
    this.#tracingPeers.clear();
  }

  // Heartbeats

  #heartbeatEnd(
    e: LinkEvent,
    outcome: HeartbeatOutcome,
    errorType: string | undefined,
    rttMs?: number,
  ): void {
    const sentAt = this.#heartbeats.get(e.workerId);
    if (sentAt === undefined) return;
    this.#heartbeats.delete(e.workerId);
    if (outcome === 'ok' && !this.#sampled()) return;
    const span = this.#tracer().startSpan(SPANS.heartbeat.name, {
      kind: SpanKind.INTERNAL,
      startTime: performance.timeOrigin + sentAt,
      attributes: this.#attrs.base(e.workerId, e.hubId),
    });
    span.setAttribute(HEARTBEAT_OUTCOME, outcome);
    if (rttMs !== undefined) span.setAttribute('linkwatch.heartbeat.rtt_ms', rttMs);
    if (errorType) {
      span.setAttribute(ATTR.errorType, errorType);
      span.setStatus({ code: SpanStatusCode.ERROR, message: errorType });
    }
    span.end(performance.timeOrigin + e.at);
  }

  // Messages

  /**
   * The send hook: a producer span only for a message that will be sampled.
   * An unsampled message costs a context lookup and a decrement: most sends
   * run outside any span (the root context), and only a caller's span is
   * asked for its flags.
   */
  readonly send = (session: SessionView): SendTrace | undefined => {
    const parent = context.active();
    const inherited = parent === ROOT_CONTEXT ? undefined : trace.getSpanContext(parent);
    const sampled = inherited ? (inherited.traceFlags & TraceFlags.SAMPLED) !== 0 : this.#messages.byRatio();
    if (!sampled || !this.#messages.withinRate()) return undefined;
    const span = this.#tracer().startSpan(SPANS.send.name, { kind: SpanKind.PRODUCER }, parent);
    if (!span.isRecording()) return undefined;
    span.setAttributes({
      ...this.#attrs.base(session.workerId, session.hubId),
      [ATTR.messagingSystem]: 'linkwatch',
      [ATTR.messagingOperationType]: 'send',
      [ATTR.messagingOperationName]: 'send',
      [ATTR.messagingDestination]: this.#side === 'worker' ? 'hub' : 'worker',
    });
    const workerId = session.workerId;
    return {
      traceparent: formatTraceparent(span.spanContext()),
      queued: (seq, status) => {
        span.setAttribute('linkwatch.seq', seq);
        if (status === 'dropped') {
          span.addEvent('linkwatch.dropped', { [ATTR.reason]: 'drop-newest' });
          span.end();
          return;
        }
        const list = this.#producerSpans.get(workerId) ?? [];
        this.#producerSpans.set(workerId, list);
        list.push({ seq, span });
      },
      failed: (error) => {
        const code = (error as { code?: string })?.code ?? 'unknown';
        span.setAttribute(ATTR.errorType, code);
        span.setStatus({ code: SpanStatusCode.ERROR, message: code });
        span.end();
      },
    };
  };

  /**
   * The around hook: the consumer span, from handler start to completion,
   * for a frame whose traceparent is sampled or, without one, at `ratio`.
   * Per message it costs a flag check or a decrement; the queue's timeout
   * ends a hung call's span (queue-failed) before the call returns.
   */
  readonly around: AroundHandler = (message, traceparent, fn) => {
    let sampled: boolean;
    if (traceparent) {
      // The flags are the last two hex digits; bit 0 is "sampled".
      sampled = (Number.parseInt(traceparent.slice(-2), 16) & TraceFlags.SAMPLED) !== 0;
      this.#tracingPeers.add(message.workerId);
    } else {
      // The ratio first: at the default it is false 99% of the time, and the lookup is per message.
      sampled = this.#messages.byRatio() && !this.#tracingPeers.has(message.workerId);
    }
    if (!sampled || !this.#messages.withinRate()) return fn();
    const span = this.#processStart(message.workerId, message.seq, traceparent);
    if (!span) return fn();
    const key = `${message.workerId}:${message.seq}`;
    const settle = (errorType: string | undefined) => {
      if (this.#processSpans.get(key) === span) this.#processEnd(message.workerId, message.seq, errorType);
    };
    const result = context.with(trace.setSpan(context.active(), span), fn);
    // A synchronous handler: the span ends now and the item settles at once, as an untraced one does.
    // Chaining on it made the traced message settle a turn later, and the hub's acks of the messages
    // behind it went out in more, smaller frames (measured: about 5% more CPU per message, both sides).
    if (result === SETTLED) {
      settle(undefined);
      return result;
    }
    return result.then(
      (value) => {
        settle(undefined);
        return value;
      },
      (err: unknown) => {
        settle((err as { code?: string })?.code ?? 'LW_ERR_HANDLER_FAILED');
        throw err;
      },
    );
  };

  /**
   * The acked hook: the core calls it once per ack frame that released
   * messages (acks are cumulative and coalesced, so not per message). With
   * no producer span open it is one Map size check.
   */
  readonly acked = (session: SessionView): void => {
    if (this.#producerSpans.size > 0) this.#settleProducers(session);
  };

  /**
   * Ends the producer spans whose messages the peer acked. Seqs count up
   * from 1 in a session's stream and every message ends acked or dropped, so
   * acked + dropped reaching a seq means it and all before it are settled.
   * Called from the acked hook as the ack arrives, and at every lifecycle
   * event, for acks that came with a reconnect. Not from the send hook: at
   * 100 traces a second a producer span is open most of the time, and the
   * check cost every send a map lookup.
   */
  #settleProducers(session: SessionView): void {
    const list = this.#producerSpans.get(session.workerId);
    if (!list) return;
    const settled = session.counters.acked + session.counters.dropped;
    let i = 0;
    while (i < list.length && list[i]!.seq <= settled) list[i++]!.span.end();
    if (i > 0) list.splice(0, i);
    if (list.length === 0) this.#producerSpans.delete(session.workerId);
  }

  #producerDropped(workerId: string, seq: number, reason: string): void {
    const list = this.#producerSpans.get(workerId);
    const i = list?.findIndex((p) => p.seq === seq) ?? -1;
    if (!list || i < 0) return;
    const [{ span }] = list.splice(i, 1) as [{ seq: number; span: Span }];
    span.addEvent('linkwatch.dropped', { [ATTR.reason]: reason });
    span.setStatus({ code: SpanStatusCode.ERROR, message: 'dropped' });
    span.end();
  }

  #processStart(workerId: string, seq: number, traceparent: string | undefined): Span | undefined {
    const span = this.#tracer().startSpan(
      SPANS.process.name,
      { kind: SpanKind.CONSUMER },
      contextFromTraceparent(traceparent),
    );
    if (!span.isRecording()) return undefined;
    span.setAttributes({
      ...this.#attrs.base(workerId, this.#side === 'hub' ? this.#hubId : undefined),
      [ATTR.messagingSystem]: 'linkwatch',
      [ATTR.messagingOperationType]: 'process',
      [ATTR.messagingOperationName]: 'process',
      'linkwatch.seq': seq,
    });
    this.#processSpans.set(`${workerId}:${seq}`, span);
    return span;
  }

  #processEnd(workerId: string, seq: number, errorType: string | undefined): void {
    const key = `${workerId}:${seq}`;
    const span = this.#processSpans.get(key);
    if (!span) return;
    this.#processSpans.delete(key);
    if (errorType) {
      if (errorType === 'LW_ERR_HANDLER_TIMEOUT') span.addEvent('linkwatch.queue.timeout');
      span.setAttribute(ATTR.errorType, errorType);
      span.setStatus({ code: SpanStatusCode.ERROR, message: errorType });
    }
    span.end();
  }

  // Lifecycle

  #handshakeStart(workerId: string, url: string): void {
    this.#handshakeEnd(workerId, undefined, 'LW_ERR_CONNECT');
    const span = this.#tracer().startSpan(SPANS.handshake.name, { kind: SpanKind.CLIENT });
    if (!span.isRecording()) return;
    let address: string | undefined;
    let port: number | undefined;
    try {
      const u = new URL(url);
      address = u.hostname;
      port = Number(u.port || (u.protocol === 'wss:' ? 443 : 80));
    } catch {}
    span.setAttributes({
      [ATTR.workerId]: workerId,
      ...(address ? { [ATTR.serverAddress]: address, [ATTR.serverPort]: port } : {}),
    });
    this.#handshakeSpans.set(workerId, span);
  }

  #handshakeEnd(workerId: string, hubId: string | undefined, errorType: string | undefined): void {
    const span = this.#handshakeSpans.get(workerId);
    if (!span) return;
    this.#handshakeSpans.delete(workerId);
    if (hubId) span.setAttribute(ATTR.hubId, hubId);
    if (errorType) {
      span.setAttribute(ATTR.errorType, errorType);
      span.setStatus({ code: SpanStatusCode.ERROR, message: errorType });
    }
    span.end();
  }

  #outageStart(workerId: string, errorType: string, base: Attributes): void {
    if (this.#outageSpans.has(workerId)) return;
    const span = this.#tracer().startSpan(SPANS.outage.name, {
      kind: SpanKind.INTERNAL,
      attributes: { ...base, [ATTR.errorType]: errorType },
    });
    if (span.isRecording()) this.#outageSpans.set(workerId, { span, attempts: 0 });
  }

  #outageAttempt(e: Extract<LinkEvent, { type: 'reconnect-scheduled' }>, base: Attributes): void {
    // A first dial that fails also opens an outage.
    if (!this.#outageSpans.has(e.workerId)) this.#outageStart(e.workerId, e.errorType, base);
    const o = this.#outageSpans.get(e.workerId);
    if (!o) return;
    o.attempts = e.attempt;
    o.span.addEvent('linkwatch.reconnect.attempt', {
      'linkwatch.attempt': e.attempt,
      'linkwatch.backoff.delay_ms': e.delayMs,
      [ATTR.urlFull]: e.url,
      [ATTR.errorType]: e.errorType,
    });
  }

  #outageEnd(workerId: string): void {
    const o = this.#outageSpans.get(workerId);
    if (!o) return;
    this.#outageSpans.delete(workerId);
    o.span.setAttribute('linkwatch.outage.attempts', o.attempts);
    o.span.end();
  }
}
