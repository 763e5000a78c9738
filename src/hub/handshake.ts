import type { WebSocket } from 'ws';
import { ProtocolError } from '../errors.js';
import { wsPayloadError } from '../link/endpoint.js';
import { CLOSE_TIMEOUT_MS } from '../link/link.js';
import { CloseCode, clampReason } from '../protocol/close-codes.js';
import { decodeFrame } from '../protocol/codec.js';
import type { HelloFrame } from '../protocol/frames.js';

/** What one hello wait reports to the hub. */
export interface HandshakeHost {
  readonly maxFrameBytes: number;
  readonly handshakeTimeoutMs: number;
  /** The hello (or a frame before it) broke the protocol; the socket is being closed. */
  rejected(workerId: string, error: ProtocolError): void;
  /** No hello within the deadline; the socket is being closed with 4003. */
  timedOut(workerId: string): void;
  /** The wait ended, whichever way (frees the handshake slot). */
  settled(ws: WebSocket): void;
  /** A valid hello from the authenticated worker id. */
  hello(ws: WebSocket, hello: HelloFrame): void;
}

/**
 * Waits for the worker's hello on a freshly upgraded socket, with a deadline.
 * Anything but a valid hello for the authenticated worker id closes the socket
 * with a code and a reason, and terminates it if the peer does not finish the
 * close in time; every way out is reported.
 */
export function awaitHello(ws: WebSocket, workerId: string, host: HandshakeHost): void {
  let done = false;
  const settle = () => {
    if (done) return false;
    done = true;
    clearTimeout(timer);
    ws.removeListener('message', onMessage);
    host.settled(ws);
    return true;
  };
  const timer = setTimeout(() => {
    if (!settle()) return;
    host.timedOut(workerId);
    closeFirmly(ws, CloseCode.handshakeTimeout, 'no hello in time');
  }, host.handshakeTimeoutMs);
  const onMessage = (raw: Buffer, isBinary: boolean) => {
    if (!settle()) return;
    let hello: HelloFrame;
    try {
      hello = checkHello(decodeFrame(raw, isBinary, host.maxFrameBytes), workerId);
    } catch (err) {
      const e =
        err instanceof ProtocolError
          ? err
          : new ProtocolError('LW_ERR_PROTOCOL', CloseCode.protocolError, String(err));
      host.rejected(workerId, e);
      closeFirmly(ws, e.closeCode, e.message);
      return;
    }
    ws.removeAllListeners();
    host.hello(ws, hello);
  };
  ws.on('message', onMessage);
  ws.on('error', (err: Error & { code?: string }) => {
    // ws closes by itself on payload errors (a frame over the limit, bad UTF-8): count why.
    const rejected = wsPayloadError(err);
    if (rejected && settle()) host.rejected(workerId, rejected);
  });
  ws.once('close', () => {
    settle();
    ws.removeAllListeners();
    // A late error from a closed socket must not go unhandled.
    ws.on('error', () => {});
  });
}

function checkHello(frame: ReturnType<typeof decodeFrame>, workerId: string): HelloFrame {
  if (frame.t !== 'hello') {
    throw new ProtocolError('LW_ERR_OUT_OF_ORDER', CloseCode.protocolError, `expected hello, got ${frame.t}`);
  }
  if (frame.workerId !== workerId) {
    throw new ProtocolError(
      'LW_ERR_WORKER_ID_MISMATCH',
      CloseCode.policyViolation,
      'hello.workerId differs from the authenticated worker id',
    );
  }
  return frame;
}

/** A close with a reason, then terminate if the peer has not finished it in time. */
export function closeFirmly(ws: WebSocket, code: number, reason: string): void {
  ws.close(code, clampReason(reason));
  const fallback = setTimeout(() => ws.terminate(), CLOSE_TIMEOUT_MS);
  fallback.unref();
  ws.once('close', () => clearTimeout(fallback));
}
