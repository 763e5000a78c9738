/**
 * A stand-in for an OpenTelemetry Collector on loopback: accepts OTLP/HTTP
 * exports (POST /v1/traces, /v1/metrics, /v1/logs), counts requests and
 * bytes per signal, and answers 200 with an empty protobuf body (a valid
 * empty Export*ServiceResponse). It runs in the benchmark's coordinating
 * process, so its CPU is not charged to the processes measured.
 */
import { createServer } from 'node:http';

export async function startOtlpSink() {
  const received = {};
  const server = createServer((req, res) => {
    const signal = /^\/v1\/(traces|metrics|logs)$/.exec(req.url ?? '')?.[1];
    if (req.method !== 'POST' || !signal) {
      res.writeHead(404).end();
      return;
    }
    let bytes = 0;
    req.on('data', (chunk) => {
      bytes += chunk.length;
    });
    req.on('end', () => {
      received[signal] ??= { requests: 0, bytes: 0 };
      const r = received[signal];
      r.requests++;
      r.bytes += bytes;
      res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
    });
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    received,
    stop: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
