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
export type { CheckpointStore, HubOptions, HubRoute } from './hub/options.js';
export type { BackoffOptions } from './link/backoff.js';
export type {
  DisconnectReason,
  EventScope,
  LinkEvent,
  LinkEventListener,
  LinkEventType,
  LinkState,
  Side,
} from './link/events.js';
export type { LinkOptions } from './link/options.js';
export type { OverflowPolicy, SendReceipt } from './link/outbox.js';
export type { SessionCounters } from './link/session.js';
export type { LogFields, Logger } from './log/logger.js';
export { CLOSE_CODE_MEANINGS, CloseCode, type CloseCodeName } from './protocol/close-codes.js';
export type { JsonValue, Progress } from './protocol/frames.js';
export type { Handler, HandlerContext, Message } from './queue/work-queue.js';
export {
  ATTR,
  type Instrument,
  METRICS,
  type MetricSpec,
  SPANS,
  type SpanSpec,
} from './telemetry/catalog.js';
export { instrument, type LinkTelemetry, type TelemetryOptions } from './telemetry/instrumentation.js';
export type { AlertmanagerSinkOptions } from './watchdog/alertmanager-sink.js';
export {
  ALERT_SPECS,
  type Alert,
  type AlertSink,
  type AlertSpec,
  type HealthReason,
  type Severity,
} from './watchdog/alerts.js';
export { type AttachOptions, attachWatchdog } from './watchdog/attach.js';
export type { HealthThresholds } from './watchdog/health.js';
export {
  Watchdog,
  type WatchdogAction,
  type WatchdogEvent,
  type WatchdogOptions,
} from './watchdog/watchdog.js';
export type { WorkerOptions } from './worker/options.js';
export { type StopReport, Worker, type WorkerState, type WorkerStatus } from './worker/worker.js';
