/**
 * Buffers that batch frames of large messages are built in, reused once
 * their write completed. A sender of 16 KiB messages made a new 64 KiB
 * Buffer for every batch of four: half a gigabyte a second of ArrayBuffers
 * at 33,000 messages a second, and V8 answers that much external memory with
 * a full mark-compact every 50 ms. Shared by every link of the process and
 * bounded: at most BATCH_BUFFERS_KEPT wait here (1 MiB); one whose write
 * never completes (a socket destroyed) is simply left to the collector.
 */
const BATCH_BUFFERS_KEPT = 16;
const free: Buffer[] = [];

/**
 * A buffer to build one batch frame in, new ones of `bytes` (the pump's
 * largest batch frame); give it back once written. `encodeBatch` makes its
 * own when a frame does not fit.
 */
export function takeBatchBuffer(bytes: number): Buffer {
  return free.pop() ?? Buffer.allocUnsafeSlow(bytes);
}

/** Returns a buffer from takeBatchBuffer() whose frame the socket has written (or dropped). */
export function giveBackBatchBuffer(buffer: Buffer): void {
  if (free.length < BATCH_BUFFERS_KEPT) free.push(buffer);
}
