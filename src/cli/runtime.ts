import type { Hub } from '../hub/hub.js';
import type { Logger } from '../log/logger.js';
import type { ObservedAlertsSink } from '../watchdog/otel-sink.js';
import type { Worker } from '../worker/worker.js';
import type { ExportHealth } from './telemetry-sdk.js';

export interface TelemetryStartOptions {
  role: 'hub' | 'worker' | 'demo';
  /** service.instance.id: the worker id or hub id. */
  instanceId: string | undefined;
  /** Prometheus exporter address; undefined disables it. */
  metricsListen: { host: string; port: number } | undefined;
}

export interface TelemetryHandle {
  metricsUrl: string | undefined;
  /** Export outcomes of OTLP metrics, for the watchdog. */
  exportHealth: ExportHealth;
  /** Where the watchdog's alert series go (the producer of observed metrics; see otel-sink.ts). */
  observedMetrics?: ObservedAlertsSink;
  attachHub(hub: Hub): void;
  attachWorker(worker: Worker): void;
  /** Flushes and stops exporters; safe to call twice. */
  shutdown(): Promise<void>;
}

/** What commands need from the process, so tests can run them in-process too. */
export interface Runtime {
  logger: Logger;
  /** Prints one JSON line on stdout (the summary). */
  print(summary: Record<string, unknown>): void;
  /** stdout for the demo's live view or its log lines. */
  terminal: { isTTY: boolean; write(text: string): void };
  /**
   * Resolves on SIGINT or SIGTERM. Aborting `cancel` removes its listeners: a
   * listener left behind swallows the next SIGTERM, so a command that ends
   * for another reason must cancel it.
   */
  untilSignal(cancel?: AbortSignal): Promise<string>;
  startTelemetry(options: TelemetryStartOptions): Promise<TelemetryHandle>;
}
