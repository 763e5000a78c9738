import type { LinkwatchError } from '../errors.js';
import type { LinkState } from '../link/events.js';
import type { Logger } from '../log/logger.js';
import { WatchdogTelemetry, type WatchdogTelemetryOptions } from './otel-sink.js';
import { Watchdog, type WatchdogOptions, type WatchdogTarget } from './watchdog.js';

/** Where the watchdog publishes its view, so /links and the link-state metric show it. */
export interface WatchdogHooks {
  /** Adds the watchdog's view beside other subscribers'; the returned function removes only it. */
  add(provider: {
    stateOf: (workerId: string) => LinkState | undefined;
    alertsOf: (workerId: string) => string[];
  }): () => void;
}

/** What attachWatchdog needs from a Hub: its id and heartbeat settings, and eviction for self-heal. */
export interface WatchedHub extends WatchdogTarget {
  readonly hubId: string;
  readonly settings: { readonly heartbeatIntervalMs: number; readonly heartbeatMisses: number };
  readonly hooks: WatchdogHooks;
  evict(workerId: string, reason: string): unknown;
}

/** What attachWatchdog needs from a Worker: its id, and reconnect for self-heal. */
export interface WatchedWorker extends WatchdogTarget {
  readonly workerId: string;
  readonly hooks: WatchdogHooks;
  reconnect(reason: LinkwatchError): void;
}

export type AttachOptions = Omit<WatchdogOptions, 'side' | 'hubId' | 'reconnect' | 'evict' | 'heartbeat'> &
  Pick<WatchdogTelemetryOptions, 'meterProvider' | 'tracerProvider' | 'observedMetrics'> & {
    logger?: Logger;
    exportHealth?: WatchdogOptions['exportHealth'] & WatchdogTelemetryOptions['exportHealth'];
  };

// A hub evicts, a worker reconnects: the self-heal entry point tells the two sides apart.
function isHub(target: WatchedHub | WatchedWorker): target is WatchedHub {
  return typeof (target as WatchedHub).evict === 'function';
}

/**
 * Puts a watchdog on a Hub or a Worker: self-heal wired to evict()/reconnect(),
 * its state on /links and in the link-state metric, and its alerts in OTel
 * (counter, gauge, log record, span event) besides any other sinks.
 */
export function attachWatchdog(target: WatchedHub | WatchedWorker, options: AttachOptions = {}): Watchdog {
  const hub = isHub(target) ? target : undefined;
  const worker = isHub(target) ? undefined : target;
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
    side: hub ? 'hub' : 'worker',
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
    ...(options.observedMetrics ? { observedMetrics: options.observedMetrics } : {}),
    eventLoop: { delayMs: () => watchdog.loopDelayMs, blocks: () => watchdog.sentinel?.blocks ?? 0 },
    base: hub
      ? { 'linkwatch.link.side': 'hub', 'linkwatch.hub.id': hub.hubId }
      : { 'linkwatch.link.side': 'worker', 'linkwatch.worker.id': worker?.workerId ?? '' },
  });
  watchdog.addSink(telemetry);
  watchdog.onStop(
    target.hooks.add({ stateOf: (id) => watchdog.stateOf(id), alertsOf: (id) => watchdog.alertsOf(id) }),
  );
  return watchdog.start();
}
