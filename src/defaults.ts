/** Defaults shared by the hub and the worker. Each is documented in the README options tables. */
export const DEFAULT_HEARTBEAT_INTERVAL_MS = 5_000;
export const DEFAULT_HEARTBEAT_MISSES = 3;
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 5_000;
export const DEFAULT_MAX_FRAME_BYTES = 1024 * 1024;
export const DEFAULT_QUEUE_CONCURRENCY = 1;
export const DEFAULT_QUEUE_CAPACITY = 1_000;
export const DEFAULT_HANDLER_TIMEOUT_MS = 30_000;
export const DEFAULT_OUTBOX_MAX_MESSAGES = 10_000;
export const DEFAULT_OUTBOX_MAX_BYTES = 64 * 1024 * 1024;
export const DEFAULT_ACK_DELAY_MS = 20;
export const DEFAULT_ACK_BATCH = 64;
export const DEFAULT_HIGH_WATERMARK_BYTES = 1024 * 1024;
export const DEFAULT_SEND_STALL_TIMEOUT_MS = 10_000;
export const DEFAULT_SHUTDOWN_TIMEOUT_MS = 10_000;
export const DEFAULT_SESSION_TTL_MS = 10 * 60_000;
