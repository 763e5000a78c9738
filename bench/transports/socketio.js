/**
 * Socket.IO 4 as a bench transport: the WebSocket transport only (no
 * long-polling start), one `emit('m', payload, ack)` per message with
 * Socket.IO's own per-message acknowledgement, and at most `window`
 * unacknowledged emits in flight (1,000, like our flow-control window).
 */
import { createServer } from 'node:http';
import { Server } from 'socket.io';
import { io } from 'socket.io-client';

export async function server(onMessage) {
  const http = createServer();
  const ioServer = new Server(http, { transports: ['websocket'], perMessageDeflate: false });
  ioServer.on('connection', (socket) => {
    socket.on('m', (payload, ack) => {
      onMessage(payload);
      ack();
    });
  });
  await new Promise((resolve, reject) => {
    http.once('error', reject);
    http.listen(0, '127.0.0.1', resolve);
  });
  const { port } = http.address();
  return {
    url: `http://127.0.0.1:${port}`,
    async stop() {
      ioServer.disconnectSockets(true);
      await new Promise((resolve) => ioServer.close(() => resolve()));
    },
  };
}

export async function client(url, { window = 1000 } = {}) {
  const socket = io(url, { transports: ['websocket'], reconnection: false });
  await new Promise((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('connect_error', reject);
  });
  let inFlight = 0;
  let wake;
  const onAck = () => {
    inFlight--;
    if (wake && (inFlight < window || inFlight === 0)) {
      const w = wake;
      wake = undefined;
      w();
    }
  };
  const emit = (payload) => {
    inFlight++;
    socket.emit('m', payload, onAck);
  };
  return {
    send(payload) {
      if (inFlight < window) return emit(payload);
      return new Promise((resolve) => {
        wake = resolve;
      }).then(() => emit(payload));
    },
    async drain() {
      while (inFlight > 0) {
        await new Promise((resolve) => {
          wake = resolve;
        });
      }
    },
    async stop() {
      socket.disconnect();
    },
  };
}
