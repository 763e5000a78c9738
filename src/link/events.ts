import type { Progress } from '../protocol/frames.js';

export type Side = 'worker' | 'hub';

/** Link health as the watchdog sees it. `connecting → healthy ⇄ degraded → stalled → down`. */
export type LinkState = 'connecting' | 'healthy' | 'degraded' | 'stalled' | 'down';

/** Why a link went down or was torn down: a stable error code. */
export type DisconnectReason = string;

/** The fields every link event carries. */
export interface LinkEventBase {
  side: Side;
  workerId: string;
  /** Known once the handshake completed. */
  hubId: string | undefined;
  /** Monotonic ms (performance.now) when the event happened. */
  at: number;
}

/**
 * Everything the link does, as a discriminated union. Telemetry and the
 * watchdog subscribe; the core never calls them directly.
 */
export type LinkEvent = LinkEventBase &
  (
    | { type: 'dialing'; url: string; attempt: number }
    | {
        type: 'connected';
        url: string;
        epoch: number;
        handshakeMs: number;
        replayed: number;
        peerProcessed: number;
      }
    | { type: 'handshake-failed'; url: string; errorType: string; handshakeMs: number }
    | { type: 'disconnected'; errorType: DisconnectReason; closeCode: number | undefined; uptimeMs: number }
    | { type: 'reconnect-scheduled'; attempt: number; delayMs: number; url: string; errorType: string }
    | { type: 'failover'; fromUrl: string; toUrl: string }
    | { type: 'outage-ended'; attempts: number; durationMs: number }
    | { type: 'heartbeat-sent'; id: number }
    | { type: 'heartbeat-received'; progress: Progress }
    | { type: 'heartbeat-rtt'; rttMs: number }
    | { type: 'heartbeat-missed'; consecutive: number; limit: number }
    | { type: 'heartbeat-timeout'; silentMs: number }
    | { type: 'data-sent'; seq: number; bytes: number; replay: boolean }
    | { type: 'data-acked'; seq: number; released: number }
    | { type: 'data-received'; seq: number; bytes: number }
    | { type: 'duplicate-dropped'; seq: number }
    | { type: 'outbox-dropped'; seq: number; reason: 'drop-oldest' | 'drop-newest' }
    | { type: 'outbox-blocked'; waiting: number }
    | { type: 'queue-enqueued'; seq: number; depth: number; traceparent: string | undefined }
    | { type: 'queue-started'; seq: number; waitMs: number }
    | { type: 'queue-completed'; seq: number; durationMs: number }
    | { type: 'queue-failed'; seq: number; durationMs: number; errorType: string }
    | { type: 'queue-dropped'; count: number; reason: 'shutdown' | 'session-expired' }
    /**
     * The CheckpointStore threw or rejected recording `processed` for the
     * peer's `stream`. Nothing past what it last recorded is acked; the link
     * closes with 4005 and the peer replays the rest.
     */
    | { type: 'checkpoint-failed'; stream: string; processed: number; errorType: string }
    | { type: 'frame-rejected'; errorType: string; closeCode: number; reason: string }
    | {
        type: 'auth-failed';
        errorType: string;
        remoteAddress: string | undefined;
        /** Which token entry refused what, for the hub's own log only: never a label, never sent. */
        detail?: string;
      }
    | {
        type: 'connection-refused';
        errorType: 'LW_ERR_BUSY' | 'LW_ERR_CONNECTION_LIMIT' | 'LW_ERR_REQUEST_TIMEOUT';
      }
    | { type: 'transport-stalled'; bufferedBytes: number; stalledMs: number }
    | { type: 'superseded'; epoch: number }
    | { type: 'evicted'; reason: string }
    | { type: 'gave-up'; errorType: string; reason: string }
  );

export type LinkEventType = LinkEvent['type'];
export type LinkEventOf<T extends LinkEventType> = Extract<LinkEvent, { type: T }>;
export type LinkEventListener = (event: LinkEvent) => void;

/**
 * Events that happen once per message. They are built only while a listener
 * subscribed to them, so an idle watchdog or telemetry without an SDK costs
 * nothing per message.
 */
export const PER_MESSAGE_EVENTS: ReadonlySet<LinkEventType> = new Set<LinkEventType>([
  'data-sent',
  'data-acked',
  'data-received',
  'queue-enqueued',
  'queue-started',
  'queue-completed',
  'outbox-blocked',
]);

/** Which events a listener receives: all, only lifecycle ones, or only per-message ones. */
export type EventScope = 'all' | 'lifecycle' | 'per-message';

/**
 * A tiny synchronous fan-out. `active` and `perMessage` let emitters skip
 * building event objects nobody listens to. A throwing listener is isolated
 * and reported once per listener so it cannot break the link.
 */
export class LinkEvents {
  // Listeners of lifecycle events (everything not in PER_MESSAGE_EVENTS).
  readonly #lifecycle = new Set<LinkEventListener>();
  // Listeners of per-message events.
  readonly #perMessage = new Set<LinkEventListener>();
  readonly #reported = new WeakSet<LinkEventListener>();

  /** Someone listens to lifecycle events. */
  get active(): boolean {
    return this.#lifecycle.size > 0;
  }

  /** Someone listens to per-message events. */
  get perMessage(): boolean {
    return this.#perMessage.size > 0;
  }

  subscribe(listener: LinkEventListener, scope: EventScope = 'all'): () => void {
    if (scope !== 'per-message') this.#lifecycle.add(listener);
    if (scope !== 'lifecycle') this.#perMessage.add(listener);
    return () => {
      this.#lifecycle.delete(listener);
      this.#perMessage.delete(listener);
    };
  }

  emit(event: LinkEvent): void {
    const listeners = PER_MESSAGE_EVENTS.has(event.type) ? this.#perMessage : this.#lifecycle;
    for (const listener of listeners) {
      try {
        listener(event);
      } catch (err) {
        if (!this.#reported.has(listener)) {
          this.#reported.add(listener);
          process.emitWarning(
            `linkwatch event listener threw: ${(err as Error)?.message ?? err}`,
            'LinkwatchWarning',
          );
        }
      }
    }
  }
}
