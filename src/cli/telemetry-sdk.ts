import type { Server } from 'node:http';
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
  type ViewOptions,
} from '@opentelemetry/sdk-metrics';
import { NodeSDK } from '@opentelemetry/sdk-node';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  ParentBasedSampler,
  type Sampler,
} from '@opentelemetry/sdk-trace';
import { ATTR_SERVICE_INSTANCE_ID } from '@opentelemetry/semantic-conventions/incubating';
import type { Level, LogSink } from '../log/logger.js';
import { CARDINALITY_LIMIT } from '../telemetry/catalog.js';
import {
  DEFAULT_MAX_MESSAGE_TRACES_PER_SECOND,
  DEFAULT_TRACE_SAMPLE_RATIO,
} from '../telemetry/link-spans.js';
import { WITHOUT_SCOPE_INFO } from '../telemetry/prometheus-text.js';
import { startMetricsEndpoint } from './metrics-endpoint.js';
import { ObservedMetricsProducer } from './observed-producer.js';

/** Views for the CLI's MeterProvider: the cardinality limit above on every linkwatch instrument. */
export function linkwatchViews(): ViewOptions[] {
  return [{ instrumentName: 'linkwatch.*', aggregationCardinalityLimit: CARDINALITY_LIMIT }];
}

/** The producer the CLI gives every metric reader; instrument() sends observed link metrics to it. */
export function linkwatchMetricProducers(): {
  list: ObservedMetricsProducer[];
  link: ObservedMetricsProducer;
} {
  const link = new ObservedMetricsProducer();
  return { list: [link], link };
}

/**
 * Tracing as the CLI sets it up, from the standard variables.
 * OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG choose the share of
 * messages and healthy heartbeats that are traced (`traceidratio` and
 * `parentbased_traceidratio` take the ratio from the ARG, `always_on` and
 * `parentbased_always_on` are 1, `always_off` and `parentbased_always_off`
 * turn tracing off); unset, it is 1%. linkwatch decides that share itself,
 * before it builds a span, and the SDK then keeps every span linkwatch
 * starts (parent-based, root always on), so handshakes, outages and
 * anomalous heartbeats are always kept. Within the share, at most
 * LINKWATCH_MESSAGE_TRACES_PER_SECOND messages a second (default 100) are
 * traced per process, so the trace rate stays bounded at any message rate.
 */
export function tracingFromEnv(env: NodeJS.ProcessEnv): {
  ratio: number;
  maxMessageTracesPerSecond: number;
  sampler: Sampler;
} {
  const name = (env.OTEL_TRACES_SAMPLER ?? '').trim();
  const keepAll = new ParentBasedSampler({ root: new AlwaysOnSampler() });
  const maxMessageTracesPerSecond = messageTracesPerSecond(env.LINKWATCH_MESSAGE_TRACES_PER_SECOND);
  if (name === 'always_off' || name === 'parentbased_always_off')
    return { ratio: 0, maxMessageTracesPerSecond, sampler: new AlwaysOffSampler() };
  if (name === 'always_on' || name === 'parentbased_always_on')
    return { ratio: 1, maxMessageTracesPerSecond, sampler: keepAll };
  if (name === 'traceidratio' || name === 'parentbased_traceidratio') {
    const arg = Number(env.OTEL_TRACES_SAMPLER_ARG ?? 1);
    const ratio = Number.isFinite(arg) && arg >= 0 && arg <= 1 ? arg : 1;
    return { ratio, maxMessageTracesPerSecond, sampler: keepAll };
  }
  return { ratio: DEFAULT_TRACE_SAMPLE_RATIO, maxMessageTracesPerSecond, sampler: keepAll };
}

function messageTracesPerSecond(value: string | undefined): number {
  if (value === undefined || value.trim() === '') return DEFAULT_MAX_MESSAGE_TRACES_PER_SECOND;
  const n = Number(value);
  if (!(Number.isFinite(n) && n >= 0))
    throw new TypeError(
      `Expected \`LINKWATCH_MESSAGE_TRACES_PER_SECOND\` to be a number >= 0, got ${JSON.stringify(value)}`,
    );
  return n;
}

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
  /** Where instrument() sends observed link metrics (see ObservedMetricsProducer). */
  observedMetrics: ObservedMetricsProducer;
  /** Share of messages and healthy heartbeats traced (OTEL_TRACES_SAMPLER). */
  traceSampleRatio: number;
  /** At most this many messages traced a second per process (LINKWATCH_MESSAGE_TRACES_PER_SECOND). */
  maxMessageTracesPerSecond: number;
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
 * OTEL_RESOURCE_ATTRIBUTES apply as usual, and OTEL_TRACES_SAMPLER as
 * tracingFromEnv() says. Every linkwatch instrument gets CARDINALITY_LIMIT.
 */
export async function startSdk(options: SdkOptions): Promise<Sdk> {
  const env = options.env ?? process.env;
  // First: a bad variable throws before anything is built.
  const tracing = tracingFromEnv(env);
  const exportHealth = new ExportHealth();
  const readers: IMetricReader[] = [];
  const producers = linkwatchMetricProducers();
  let prometheus: PrometheusExporter | undefined;
  if (options.prometheus) {
    prometheus = new PrometheusExporter({
      host: options.prometheus.host,
      port: options.prometheus.port,
      preventServerStart: true,
      withoutScopeInfo: WITHOUT_SCOPE_INFO,
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
          metricProducers: producers.list,
          exportIntervalMillis: intervalMs,
          exportTimeoutMillis: Math.min(timeoutMs, intervalMs),
        }),
      );
    } else if (name === 'console') {
      readers.push(
        new PeriodicExportingMetricReader({
          exporter: new ConsoleMetricExporter(),
          metricProducers: producers.list,
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
    views: linkwatchViews(),
    sampler: tracing.sampler,
    // Unset exporters mean off here, not NodeSDK's default of OTLP to a collector that may not exist.
    ...(tracesOn ? {} : { spanProcessors: [] }),
    ...(logsOn ? {} : { logRecordProcessors: [] }),
    instrumentations: [],
  });
  sdk.start();
  let metricsUrl: string | undefined;
  let endpoint: Server | undefined;
  if (prometheus && options.prometheus) {
    const { host, port } = options.prometheus;
    endpoint = await startMetricsEndpoint(prometheus, producers.link, host, port);
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
    observedMetrics: producers.link,
    traceSampleRatio: tracing.ratio,
    maxMessageTracesPerSecond: tracing.maxMessageTracesPerSecond,
    exportHealth,
    logSink,
    shutdown: () => {
      endpoint?.close();
      endpoint?.closeAllConnections();
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
