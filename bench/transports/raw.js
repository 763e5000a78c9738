/** The raw `ws` baselines as bench transports (`raw`, and `raw+acks` with `{ acks: true }`). */
import { connectRawClient, startRawServer } from '../raw-ws.js';

export function server(onMessage, options = {}) {
  return startRawServer(onMessage, options);
}

export function client(url, options = {}) {
  return connectRawClient(url, options);
}
