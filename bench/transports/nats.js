/**
 * NATS as a bench transport, with the nats.js v3 client (@nats-io/*), against
 * a `nats-server` the benchmark started (bench/nats-server.js). The server
 * half is a subscriber, the client half a publisher; both connect to the
 * broker. Payloads travel as the same JSON the other transports send, and
 * the subscriber parses each one.
 *
 * - `nats-core` (`{ jetstream: false }`): core publish; the publisher awaits
 *   `flush()` (a PING/PONG round trip) every `window` messages so its buffer
 *   stays bounded; no acks, like raw `ws`.
 * - `nats-js` (`{ jetstream: true }`): a file-backed stream; the publisher
 *   keeps at most `window` JetStream publishes awaiting their PubAck, and a
 *   durable pull consumer (explicit acks, up to `window` buffered) hands each
 *   message to the handler, then acks it.
 */
import { AckPolicy, jetstream, jetstreamManager, StorageType } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';

const SUBJECT_CORE = 'bench.core';
const SUBJECT_JS = 'bench.js';
const STREAM = 'BENCH';
const CONSUMER = 'bench';

export async function server(onMessage, { url, jetstream: js = false, window = 1000 }) {
  const nc = await connect({ servers: url });
  if (!js) {
    const sub = nc.subscribe(SUBJECT_CORE, {
      callback: (err, msg) => {
        if (!err) onMessage(JSON.parse(msg.string()));
      },
    });
    await nc.flush();
    return {
      url,
      async stop() {
        sub.unsubscribe();
        await nc.close();
      },
    };
  }
  const jsm = await jetstreamManager(nc);
  await jsm.streams.delete(STREAM).catch(() => {});
  await jsm.streams.add({ name: STREAM, subjects: [SUBJECT_JS], storage: StorageType.File });
  await jsm.consumers.add(STREAM, { durable_name: CONSUMER, ack_policy: AckPolicy.Explicit });
  const consumer = await jetstream(nc).consumers.get(STREAM, CONSUMER);
  const messages = await consumer.consume({ max_messages: window });
  const loop = (async () => {
    for await (const m of messages) {
      onMessage(JSON.parse(m.string()));
      m.ack();
    }
  })();
  return {
    url,
    async stop() {
      await messages.close();
      await loop.catch(() => {});
      await jsm.streams.delete(STREAM).catch(() => {});
      await nc.close();
    },
  };
}

export async function client(url, { jetstream: js = false, window = 1000 }) {
  const nc = await connect({ servers: url });
  if (!js) {
    let n = 0;
    return {
      send(payload) {
        nc.publish(SUBJECT_CORE, JSON.stringify(payload));
        return ++n % window === 0 ? nc.flush() : undefined;
      },
      drain: () => nc.flush(),
      stop: () => nc.close(),
    };
  }
  const client = jetstream(nc);
  let inFlight = 0;
  let failed;
  let wake;
  const settle = () => {
    inFlight--;
    if (wake) {
      const w = wake;
      wake = undefined;
      w();
    }
  };
  const publish = (payload) => {
    inFlight++;
    client.publish(SUBJECT_JS, JSON.stringify(payload)).then(settle, (err) => {
      failed ??= err;
      settle();
    });
  };
  return {
    send(payload) {
      if (failed) throw failed;
      if (inFlight < window) return publish(payload);
      return new Promise((resolve) => {
        wake = resolve;
      }).then(() => publish(payload));
    },
    async drain() {
      while (inFlight > 0) {
        await new Promise((resolve) => {
          wake = resolve;
        });
      }
      if (failed) throw failed;
    },
    stop: () => nc.close(),
  };
}
