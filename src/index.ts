export {
  AuthError,
  ClosedError,
  ConnectionError,
  DeadlineError,
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
export { CloseCode } from './protocol/close-codes.js';
export type { JsonValue, Progress } from './protocol/frames.js';
export type { Handler, HandlerContext, Message } from './queue/work-queue.js';
export { type StopReport, Worker, type WorkerOptions, type WorkerStatus } from './worker/worker.js';
