import { logs, SeverityNumber } from '@opentelemetry/api';
import { ExportResultCode } from '@opentelemetry/core';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import {
  envDetector,
  hostDetector,
  osDetector,
  processDetector,
  type ResourceDetector,
  resourceFromAttributes,
} from '@opentelemetry/resources';
import {
  ConsoleMetricExporter,
  type IMetricReader,
  PeriodicExportingMetricReader,
  type PushMetricExporter,
} from '@opentelemetry/sdk-metrics';
import { NodeSDK } from '@opentelemetry/sdk-node';
import { ATTR_SERVICE_INSTANCE_ID } from '@opentelemetry/semantic-conventions/incubating';
import type { Level, LogSink } from '../log/logger.js';

/** Counts telemetry export results, so the watchdog can alert on `telemetry-export-failing`. */
export class ExportHealth {
  failures = 0;
  successes = 0;
  lastFailureAt: number | undefined;
  lastSuccessAt: number | undefined;
  /** Failed exports since the last success. */
  consecutiveFailures = 0;
  /** Called on every failed export (telemetry counts them). */
  readonly onFailure = new Set<() => void>();

  record(ok: boolean): void {
    const now = performance.now();
    if (ok) {
      this.successes++;
      this.lastSuccessAt = now;
      this.consecutiveFailures = 0;
    } else {
      this.failures++;
      this.lastFailureAt = now;
      this.consecutiveFailures++;
      for (const listener of this.onFailure) listener();
    }
  }
}

/**
 * The process detector without the command line: it would put every flag,
 * an `--alertmanager` URL with credentials among them, into `target_info`
 * and every exported resource.
 */
const processWithoutArgs: ResourceDetector = {
  detect(config) {
    const { attributes = {} } = processDetector.detect(config);
    const { 'process.command_args': _args, 'process.command_line': _line, ...rest } = attributes;
    return { attributes: rest };
  },
};

/** Wraps a push exporter and reports every result to ExportHealth. */
function observed(exporter: PushMetricExporter, health: ExportHealth): PushMetricExporter {
  return {
    export: (metrics, done) =>
      exporter.export(metrics, (result) => {
        health.record(result.code === ExportResultCode.SUCCESS);
        done(result);
      }),
    forceFlush: () => exporter.forceFlush(),
    shutdown: () => exporter.shutdown(),
    ...(exporter.selectAggregationTemporality
      ? { selectAggregationTemporality: exporter.selectAggregationTemporality.bind(exporter) }
      : {}),
    ...(exporter.selectAggregation ? { selectAggregation: exporter.selectAggregation.bind(exporter) } : {}),
  };
}

export interface SdkOptions {
  /** service.name when OTEL_SERVICE_NAME is not set. */
  serviceName: string;
  /** service.instance.id: the worker id or hub id (OTEL_RESOURCE_ATTRIBUTES can override). */
  instanceId: string | undefined;
  /** The embedded Prometheus exporter; undefined turns it off. */
  prometheus: { host: string; port: number } | undefined;
  env?: NodeJS.ProcessEnv;
}

export interface Sdk {
  metricsUrl: string | undefined;
  exportHealth: ExportHealth;
  /** Forwards log lines to OTel logs; set only when OTEL_LOGS_EXPORTER is set. */
  logSink: LogSink | undefined;
  shutdown(): Promise<void>;
}

function list(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

async function otlpMetricExporter(env: NodeJS.ProcessEnv): Promise<PushMetricExporter> {
  const protocol = (
    env.OTEL_EXPORTER_OTLP_METRICS_PROTOCOL ??
    env.OTEL_EXPORTER_OTLP_PROTOCOL ??
    'http/protobuf'
  ).trim();
  if (protocol === 'grpc')
    return new (await import('@opentelemetry/exporter-metrics-otlp-grpc')).OTLPMetricExporter();
  if (protocol === 'http/json')
    return new (await import('@opentelemetry/exporter-metrics-otlp-http')).OTLPMetricExporter();
  return new (await import('@opentelemetry/exporter-metrics-otlp-proto')).OTLPMetricExporter();
}

/**
 * Starts `@opentelemetry/sdk-node` for the CLI. The embedded default is the
 * Prometheus exporter alone: no collector needed, no OTLP retries against a
 * collector that is not there. Every standard `OTEL_*` variable still works:
 * OTEL_METRICS_EXPORTER=otlp adds an OTLP reader (protocol from
 * OTEL_EXPORTER_OTLP[_METRICS]_PROTOCOL), OTEL_TRACES_EXPORTER and
 * OTEL_LOGS_EXPORTER turn on traces and logs, and OTEL_SERVICE_NAME,
 * OTEL_RESOURCE_ATTRIBUTES and OTEL_TRACES_SAMPLER apply as usual.
 */
export async function startSdk(options: SdkOptions): Promise<Sdk> {
  const env = options.env ?? process.env;
  const exportHealth = new ExportHealth();
  const readers: IMetricReader[] = [];
  let prometheus: PrometheusExporter | undefined;
  if (options.prometheus) {
    prometheus = new PrometheusExporter({
      host: options.prometheus.host,
      port: options.prometheus.port,
      preventServerStart: true,
    });
    readers.push(prometheus);
  }
  const intervalMs = Number(env.OTEL_METRIC_EXPORT_INTERVAL ?? 60_000);
  const timeoutMs = Number(env.OTEL_METRIC_EXPORT_TIMEOUT ?? 30_000);
  for (const name of list(env.OTEL_METRICS_EXPORTER)) {
    if (name === 'otlp') {
      readers.push(
        new PeriodicExportingMetricReader({
          exporter: observed(await otlpMetricExporter(env), exportHealth),
          exportIntervalMillis: intervalMs,
          exportTimeoutMillis: Math.min(timeoutMs, intervalMs),
        }),
      );
    } else if (name === 'console') {
      readers.push(
        new PeriodicExportingMetricReader({
          exporter: new ConsoleMetricExporter(),
          exportIntervalMillis: intervalMs,
        }),
      );
    }
    // 'prometheus' is the embedded exporter (--metrics-listen); 'none' adds nothing.
  }
  const tracesOn = list(env.OTEL_TRACES_EXPORTER).some((n) => n !== 'none');
  const logsOn = list(env.OTEL_LOGS_EXPORTER).some((n) => n !== 'none');
  const sdk = new NodeSDK({
    ...(env.OTEL_SERVICE_NAME ? {} : { serviceName: options.serviceName }),
    resource: resourceFromAttributes(
      options.instanceId ? { [ATTR_SERVICE_INSTANCE_ID]: options.instanceId } : {},
    ),
    // No serviceInstanceIdDetector: it would replace the worker id with a random UUID.
    resourceDetectors: [envDetector, hostDetector, osDetector, processWithoutArgs],
    metricReaders: readers,
    // Unset exporters mean off here, not NodeSDK's default of OTLP to a collector that may not exist.
    ...(tracesOn ? {} : { spanProcessors: [] }),
    ...(logsOn ? {} : { logRecordProcessors: [] }),
    instrumentations: [],
  });
  sdk.start();
  let metricsUrl: string | undefined;
  if (prometheus && options.prometheus) {
    await prometheus.startServer();
    const { host, port } = options.prometheus;
    metricsUrl = `http://${host.includes(':') ? `[${host}]` : host}:${port}/metrics`;
  }
  const otelLogger = logsOn ? logs.getLogger('linkwatch') : undefined;
  const logSink: LogSink | undefined = otelLogger
    ? (level, msg, fields) => {
        const attributes: Record<string, string | number | boolean> = {};
        for (const [k, v] of Object.entries(fields)) if (v !== undefined && v !== null) attributes[k] = v;
        otelLogger.emit({
          severityNumber: SEVERITY[level],
          severityText: level.toUpperCase(),
          body: msg,
          attributes,
        });
      }
    : undefined;
  let stopped: Promise<void> | undefined;
  return {
    metricsUrl,
    exportHealth,
    logSink,
    shutdown: () => {
      stopped ??= sdk.shutdown().catch(() => {});
      return stopped;
    },
  };
}

const SEVERITY: Record<Level, SeverityNumber> = {
  debug: SeverityNumber.DEBUG,
  info: SeverityNumber.INFO,
  warn: SeverityNumber.WARN,
  error: SeverityNumber.ERROR,
};
