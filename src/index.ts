export { type FaultProxy, type FaultProxyOptions, startFaultProxy } from './chaos/fault-proxy.js';
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
export { type CheckpointStore, Hub, type HubOptions, readTlsFiles, type ShutdownReport } from './hub/hub.js';
export type { LinkInfo } from './hub/link-info.js';
export { Backoff, type BackoffOptions } from './link/backoff.js';
export type { LinkEvent, LinkEventListener, LinkEventType, LinkState, Side } from './link/events.js';
export type { OverflowPolicy, SendReceipt } from './link/outbox.js';
export { CLOSE_CODE_MEANINGS, CloseCode } from './protocol/close-codes.js';
export type { JsonValue, Progress } from './protocol/frames.js';
export type { Handler, HandlerContext, Message } from './queue/work-queue.js';
export { ATTR, METRICS, SPANS } from './telemetry/catalog.js';
export { instrument, type LinkTelemetry, type TelemetryOptions } from './telemetry/instrumentation.js';
export type { AlertmanagerSinkOptions } from './watchdog/alertmanager-sink.js';
export {
  ALERT_SPECS,
  type Alert,
  type AlertSink,
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
export { type StopReport, Worker, type WorkerOptions, type WorkerStatus } from './worker/worker.js';
