/**
 * The raw `ws` baselines, as a server half and a client half so each can run
 * in its own process. One JSON text frame per message, in the same shape and
 * size as our data frames (`{"v":1,"t":"data","seq":N,"p":…}`), parsed by the
 * server.
 *
 * - `raw`: fire and forget; the client only respects the same 1 MiB socket
 *   high watermark our link uses, so nothing buffers without bound.
 * - `raw+acks`: adds what at-least-once delivery needs at minimum: the
 *   server sends cumulative acks (every `ackBatch` messages, or `ackDelayMs`
 *   after the last), and the client keeps at most `window` unacked frames in
 *   flight, like our flow-control window. No outbox, no replay, no queue.
 */
import { WebSocket, WebSocketServer } from 'ws';

const HIGH_WATERMARK_BYTES = 1024 * 1024;
const ACK_DEFAULTS = { window: 1000, ackBatch: 64, ackDelayMs: 20 };

/**
 * A server on 127.0.0.1, port 0. `onMessage(payload)` runs for each parsed
 * frame. With `acks`, it acks cumulatively. Returns `{ url, stop() }`.
 */
export async function startRawServer(onMessage, { acks = false, ...o } = {}) {
  const { window, ackBatch, ackDelayMs } = { ...ACK_DEFAULTS, ...o };
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
  await new Promise((resolve, reject) => {
    wss.once('listening', resolve);
    wss.once('error', reject);
  });
  wss.on('connection', (ws, req) => {
    req.socket.setNoDelay(true);
    let received = 0;
    let lastAck = 0;
    let timer;
    const sendAck = () => {
      clearTimeout(timer);
      timer = undefined;
      lastAck = received;
      ws.send(`{"t":"ack","seq":${received}}`);
    };
    ws.on('message', (data) => {
      const frame = JSON.parse(data.toString());
      onMessage(frame.p);
      received = frame.seq;
      if (!acks) return;
      if (received - lastAck >= Math.min(ackBatch, window >> 1)) sendAck();
      else timer ??= setTimeout(sendAck, ackDelayMs);
    });
    ws.on('close', () => clearTimeout(timer));
  });
  const { port } = wss.address();
  return {
    url: `ws://127.0.0.1:${port}`,
    async stop() {
      for (const c of wss.clients) c.terminate();
      await new Promise((resolve) => wss.close(resolve));
    },
  };
}

/**
 * A connected client. `send(payload)` returns undefined or, when the client
 * must wait (socket watermark, or the ack window with `acks`), a promise.
 * `drain()` resolves once every frame is written (and, with `acks`, acked).
 */
export async function connectRawClient(url, { acks = false, ...o } = {}) {
  const { window } = { ...ACK_DEFAULTS, ...o };
  const ws = new WebSocket(url, { perMessageDeflate: false });
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  ws._socket.setNoDelay(true);

  let seq = 0;
  let acked = 0;
  // Resolves the producer waiting for the window to open (or the drain waiting for the last ack).
  let wake;
  ws.on('message', (data) => {
    acked = JSON.parse(data.toString()).seq;
    if (wake && (seq - acked < window || acked === seq)) {
      const w = wake;
      wake = undefined;
      w();
    }
  });

  const write = (frame) => {
    if (ws.bufferedAmount < HIGH_WATERMARK_BYTES) {
      ws.send(frame);
      return undefined;
    }
    return new Promise((resolve) => ws.send(frame, () => resolve()));
  };

  return {
    send(payload) {
      if (acks && seq - acked >= window) {
        return new Promise((resolve) => {
          wake = resolve;
        }).then(() => write(JSON.stringify({ v: 1, t: 'data', seq: ++seq, p: payload })));
      }
      return write(JSON.stringify({ v: 1, t: 'data', seq: ++seq, p: payload }));
    },
    async drain() {
      while (ws.bufferedAmount > 0) await new Promise((r) => setTimeout(r, 1));
      while (acks && acked < seq) {
        await new Promise((resolve) => {
          wake = resolve;
        });
      }
    },
    async stop() {
      ws.terminate();
    },
  };
}
