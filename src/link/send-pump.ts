import { batchBytes, batchIsText, encodeBufferBatch, encodeTextBatch } from '../protocol/data-frames.js';
import { giveBackBatchBuffer, takeBatchBuffer } from './batch-buffers.js';
import type { OutboxEntry } from './outbox.js';
import type { Session } from './session.js';
import { writeText } from './text-frames.js';
import { TEXT, type Transport } from './transport.js';

/**
 * Batch frames hold at most `batchLimit()` bytes (a single message may still
 * be up to maxFrameBytes). A frame is delivered only once whole, and our
 * acks and heartbeats wait behind it: on a link slower than its traffic,
 * 64 KiB frames at 512 KB/s (125 ms each) made heartbeats at a 100 ms
 * interval count as missed. So the limit is what the slowest link the send
 * deadline accepts (half the watermark per `sendStallTimeoutMs`) carries in
 * a quarter of the heartbeat interval, between these two bounds. The floor
 * is what a stream of 16 KiB messages always sent, and still carries over
 * 200 small messages per frame; with the defaults (5 s heartbeats) frames
 * reach the ceiling, which measured 24% less CPU per message than 16 KiB
 * frames at 1 KiB and at 16 KiB (bench/results/send-batch.md).
 */
export const MIN_BATCH_BYTES = 16 * 1024;
export const MAX_BATCH_BYTES = 64 * 1024;

/** The largest batch frame for these settings; 0 without batching (see MIN_BATCH_BYTES). */
export function batchLimit(settings: SendPumpSettings): number {
  const { batch, maxFrameBytes, highWatermarkBytes, sendStallTimeoutMs, heartbeatIntervalMs } = settings;
  if (!batch) return 0;
  const slowestBytesPerMs = highWatermarkBytes / 2 / sendStallTimeoutMs;
  const byHeartbeat = Math.floor((slowestBytesPerMs * heartbeatIntervalMs) / 4);
  const limit = Math.min(MAX_BATCH_BYTES, Math.max(MIN_BATCH_BYTES, byHeartbeat));
  // Never above what the peer accepts, nor above the watermark (data stops there).
  return Math.min(maxFrameBytes, highWatermarkBytes, limit);
}

/**
 * Frames one turn of the event loop writes at once, each as its message is
 * sent, before the turn's later messages wait for its end and leave as one
 * batch frame (see SendPump.request). Each such write is a syscall that, on
 * loopback, also runs the peer's TCP receive; a few per turn cost little
 * next to what a message that waits for the turn's end pays in latency.
 */
export const IMMEDIATE_WRITES_PER_TURN = 4;

/** The link settings the pump reads. */
export interface SendPumpSettings {
  sendWindow: number;
  maxFrameBytes: number;
  highWatermarkBytes: number;
  sendStallTimeoutMs: number;
  heartbeatIntervalMs: number;
  batch?: boolean | undefined;
}

/**
 * Everything a Link writes goes through here: data from the outbox, batched
 * and flow-controlled, and control frames. Every frame counts toward the
 * socket's buffered bytes: past the high watermark data waits and the drain
 * deadline runs (whichever frame crossed it); not drained to half within
 * `sendStallTimeoutMs`, or past the hard bound, `stalled` is called. One
 * drain timer at most; `stop()` releases it and every later call is a no-op.
 */
export class SendPump {
  readonly #transport: Transport;
  readonly #session: Session;
  readonly #settings: SendPumpSettings;
  readonly #stalled: (bufferedBytes: number, stalledMs: number, what: string) => void;
  #stopped = false;
  // Polls bufferedAmount while above the high watermark; data waits while it runs.
  #drainTimer: ReturnType<typeof setInterval> | undefined;
  #stalledSince = 0;
  // A pump is queued on process.nextTick, at the end of this turn of the event loop.
  #queued = false;
  // Frames request() wrote at once this turn (at most IMMEDIATE_WRITES_PER_TURN); reset by that pump.
  #immediate = 0;
  #dataFramesSent = 0;
  // batchLimit(settings), fixed for the link.
  readonly #frameLimit: number;

  constructor(
    transport: Transport,
    session: Session,
    settings: SendPumpSettings,
    stalled: (bufferedBytes: number, stalledMs: number, what: string) => void,
  ) {
    this.#transport = transport;
    this.#session = session;
    this.#settings = settings;
    this.#stalled = stalled;
    this.#frameLimit = batchLimit(settings);
  }

  /** Data-carrying frames (data or batch) written. */
  get dataFramesSent(): number {
    return this.#dataFramesSent;
  }

  /**
   * A message was queued. While nothing else waits to go, it is written at
   * once, inside this call: a message that finds the link idle pays no
   * batching delay, whether it is the first of its turn of the event loop or
   * the second (at 2,000 msg/s on a 1 ms timer a turn sends two or three,
   * and the second waited for the turn's end before: a median 6-10 µs on
   * the send-to-handler latency). After IMMEDIATE_WRITES_PER_TURN such
   * writes in one turn, the rest of the turn's messages wait until its
   * synchronous work and promise callbacks are done (`process.nextTick`) and
   * leave as one batch frame, so a burst costs at most that many writes plus
   * one. Not a timer: nothing ever waits for I/O to be polled. A message of
   * `messageBytes` that fills a frame alone (or any message to a revision-1
   * peer) gains nothing from waiting and is written at once, as before
   * batching. Messages that wait for the window or the socket buffer still
   * leave together, when the ack or the drain that frees them pumps.
   */
  request(messageBytes: number): void {
    if (this.#stopped) return;
    const outbox = this.#session.outbox;
    if (messageBytes >= this.#frameLimit) {
      // With the window full there is nothing to write: the ack that opens it pumps.
      if (outbox.inFlight < this.#settings.sendWindow) this.pump();
      return;
    }
    if (outbox.unsent === 1 && this.#immediate < IMMEDIATE_WRITES_PER_TURN) {
      this.#immediate++;
      this.pump();
    }
    // Queued after the write, not before: on the first message of a turn, which finds the
    // process just woken and its caches cold, process.nextTick took a median 3.5 µs.
    if (!this.#queued) {
      this.#queued = true;
      process.nextTick(runQueued, this);
    }
  }

  /** For runQueued only. */
  runQueued(): void {
    this.#queued = false;
    this.#immediate = 0;
    this.pump();
  }

  /**
   * Writes what is waiting while the window and the socket buffer allow:
   * with `batch`, one frame per turn of the loop holding every message that
   * fits the window and the frame limit; without, one data frame each.
   */
  pump(): void {
    if (this.#stopped || this.#drainTimer) return;
    const outbox = this.#session.outbox;
    const { sendWindow, highWatermarkBytes } = this.#settings;
    for (;;) {
      const buffered = this.#transport.bufferedAmount;
      if (buffered >= highWatermarkBytes) {
        this.#watchDrain();
        return;
      }
      if (outbox.unsent === 1) {
        // The usual case at moderate rates: one message, its frame as it is, no batch to build.
        const entry = outbox.takeNext(sendWindow);
        if (!entry) return;
        this.#write(entry.frame, entry.bytes, buffered);
        this.#counted(entry);
        return;
      }
      const batch = outbox.takeBatch(sendWindow, this.#frameLimit);
      if (batch.length === 0) return;
      // Alone, the outbox's frame goes out as it is: no copy, and the same bytes on replay.
      if (batch.length === 1) this.#write(batch[0]!.frame, batch[0]!.bytes, buffered);
      else {
        const bytes = batchBytes(batch);
        if (batchIsText(batch)) this.#write(encodeTextBatch(batch), bytes, buffered);
        else {
          // Large messages: built in a reused buffer, given back once the socket wrote it.
          const into = takeBatchBuffer(MAX_BATCH_BYTES);
          this.#write(encodeBufferBatch(batch, bytes, into), bytes, buffered, into);
        }
      }
      for (const entry of batch) this.#counted(entry);
      if (outbox.unsent === 0) return;
    }
  }

  /** One data-carrying frame to the socket, which held `buffered` bytes before it; `pooled` is given back once written. */
  #write(frame: string | Buffer, bytes: number, buffered: number, pooled?: Buffer): void {
    // Only a write that may leave the buffer past half the watermark can be the one whose
    // completion resumes a waiting pump (#written); the others go without a callback, which
    // spares the socket a callback closure and a process.nextTick per write.
    const written = buffered + bytes >= this.#settings.highWatermarkBytes / 2 ? this.#written : undefined;
    if (pooled) {
      let kept = true;
      this.#transport.send(frame, TEXT, () => {
        if (kept) giveBackBatchBuffer(pooled);
        kept = false;
        written?.();
      });
      // Handed to the kernel at once (nothing more buffered): no write refers to it any more.
      if (kept && this.#transport.bufferedAmount <= buffered) {
        kept = false;
        giveBackBatchBuffer(pooled);
      }
    } else if (typeof frame === 'string' && !written) {
      // Straight to the socket when ws allows (see text-frames.ts), else through ws.
      if (!writeText(this.#transport, frame, bytes)) this.#transport.send(frame);
    } else this.#transport.send(frame, TEXT, written);
    this.#dataFramesSent++;
    this.#session.counters.bytesSent += bytes;
  }

  /** Counts one message that went on the wire, and emits its data-sent event to per-message listeners. */
  #counted(entry: OutboxEntry): void {
    const s = this.#session;
    const replay = entry.sends > 1;
    if (replay) s.counters.replayed++;
    else s.counters.sent++;
    if (s.events.perMessage) {
      s.events.emit({ ...s.eventBase(), type: 'data-sent', seq: entry.seq, bytes: entry.bytes, replay });
    }
  }

  /**
   * Writes a control frame (hb, hb-ack, ack). Past the watermark it arms the
   * drain deadline like data does; past the hard bound the link goes at
   * once, so a peer that never reads cannot make us buffer without limit.
   */
  writeControl(frame: string): void {
    if (this.#stopped) return;
    const t = this.#transport;
    t.send(frame);
    const { highWatermarkBytes, maxFrameBytes } = this.#settings;
    const buffered = t.bufferedAmount;
    if (buffered < highWatermarkBytes) return;
    // Data stops at the watermark, so only one data frame (≤ maxFrameBytes) and control frames pass it.
    if (buffered > 2 * highWatermarkBytes + maxFrameBytes) {
      this.#stalled(buffered, 0, 'over the buffered-bytes bound');
      return;
    }
    if (!this.#drainTimer) this.#watchDrain();
  }

  /** Releases the drain timer; the pump writes nothing after this. */
  stop(): void {
    this.#stopped = true;
    if (this.#drainTimer) clearInterval(this.#drainTimer);
    this.#drainTimer = undefined;
  }

  /**
   * A data frame was written to the socket. While the pump waits for the
   * buffer to drain, this resumes it as soon as half the watermark is free,
   * without waiting for the next deadline check.
   */
  readonly #written = (): void => {
    if (!this.#drainTimer || this.#transport.bufferedAmount >= this.#settings.highWatermarkBytes / 2) return;
    clearInterval(this.#drainTimer);
    this.#drainTimer = undefined;
    this.pump();
  };

  /** Above the watermark: wait for writes to drain it (#written), and enforce the stall deadline. */
  #watchDrain(): void {
    const { highWatermarkBytes, sendStallTimeoutMs } = this.#settings;
    this.#stalledSince = performance.now();
    const every = Math.max(5, Math.min(1000, Math.floor(sendStallTimeoutMs / 10)));
    this.#drainTimer = setInterval(() => {
      const buffered = this.#transport.bufferedAmount;
      if (buffered < highWatermarkBytes / 2) {
        clearInterval(this.#drainTimer);
        this.#drainTimer = undefined;
        this.pump();
        return;
      }
      const stalledMs = performance.now() - this.#stalledSince;
      if (stalledMs >= sendStallTimeoutMs) this.#stalled(buffered, stalledMs, 'buffered');
    }, every);
  }
}

function runQueued(pump: SendPump): void {
  pump.runQueued();
}
