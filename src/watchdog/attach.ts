import type { Hub } from '../hub/hub.js';
import type { Logger } from '../log/logger.js';
import type { Worker } from '../worker/worker.js';
import { WatchdogTelemetry, type WatchdogTelemetryOptions } from './otel-sink.js';
import { Watchdog, type WatchdogOptions } from './watchdog.js';

export type AttachOptions = Omit<WatchdogOptions, 'side' | 'hubId' | 'reconnect' | 'evict' | 'heartbeat'> &
  Pick<WatchdogTelemetryOptions, 'meterProvider' | 'tracerProvider'> & {
    logger?: Logger;
    exportHealth?: WatchdogOptions['exportHealth'] & WatchdogTelemetryOptions['exportHealth'];
  };

/**
 * Puts a watchdog on a Hub or a Worker: self-heal wired to evict()/reconnect(),
 * its state on /links and in the link-state metric, and its alerts in OTel
 * (counter, gauge, log record, span event) besides any other sinks.
 */
export function attachWatchdog(target: Hub | Worker, options: AttachOptions = {}): Watchdog {
  const isHub = 'hubId' in target && typeof (target as Hub).evict === 'function';
  const hub = isHub ? (target as Hub) : undefined;
  const worker = isHub ? undefined : (target as Worker);
  let telemetry: WatchdogTelemetry | undefined;
  const am = options.alertmanager;
  const watchdog = new Watchdog(target, {
    ...options,
    ...(am
      ? {
          alertmanager: {
            ...am,
            onFailure: (error: string) => {
              telemetry?.deliveryFailed();
              am.onFailure?.(error);
            },
          },
        }
      : {}),
    side: isHub ? 'hub' : 'worker',
    hubId: hub?.hubId,
    ...(hub
      ? {
          heartbeat: { intervalMs: hub.settings.heartbeatIntervalMs, misses: hub.settings.heartbeatMisses },
          evict: (workerId: string, reason: string) => hub.evict(workerId, `watchdog: ${reason}`),
        }
      : { reconnect: (err) => worker?.reconnect(err) }),
  });
  telemetry = new WatchdogTelemetry({
    ...(options.meterProvider ? { meterProvider: options.meterProvider } : {}),
    ...(options.tracerProvider ? { tracerProvider: options.tracerProvider } : {}),
    ...(options.logger ? { logger: options.logger } : {}),
    ...(options.exportHealth ? { exportHealth: options.exportHealth } : {}),
    eventLoop: { delayMs: () => watchdog.loopDelayMs, blocks: () => watchdog.sentinel?.blocks ?? 0 },
    base: hub
      ? { 'linkwatch.link.side': 'hub', 'linkwatch.hub.id': hub.hubId }
      : { 'linkwatch.link.side': 'worker', 'linkwatch.worker.id': worker?.workerId ?? '' },
  });
  watchdog.addSink(telemetry);
  target.hooks.stateOf = (id) => watchdog.stateOf(id);
  target.hooks.alertsOf = (id) => watchdog.alertsOf(id);
  return watchdog.start();
}
