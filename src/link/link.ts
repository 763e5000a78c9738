import { DeadlineError, type LinkwatchError, ProtocolError } from '../errors.js';
import { CloseCode, clampReason } from '../protocol/close-codes.js';
import { decodeFrame, encodeFrame } from '../protocol/codec.js';
import { type BatchItem, type Frame, HELD_ACK_REVISION, type Progress } from '../protocol/frames.js';
import { peerCloseError } from './endpoint.js';
import { Heartbeat, type HeartbeatHost } from './heartbeat.js';
import { SendPump } from './send-pump.js';
import type { Session, SessionLink } from './session.js';
import type { Transport } from './transport.js';

/** A polite close that takes longer than this is cut with terminate(), ms. */
export const CLOSE_TIMEOUT_MS = 1000;
/**
 * A peer sends one heartbeat per agreed interval from the start of its link,
 * so after t ms it can have sent at most t / interval + 1 of them; delays
 * only bunch them up, they never add any. More than this many above that
 * count is a flood: each costs us an hb-ack write.
 */
export const HEARTBEAT_FLOOD_LIMIT = 10;

/** Settings of one live link, agreed in the handshake. */
export interface LinkSettings {
  heartbeatIntervalMs: number;
  heartbeatMisses: number;
  /** Max of our data frames in flight unacked (the peer's queue capacity). */
  sendWindow: number;
  /** Max of the peer's data frames we hold unprocessed (our queue capacity). */
  receiveWindow: number;
  maxFrameBytes: number;
  /** Ack at most this long after a completion, ms. */
  ackDelayMs: number;
  /** Ack at once when this many completions are unacked. */
  ackBatch: number;
  /** Stop writing data while the socket buffers more than this, bytes. */
  highWatermarkBytes: number;
  /** Buffered bytes above the watermark for this long is a transport stall, ms. */
  sendStallTimeoutMs: number;
  /**
   * The peer speaks protocol revision 2 or later: waiting messages go out as
   * one batch frame. Off, every message is its own data frame (revision 1).
   * @default false
   */
  batch?: boolean;
  /**
   * Revision 3 on both sides: the worker answers the hub's heartbeat with its
   * own next one, in one write, and says how long it held the answer; the hub
   * waits for it longer before it beats by itself (see Heartbeat).
   * @default false
   */
  heldAcks?: boolean;
}

/**
 * Whether a link of this revision and heartbeat holds hb-acks: a held answer
 * arrives up to LEAD_SLACK intervals after the beat, so it needs a dead
 * deadline of two intervals at least.
 */
export function holdsAcks(peerRevision: number | undefined, heartbeatMisses: number): boolean {
  return (peerRevision ?? 1) >= HELD_ACK_REVISION && heartbeatMisses >= 2;
}

export interface LinkDown {
  error: LinkwatchError;
  /** The close code we sent, or undefined when the socket was terminated or closed by the peer. */
  closeCode: number | undefined;
}

/**
 * One connection's protocol engine, the same on both sides: frame dispatch,
 * heartbeats, acks and the guards on what the peer sends; writing is the
 * SendPump's (batching, flow-control window, drain deadline). It owns its
 * timers; `teardown()` is the one place they are released, and it runs at
 * most once.
 */
export class Link implements SessionLink {
  readonly #transport: Transport;
  // The socket under the transport, to cork the frames of one exchange into one write (socketOf).
  readonly #socket: { cork(): void; uncork(): void } | undefined;
  readonly #session: Session;
  readonly #settings: LinkSettings;
  readonly #onDown: (down: LinkDown) => void;
  readonly #heartbeat: Heartbeat;
  readonly connectedAt = performance.now();
  // Set once by teardown(); every entry point checks it first.
  #down: LinkDown | undefined;
  // One Timeout per link, made by the first ack that waits and re-armed with refresh() after:
  // a new setTimeout per ack period measured 20 µs a call. Never cleared before teardown
  // (refresh() cannot revive a cleared one): #ackArmed says whether its firing should ack.
  #ackTimer: ReturnType<typeof setTimeout> | undefined;
  #ackArmed = false;
  // Completions since the last ack frame.
  #unacked = 0;
  #lastAckSent = 0;
  get lastAckSent(): number {
    return this.#lastAckSent;
  }
  // Every write goes through it: batching, the window, the watermark and the drain deadline.
  readonly #pump: SendPump;
  // Terminates a polite close the peer never finishes; cleared by transportClosed().
  #closeFallback: ReturnType<typeof setTimeout> | undefined;
  // Data-carrying frames (data or batch) read on this link.
  #dataFramesReceived = 0;
  // Heartbeats heard on this link (see HEARTBEAT_FLOOD_LIMIT).
  #heartbeatsReceived = 0;
  // The hub follows the worker's heartbeat (see Heartbeat); the worker leads.
  readonly #follow: boolean;
  // A worker's heartbeat is queued to follow this tick's data write (requestPump).
  #beatQueued = false;
  // The hub's answer to the peer's latest heartbeat waits for that read's data (#answerSoon).
  #answerPending = false;
  #answerId = 0;
  #answerTs = 0;
  // A worker's answer to the hub's latest heartbeat, held for its own next beat (0: none; see Heartbeat).
  #heldId = 0;
  #heldTs = 0;
  #heldSince = 0;

  constructor(
    transport: Transport,
    session: Session,
    settings: LinkSettings,
    onDown: (down: LinkDown) => void,
  ) {
    this.#transport = transport;
    this.#socket = socketOf(transport);
    this.#session = session;
    this.#settings = settings;
    this.#onDown = onDown;
    this.#pump = new SendPump(transport, session, settings, (buffered, stalledMs, what) =>
      this.#stalled(buffered, stalledMs, what),
    );
    this.#follow = session.side === 'hub';
    this.#heartbeat = new Heartbeat(heartbeatHost(this, session), {
      intervalMs: settings.heartbeatIntervalMs,
      misses: settings.heartbeatMisses,
      // The worker keeps the beat; the hub answers with its own (one write per exchange).
      follow: this.#follow,
      peerHoldsAcks: this.#follow && settings.heldAcks === true,
    });
  }

  get settings(): LinkSettings {
    return this.#settings;
  }
  get isDown(): boolean {
    return this.#down !== undefined;
  }
  get lastRttMs(): number | undefined {
    return this.#heartbeat.lastRttMs;
  }
  get consecutiveMisses(): number {
    return this.#heartbeat.consecutiveMisses;
  }
  get bufferedAmount(): number {
    return this.#transport.bufferedAmount;
  }
  /** Data-carrying frames (data or batch) written and read on this link; messages ÷ frames is the batching. */
  get dataFrames(): { sent: number; received: number } {
    return { sent: this.#pump.dataFramesSent, received: this.#dataFramesReceived };
  }
  /** Ms since the last proven heartbeat round trip. */
  silentMs(): number {
    return this.#heartbeat.silentMs();
  }

  /** Attaches to the session, replays what the peer has not processed, and starts heartbeats. */
  start(peerProcessed: number): number {
    const s = this.#session;
    // A peer that claims more than we ever sent would make us release unsent messages as delivered.
    if (peerProcessed > s.outbox.maxSent) {
      this.reject(
        new ProtocolError(
          'LW_ERR_PROTOCOL',
          CloseCode.protocolError,
          `peer claims seq ${peerProcessed} processed, but only ${s.outbox.maxSent} was ever sent`,
        ),
      );
      return 0;
    }
    // What the peer processed but whose acks died with the last link counts as acked now.
    const released = s.outbox.ack(peerProcessed);
    if (released > 0) {
      s.counters.acked += released;
      if (s.events.perMessage)
        s.events.emit({ ...s.eventBase(), type: 'data-acked', seq: peerProcessed, released });
    }
    const replay = s.outbox.rewind(peerProcessed);
    this.#session.attach(this);
    this.#heartbeat.start();
    // Tell the peer where we are at once, in case acks were lost with the last link.
    if (this.#session.ackable > 0) this.#sendAck();
    this.pump();
    return replay;
  }

  /**
   * One raw WebSocket message from the peer; `utf8Checked` when the
   * transport already validated a text message's UTF-8 (see decodeFrame).
   */
  receive(raw: Buffer | ArrayBuffer | Buffer[], isBinary: boolean, utf8Checked = false): void {
    if (this.#down) return;
    let frame: Frame;
    try {
      frame = decodeFrame(raw, isBinary, this.#settings.maxFrameBytes, utf8Checked);
    } catch (err) {
      this.reject(err as ProtocolError);
      return;
    }
    this.#dispatch(frame, rawLength(raw));
  }

  /** The session found a fault (a failed checkpoint): close this link with `closeCode`. */
  fail(error: LinkwatchError, closeCode: number): void {
    this.teardown(error, { closeCode });
  }

  /** A frame broke the protocol: count it, say why, close this link only. */
  reject(err: ProtocolError): void {
    if (this.#down) return;
    const s = this.#session;
    if (s.events.active) {
      s.events.emit({
        ...s.eventBase(),
        type: 'frame-rejected',
        errorType: err.code,
        closeCode: err.closeCode,
        reason: err.message,
      });
    }
    this.teardown(err, { closeCode: err.closeCode });
  }

  #dispatch(frame: Frame, bytes: number): void {
    const s = this.#session;
    switch (frame.t) {
      case 'data':
        s.counters.bytesReceived += bytes;
        // Flow-controlled by our acks, so the peer's data proves a round trip (see Heartbeat).
        this.#heartbeat.progress();
        this.#dataFramesReceived++;
        if (!s.receive(frame, bytes, this.#settings.receiveWindow)) this.#windowExceeded();
        return;
      case 'batch':
        s.counters.bytesReceived += bytes;
        this.#heartbeat.progress();
        this.#dataFramesReceived++;
        this.#receiveBatch(frame.m, bytes);
        return;
      case 'ack': {
        if (frame.seq > s.outbox.maxSent) {
          this.reject(
            new ProtocolError(
              'LW_ERR_PROTOCOL',
              CloseCode.protocolError,
              `ack ${frame.seq} for a seq never sent`,
            ),
          );
          return;
        }
        const released = s.outbox.ack(frame.seq);
        if (released > 0) {
          this.#heartbeat.progress();
          s.counters.acked += released;
          s.hooks.acked?.(s);
          if (s.events.perMessage)
            s.events.emit({ ...s.eventBase(), type: 'data-acked', seq: frame.seq, released });
        }
        this.pump();
        return;
      }
      case 'hb':
        if (this.#heartbeatFlood()) return;
        s.counters.heartbeatsReceived++;
        if (this.#follow) this.#answerSoon(frame.id, frame.ts);
        else if (this.#settings.heldAcks) this.#hold(frame.id, frame.ts);
        else this.#answerHeartbeat(frame.id, frame.ts);
        s.lastHeartbeatAt = performance.now();
        s.peerProgress = keepProgress(s.peerProgress, frame.progress);
        if (s.events.active)
          s.events.emit({ ...s.eventBase(), type: 'heartbeat-received', progress: frame.progress });
        return;
      case 'hb-ack':
        this.#heartbeat.ack(frame.id, frame.ts, frame.held);
        return;
      case 'close':
        // The peer is about to close; its reason arrives here even if the close frame does not.
        this.teardown(peerCloseError(frame.code, frame.reason), {
          closeCode: undefined,
          peerCode: frame.code,
        });
        return;
      case 'hello':
      case 'welcome':
        this.reject(
          new ProtocolError(
            'LW_ERR_OUT_OF_ORDER',
            CloseCode.protocolError,
            `unexpected ${frame.t} after handshake`,
          ),
        );
        return;
    }
  }

  /** Each item of a batch is a data frame of its own to the session: dedupe, window and queue. */
  #receiveBatch(items: readonly BatchItem[], bytes: number): void {
    const s = this.#session;
    const window = this.#settings.receiveWindow;
    // The frame's bytes shared out, for the per-message data-received event.
    const share = Math.round(bytes / items.length);
    for (const item of items) {
      if (!s.receive(item, share, window)) {
        this.#windowExceeded();
        return;
      }
    }
  }

  #windowExceeded(): void {
    this.reject(
      new ProtocolError(
        'LW_ERR_WINDOW_EXCEEDED',
        CloseCode.policyViolation,
        `peer exceeded the flow-control window of ${this.#settings.receiveWindow}`,
      ),
    );
  }

  /**
   * True when the peer sent more heartbeats than the agreed interval allows
   * since this link began (plus HEARTBEAT_FLOOD_LIMIT); the link is closed
   * with 4004. Heartbeats that queued behind data and arrive together are
   * never more than were due, so a slow link is not mistaken for a flood.
   */
  #heartbeatFlood(): boolean {
    const interval = this.#settings.heartbeatIntervalMs;
    const due = (performance.now() - this.connectedAt) / interval + 1;
    if (++this.#heartbeatsReceived <= due + HEARTBEAT_FLOOD_LIMIT) return false;
    this.reject(
      new ProtocolError(
        'LW_ERR_TOO_MANY_HEARTBEATS',
        CloseCode.tooManyHeartbeats,
        `${this.#heartbeatsReceived} heartbeats in ${Math.round(performance.now() - this.connectedAt)} ms at an agreed interval of ${interval} ms`,
      ),
    );
    return true;
  }

  /**
   * Writes what is waiting once this tick's sends are in (see SendPump.request).
   * A worker's heartbeat that is due rides with this data: written right after
   * the pump's write, the socket corked across both (one syscall, and the hub
   * reads both at once and answers both in one write).
   */
  requestPump(messageBytes: number): void {
    if (this.#down) return;
    // Corked before the pump, which may write a lone message inside this call;
    // the beat is queued after the pump's own nextTick, so it follows the whole turn's data.
    const beat = !this.#beatQueued && this.#heartbeat.beatWithDataDue;
    if (beat) {
      this.#beatQueued = true;
      this.#socket?.cork();
    }
    this.#pump.request(messageBytes);
    if (beat) process.nextTick(beatWithData, this);
  }

  /** For beatWithData only: after the pump's nextTick wrote the data. */
  beatWithData(): void {
    this.#beatQueued = false;
    if (!this.#down) this.#heartbeat.dataSent();
    this.#socket?.uncork();
  }

  /**
   * The hub answers once the data that came with the heartbeat is processed,
   * so the ack joins the answer's write: at once if the work queue is idle
   * when the frames of this read are handled (a microtask), else when the
   * next completion schedules an ack (scheduleAck), or at the next turn of
   * the loop at the latest (a handler that takes longer).
   */
  #answerSoon(id: number, ts: number): void {
    // Two heartbeats in one read (bunched behind data): the older one is answered now.
    if (this.#answerPending) this.#answerNow();
    this.#answerPending = true;
    this.#answerId = id;
    this.#answerTs = ts;
    queueMicrotask(this.#answerIfIdle);
  }

  // Bound once per link: queueing the answer allocates nothing.
  readonly #answerIfIdle = (): void => {
    if (!this.#answerPending || this.#down) return;
    if (this.#session.queue.depth === 0) this.#answerNow();
    else setImmediate(answerLater, this);
  };

  /** For answerLater only: the handler took longer than this turn of the loop. */
  answerLater(): void {
    if (this.#answerPending && !this.#down) this.#answerNow();
  }

  #answerNow(): void {
    this.#answerPending = false;
    this.#answerHeartbeat(this.#answerId, this.#answerTs);
  }

  /** Writes what is waiting now, as far as the window and the socket buffer allow. */
  pump(): void {
    if (!this.#down) this.#pump.pump();
  }

  /** A completion advanced `processed`; ack soon, or now if enough piled up. */
  scheduleAck(): void {
    if (this.#down) return;
    this.#unacked++;
    // A heartbeat answer waits for this completion: the ack goes with it.
    if (this.#answerPending) {
      this.#answerNow();
      return;
    }
    // Ack by half a window at the latest, or a small window would stall on the ack timer.
    if (this.#unacked >= Math.min(this.#settings.ackBatch, Math.max(1, this.#settings.receiveWindow >> 1))) {
      this.#sendAck();
    } else if (!this.#ackArmed) {
      this.#ackArmed = true;
      if (this.#ackTimer) this.#ackTimer.refresh();
      else this.#ackTimer = setTimeout(this.#ackDue, this.#settings.ackDelayMs);
    }
  }

  // Bound once per link: arming the ack timer allocates nothing.
  readonly #ackDue = (): void => {
    if (this.#ackArmed && !this.#down) this.#sendAck();
  };

  /** Sends any pending ack now (used before a graceful close). */
  flushAck(): void {
    if (this.#session.ackable > this.#lastAckSent) this.#sendAck();
  }

  #sendAck(): void {
    this.#ackArmed = false;
    this.#unacked = 0;
    const seq = this.#session.ackable;
    this.#lastAckSent = seq;
    this.#write({ v: 1, t: 'ack', seq });
  }

  /**
   * Answers the peer's heartbeat, and sends what else is due with it in one
   * write (the socket corked across the frames: one syscall, not up to
   * three): a pending ack, early rather than on its timer, and on the hub
   * (a follower, see Heartbeat) its own heartbeat. Writes were 26 % of a
   * 5,000-link hub's CPU samples, one per frame.
   */
  #answerHeartbeat(id: number, ts: number): void {
    const socket = this.#socket;
    socket?.cork();
    this.#write({ v: 1, t: 'hb-ack', id, ts });
    if (this.#session.ackable > this.#lastAckSent) this.#sendAck();
    this.#heartbeat.peerBeat();
    socket?.uncork();
  }

  /**
   * A worker keeps its answer to the hub's heartbeat for its own next beat
   * (sendHeartbeat). A second hub beat before that (the hub's own timer) sends
   * the first answer now, so none waits more than one of our beats.
   */
  #hold(id: number, ts: number): void {
    if (this.#heldId !== 0) this.#writeHeld();
    this.#heldId = id;
    this.#heldTs = ts;
    this.#heldSince = performance.now();
  }

  #writeHeld(): void {
    const held = Math.round(performance.now() - this.#heldSince);
    this.#write({ v: 1, t: 'hb-ack', id: this.#heldId, ts: this.#heldTs, held });
    this.#heldId = 0;
  }

  /** Control frames count toward the buffered-bytes bound and the drain deadline (SendPump). */
  #write(frame: Frame): void {
    if (!this.#down) this.#pump.writeControl(encodeFrame(frame));
  }

  sendHeartbeat(id: number, ts: number): void {
    const s = this.#session;
    if (this.#heldId !== 0) {
      // The held answer goes first, in the same write: the hub judges its beat before ours.
      this.#socket?.cork();
      this.#writeHeld();
      this.#write({ v: 1, t: 'hb', id, ts, progress: s.progress() });
      this.#socket?.uncork();
    } else {
      this.#write({ v: 1, t: 'hb', id, ts, progress: s.progress() });
    }
    s.counters.heartbeatsSent++;
    if (s.events.active) s.events.emit({ ...s.eventBase(), type: 'heartbeat-sent', id });
  }

  #stalled(buffered: number, stalledMs: number, what: string): void {
    const s = this.#session;
    if (s.events.active) {
      s.events.emit({ ...s.eventBase(), type: 'transport-stalled', bufferedBytes: buffered, stalledMs });
    }
    this.teardown(
      new DeadlineError(
        'LW_ERR_TRANSPORT_STALLED',
        this.#settings.sendStallTimeoutMs,
        `socket kept ${buffered} bytes ${what} for ${Math.round(stalledMs)} ms`,
      ),
      { closeCode: undefined },
    );
  }

  /** The socket is gone (its 'close' event fired): release the close fallback. */
  transportClosed(): void {
    if (this.#closeFallback) clearTimeout(this.#closeFallback);
    this.#closeFallback = undefined;
  }

  /**
   * Ends this link once. With a `closeCode` it says why (close-reason frame,
   * then a close frame) and terminates if the peer does not finish the close
   * within `closeTimeoutMs`; without one it terminates at once.
   */
  teardown(error: LinkwatchError, how: { closeCode: number | undefined; peerCode?: number }): void {
    if (this.#down) return;
    this.#down = { error, closeCode: how.closeCode ?? how.peerCode };
    this.#heartbeat.cancel();
    if (this.#ackTimer) clearTimeout(this.#ackTimer);
    this.#ackTimer = undefined;
    this.#ackArmed = false;
    this.#pump.stop();
    if (this.#session.link === this) this.#session.attach(undefined);
    const t = this.#transport;
    if (how.closeCode !== undefined) {
      const reason = clampReason(error.message);
      try {
        t.send(encodeFrame({ v: 1, t: 'close', code: how.closeCode, reason }));
        t.close(how.closeCode, reason);
        this.#closeFallback = setTimeout(() => t.terminate(), CLOSE_TIMEOUT_MS);
      } catch {
        t.terminate();
      }
    } else {
      t.terminate();
    }
    this.#onDown(this.#down);
  }
}

/**
 * The peer's progress, copied into the session's own object: keeping each
 * heartbeat's decoded object instead made one object per link and second
 * that lived until the next heartbeat, long enough for V8 to move it to the
 * old generation, where it stayed as garbage until a full collection.
 */
function keepProgress(kept: Progress | undefined, heard: Progress): Progress {
  if (!kept) return { sent: heard.sent, acked: heard.acked, processed: heard.processed, depth: heard.depth };
  kept.sent = heard.sent;
  kept.acked = heard.acked;
  kept.processed = heard.processed;
  kept.depth = heard.depth;
  return kept;
}

function beatWithData(link: Link): void {
  link.beatWithData();
}

function answerLater(link: Link): void {
  link.answerLater();
}

/**
 * The net.Socket under a `ws` WebSocket (its `_socket`), to cork several
 * frames into one write; undefined for other transports (test doubles),
 * which then write frame by frame as before.
 */
function socketOf(transport: Transport): { cork(): void; uncork(): void } | undefined {
  const socket = (transport as { _socket?: { cork?: unknown; uncork?: unknown } })._socket;
  return typeof socket?.cork === 'function' ? (socket as { cork(): void; uncork(): void }) : undefined;
}

function rawLength(raw: Buffer | ArrayBuffer | Buffer[]): number {
  if (Array.isArray(raw)) return raw.reduce((n, b) => n + b.length, 0);
  return raw.byteLength;
}

function heartbeatHost(link: Link, session: Session): HeartbeatHost {
  return {
    sendHeartbeat: (id, ts) => link.sendHeartbeat(id, ts),
    missed: (consecutive) => {
      session.counters.heartbeatsMissed++;
      if (session.events.active) {
        session.events.emit({
          ...session.eventBase(),
          type: 'heartbeat-missed',
          consecutive,
          limit: link.settings.heartbeatMisses,
        });
      }
    },
    rtt: (rttMs) => {
      session.lastRttMs = rttMs;
      if (session.events.active)
        session.events.emit({ ...session.eventBase(), type: 'heartbeat-rtt', rttMs });
    },
    dead: (silentMs) => {
      if (session.events.active)
        session.events.emit({ ...session.eventBase(), type: 'heartbeat-timeout', silentMs });
      link.teardown(
        new DeadlineError(
          'LW_ERR_HEARTBEAT_TIMEOUT',
          link.settings.heartbeatIntervalMs * link.settings.heartbeatMisses,
          `no heartbeat round trip for ${Math.round(silentMs)} ms`,
        ),
        { closeCode: undefined },
      );
    },
  };
}
