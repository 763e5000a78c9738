import type { Logger } from '../log/logger.js';
import type { TelemetryHandle, TelemetryStartOptions } from './runtime.js';

export async function startTelemetry(
  _options: TelemetryStartOptions,
  _logger: Logger,
): Promise<TelemetryHandle> {
  return {
    metricsUrl: undefined,
    attachHub() {},
    attachWorker() {},
    async shutdown() {},
  };
}
