import type { Hub } from '../hub/hub.js';
import type { Logger, LogSink } from '../log/logger.js';
import { instrument, type LinkTelemetry } from '../telemetry/instrumentation.js';
import type { Worker } from '../worker/worker.js';
import { UsageError } from './args.js';
import type { TelemetryHandle, TelemetryStartOptions } from './runtime.js';
import { startSdk } from './telemetry-sdk.js';

/** Starts the SDK for a CLI command and attaches instrumentation to what it runs. */
export async function startTelemetry(
  options: TelemetryStartOptions,
  logger: Logger & { sinks?: LogSink[] },
): Promise<TelemetryHandle> {
  let sdk: Awaited<ReturnType<typeof startSdk>>;
  try {
    sdk = await startSdk({
      serviceName: `linkwatch-${options.role}`,
      instanceId: options.instanceId,
      prometheus: options.metricsListen,
    });
  } catch (err) {
    // A bad LINKWATCH_MESSAGE_TRACES_PER_SECOND: the message names it.
    if (err instanceof TypeError) throw new UsageError(err.message);
    const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    const where = options.metricsListen ? `${options.metricsListen.host}:${options.metricsListen.port}` : '';
    throw new UsageError(`--metrics-listen ${where}: ${code} (pick a free port or "off")`);
  }
  if (sdk.logSink) logger.sinks?.push(sdk.logSink);
  const attached: LinkTelemetry[] = [];
  // Observed link metrics through the SDK's producer; sampling from OTEL_TRACES_SAMPLER and the cap.
  const fromSdk = {
    observedMetrics: sdk.observedMetrics,
    traceSampleRatio: sdk.traceSampleRatio,
    maxMessageTracesPerSecond: sdk.maxMessageTracesPerSecond,
  };
  return {
    metricsUrl: sdk.metricsUrl,
    exportHealth: sdk.exportHealth,
    observedMetrics: sdk.observedMetrics,
    attachHub(hub: Hub) {
      attached.push(instrument(hub, { side: 'hub', hubId: hub.hubId, ...fromSdk }));
    },
    attachWorker(worker: Worker) {
      attached.push(instrument(worker, { side: 'worker', ...fromSdk }));
    },
    async shutdown() {
      // Flush first (the SDK collects once more on shutdown), then detach.
      await sdk.shutdown();
      for (const t of attached) t.dispose();
    },
  };
}
