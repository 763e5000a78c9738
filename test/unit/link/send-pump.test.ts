import { describe, expect, it } from 'vitest';
import * as D from '../../../src/defaults.js';
import {
  batchLimit,
  MAX_BATCH_BYTES,
  MIN_BATCH_BYTES,
  type SendPumpSettings,
} from '../../../src/link/send-pump.js';

/*
 * How large a batch frame may grow: what the slowest link the send deadline
 * accepts carries in a quarter of the heartbeat interval, so heartbeats and
 * acks never wait long behind one frame, between MIN and MAX_BATCH_BYTES.
 */

const defaults: SendPumpSettings = {
  sendWindow: D.DEFAULT_QUEUE_CAPACITY,
  maxFrameBytes: D.DEFAULT_MAX_FRAME_BYTES,
  highWatermarkBytes: D.DEFAULT_HIGH_WATERMARK_BYTES,
  sendStallTimeoutMs: D.DEFAULT_SEND_STALL_TIMEOUT_MS,
  heartbeatIntervalMs: D.DEFAULT_HEARTBEAT_INTERVAL_MS,
  batch: true,
};

describe('batchLimit', () => {
  it('lets frames reach MAX_BATCH_BYTES with the default 5 s heartbeats', () => {
    // 512 KiB per 10 s is 52 bytes a millisecond; a quarter of 5 s carries 65 KB.
    expect(batchLimit(defaults)).toBe(MAX_BATCH_BYTES);
  });

  it('keeps frames at MIN_BATCH_BYTES with fast heartbeats, so a slow link never holds one back an interval', () => {
    expect(batchLimit({ ...defaults, heartbeatIntervalMs: 100 })).toBe(MIN_BATCH_BYTES);
    expect(batchLimit({ ...defaults, heartbeatIntervalMs: 200 })).toBe(MIN_BATCH_BYTES);
  });

  it('follows the slowest accepted link in between', () => {
    // 52.4 bytes a millisecond × 2,000 ms / 4.
    expect(batchLimit({ ...defaults, heartbeatIntervalMs: 2000 })).toBe(26_214);
    // A lower watermark accepts slower links: smaller frames.
    expect(batchLimit({ ...defaults, highWatermarkBytes: 256 * 1024 })).toBe(MIN_BATCH_BYTES);
  });

  it('never exceeds what the peer accepts or the watermark, and is 0 without batching', () => {
    expect(batchLimit({ ...defaults, maxFrameBytes: 4096 })).toBe(4096);
    expect(batchLimit({ ...defaults, highWatermarkBytes: 8192, sendStallTimeoutMs: 10 })).toBe(8192);
    expect(batchLimit({ ...defaults, batch: false })).toBe(0);
  });
});
