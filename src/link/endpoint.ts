import type { WebSocket } from 'ws';
import { ConnectionError, type LinkwatchError, ProtocolError } from '../errors.js';
import { CloseCode, clampReason } from '../protocol/close-codes.js';
import type { Link } from './link.js';
import { readTextFramesDirectly } from './text-frame-reader.js';

/**
 * Binds an open WebSocket to its Link, the same way on both sides: frames go
 * to the link, `ws`'s own payload errors become counted rejections, and the
 * socket's close tears the link down with the error the peer's close code
 * means. Handlers are module-level functions that find the link on the
 * socket, so a link costs no closures here.
 */
const kLink = Symbol('linkwatch.link');

type BoundSocket = WebSocket & { [kLink]?: Link };

export function bindEndpoint(ws: WebSocket, link: Link): void {
  (ws as BoundSocket)[kLink] = link;
  // Whole text frames skip the Receiver's stream machinery (see text-frame-reader.ts).
  readTextFramesDirectly(ws);
  ws.on('message', onMessage);
  ws.on('error', onError);
  ws.on('close', onClose);
}

// ws validated a text message's UTF-8 before emitting it (1007 otherwise): the codec need not scan it again.
function onMessage(this: BoundSocket, raw: Buffer, isBinary: boolean): void {
  this[kLink]?.receive(raw, isBinary, true);
}

// ws closes with 1009/1007/1002 itself on payload errors; count them as rejected frames.
function onError(this: BoundSocket, err: Error & { code?: string }): void {
  const link = this[kLink];
  const rejected = link && wsPayloadError(err);
  if (rejected) link.reject(rejected);
}

function onClose(this: BoundSocket, code: number, reason: Buffer): void {
  const link = this[kLink];
  this.removeAllListeners();
  delete this[kLink];
  if (!link) return;
  link.transportClosed();
  if (!link.isDown)
    link.teardown(peerCloseError(code, reason.toString()), { closeCode: undefined, peerCode: code });
}

/** A `ws` payload error (`WS_ERR_*`) as the protocol error it is; undefined for socket errors. */
export function wsPayloadError(err: Error & { code?: string }): ProtocolError | undefined {
  if (!err.code?.startsWith('WS_ERR_')) return undefined;
  if (err.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH')
    return new ProtocolError('LW_ERR_FRAME_TOO_LARGE', CloseCode.messageTooBig, err.message);
  if (err.code === 'WS_ERR_INVALID_UTF8')
    return new ProtocolError('LW_ERR_INVALID_FRAME', CloseCode.invalidData, err.message);
  return new ProtocolError('LW_ERR_PROTOCOL', CloseCode.protocolError, err.message);
}

/**
 * What the peer's close code means for us. A supersede or an eviction keeps
 * its own code, so the error, its logs and the reconnect metrics say so.
 */
export function peerCloseError(code: number, reason: string): LinkwatchError {
  const text = `peer closed the link: ${code} ${clampReason(reason)}`;
  if (code === CloseCode.superseded) return new ConnectionError('LW_ERR_SUPERSEDED', text);
  if (code === CloseCode.evicted) return new ConnectionError('LW_ERR_EVICTED', text);
  return new ConnectionError('LW_ERR_CONNECTION_LOST', text);
}
