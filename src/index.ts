/**
 * The public entry: the core link (Hub, Worker), its telemetry and its
 * watchdog, and the types their signatures use. Tools live elsewhere: the
 * fault proxy is `linkwatch/chaos`, the CLI is the `linkwatch` binary. A test
 * (test/unit/structure/public-api.test.ts) fails when a public signature
 * mentions a type this file does not export.
 */
export {
  AuthError,
  ClosedError,
  ConnectionError,
  DeadlineError,
  ERROR_CODES,
  type ErrorCode,
  LinkwatchError,
  OutboxFullError,
  ProtocolError,
} from './errors.js';
export { parseTokenFile, type TokenEntry } from './hub/auth.js';
export { Hub, type HubStats, type ShutdownReport } from './hub/hub.js';
export type { LinkInfo } from './hub/link-info.js';
export type { CheckpointStore, HubOptions, HubRoute, ParsedHubOptions } from './hub/options.js';
export type { BackoffOptions } from './link/backoff.js';
export type {
  DisconnectReason,
  EventScope,
  LinkEvent,
  LinkEventBase,
  LinkEventListener,
  LinkEventType,
  LinkState,
  Side,
} from './link/events.js';
export { type LinkHookProvider, LinkHooks, type SendTrace } from './link/hooks.js';
export type { LinkOptions, ParsedLinkOptions } from './link/options.js';
export type { OverflowPolicy, SendReceipt } from './link/outbox.js';
export type { SessionCounters } from './link/session.js';
export type { LinkSource, LinkView, OutboxView, QueueView, SessionView } from './link/view.js';
export type { LogFields, Logger } from './log/logger.js';
export { CLOSE_CODE_MEANINGS, CloseCode, type CloseCodeName } from './protocol/close-codes.js';
export type { JsonValue, Progress } from './protocol/frames.js';
export type { AroundHandler, Handler, HandlerContext, Message } from './queue/work-queue.js';
export {
  ATTR,
  CARDINALITY_LIMIT,
  type HubSeries,
  type Instrument,
  METRICS,
  type MetricKey,
  type MetricSpec,
  SPANS,
  type SpanSpec,
} from './telemetry/catalog.js';
export {
  type Emit,
  type InstrumentTarget,
  instrument,
  type LinkTelemetry,
  type MetricsSource,
  type ObservedMetricsSink,
  type TelemetryOptions,
} from './telemetry/instrumentation.js';
export { OwnHistogram } from './telemetry/own-histogram.js';
export type { AlertmanagerSink, AlertmanagerSinkOptions } from './watchdog/alertmanager-sink.js';
export {
  ALERT_SPECS,
  type Alert,
  type AlertSink,
  type AlertSpec,
  type HealthReason,
  type Severity,
} from './watchdog/alerts.js';
export {
  type AttachOptions,
  attachWatchdog,
  type WatchdogHooks,
  type WatchedHub,
  type WatchedWorker,
} from './watchdog/attach.js';
export type { HealthThresholds } from './watchdog/health.js';
export type { WatchedLink, WatchedSession } from './watchdog/link-tracker.js';
export type { ObservedAlertsSink, WatchdogTelemetryOptions } from './watchdog/otel-sink.js';
export type { EventLoopSentinel, SentinelOptions } from './watchdog/sentinel.js';
export {
  Watchdog,
  type WatchdogAction,
  type WatchdogEvent,
  type WatchdogOptions,
  type WatchdogTarget,
} from './watchdog/watchdog.js';
export type { WorkerOptions } from './worker/options.js';
export { type StopReport, Worker, type WorkerState, type WorkerStatus } from './worker/worker.js';
