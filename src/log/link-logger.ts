import type { LinkEvent, LinkEventListener } from '../link/events.js';
import type { Logger } from './logger.js';

/**
 * Turns link events into log lines: one per state change, fault and
 * rejected frame; nothing per message. Subscribe it with `hub.on()` or
 * `worker.on()`.
 */
export function linkLogger(logger: Logger): LinkEventListener {
  return (e: LinkEvent) => {
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
        logger.warn('handshake failed', { ...ids, url: e.url, 'error.type': e.errorType });
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
        logger.warn('frame rejected: closing link', {
          ...ids,
          'error.type': e.errorType,
          close_code: e.closeCode,
          reason: e.reason,
        });
        return;
      case 'auth-failed':
        logger.warn('authentication failed', {
          ...ids,
          'error.type': e.errorType,
          remote_address: e.remoteAddress,
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
}
