import type { LinkEvent, LinkEventListener } from '../link/events.js';
import type { Logger } from './logger.js';
import { SampledLog, type SampledLogOptions } from './sampled-log.js';

export interface LinkLoggerOptions {
  /** Rejections (failed logins, rejected frames) reach the log at most once per this. @default 10000 */
  sampleIntervalMs?: number;
}

/** A link-event listener whose `close()` writes the sampled lines still pending. */
export type LinkLogger = LinkEventListener & { close(): void };

/**
 * Turns link events into log lines: one per state change and fault; nothing
 * per message. What a peer can repeat at will, before or after logging in
 * (a failed login, a refused connection, a hub-side handshake failure, a
 * rejected frame), is sampled: at most one line per
 * interval per kind, with a count by `error.type` (see SampledLog).
 * Subscribe it with `hub.on()` or `worker.on()`; `close()` it at shutdown.
 */
export function linkLogger(logger: Logger, options: LinkLoggerOptions = {}): LinkLogger {
  const sampling: SampledLogOptions =
    options.sampleIntervalMs === undefined ? {} : { intervalMs: options.sampleIntervalMs };
  const authFailures = new SampledLog(logger, 'warn', 'authentication failed', sampling);
  const rejectedFrames = new SampledLog(logger, 'warn', 'frame rejected: closing link', sampling);
  const hubHandshakes = new SampledLog(logger, 'warn', 'handshake failed', sampling);
  const refusedConnections = new SampledLog(logger, 'warn', 'connection refused', sampling);
  const listener = (e: LinkEvent) => {
    const ids = { side: e.side, worker_id: e.workerId, hub_id: e.hubId };
    switch (e.type) {
      case 'connected':
        logger.info('link connected', {
          ...ids,
          epoch: e.epoch,
          replayed: e.replayed,
          peer_processed: e.peerProcessed,
        });
        return;
      case 'disconnected':
        (e.errorType === 'LW_ERR_CLOSED' || e.closeCode === 1000 || e.closeCode === 1001
          ? logger.info
          : logger.warn)('link down', {
          ...ids,
          'error.type': e.errorType,
          close_code: e.closeCode,
          uptime_ms: Math.round(e.uptimeMs),
        });
        return;
      case 'handshake-failed':
        // On the hub a peer can fail handshakes at will (4003: never says hello); a worker's own
        // dials are paced by its backoff.
        if (e.side === 'hub') hubHandshakes.record(e.errorType, { ...ids, 'error.type': e.errorType });
        else logger.warn('handshake failed', { ...ids, url: e.url, 'error.type': e.errorType });
        return;
      case 'connection-refused':
        refusedConnections.record(e.errorType, { ...ids, 'error.type': e.errorType });
        return;
      case 'gave-up':
        logger.error('worker gave up', { ...ids, 'error.type': e.errorType, reason: e.reason });
        return;
      case 'reconnect-scheduled':
        logger.info('reconnect scheduled', {
          ...ids,
          attempt: e.attempt,
          delay_ms: e.delayMs,
          url: e.url,
          'error.type': e.errorType,
        });
        return;
      case 'failover':
        logger.warn('failing over', { ...ids, from: e.fromUrl, to: e.toUrl });
        return;
      case 'heartbeat-missed':
        logger.warn('heartbeat missed', { ...ids, consecutive: e.consecutive, limit: e.limit });
        return;
      case 'heartbeat-timeout':
        logger.error('heartbeat timeout: terminating link', { ...ids, silent_ms: Math.round(e.silentMs) });
        return;
      case 'transport-stalled':
        logger.error('transport stalled: terminating link', {
          ...ids,
          buffered_bytes: e.bufferedBytes,
          stalled_ms: Math.round(e.stalledMs),
        });
        return;
      case 'frame-rejected':
        rejectedFrames.record(e.errorType, {
          ...ids,
          'error.type': e.errorType,
          close_code: e.closeCode,
          reason: e.reason,
        });
        return;
      case 'auth-failed':
        authFailures.record(e.errorType, {
          ...ids,
          'error.type': e.errorType,
          remote_address: e.remoteAddress,
          detail: e.detail,
        });
        return;
      case 'superseded':
        logger.warn('older link superseded by a newer connection', { ...ids, epoch: e.epoch });
        return;
      case 'evicted':
        logger.warn('link evicted', { ...ids, reason: e.reason });
        return;
      case 'queue-failed':
        logger.warn('handler failed', {
          ...ids,
          seq: e.seq,
          'error.type': e.errorType,
          duration_ms: Math.round(e.durationMs),
        });
        return;
      case 'checkpoint-failed':
        logger.error('checkpoint store failed; link closed so the worker replays', {
          ...ids,
          stream: e.stream,
          processed: e.processed,
          'error.type': e.errorType,
        });
        return;
      case 'outbox-dropped':
        logger.debug('message dropped', { ...ids, seq: e.seq, reason: e.reason });
        return;
      default:
        return;
    }
  };
  return Object.assign(listener, {
    close() {
      for (const sampled of [authFailures, rejectedFrames, hubHandshakes, refusedConnections])
        sampled.close();
    },
  });
}
