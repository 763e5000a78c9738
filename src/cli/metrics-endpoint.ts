import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { type PrometheusExporter, PrometheusSerializer } from '@opentelemetry/exporter-prometheus';
import { INSTRUMENTATION_NAME, INSTRUMENTATION_VERSION } from '../telemetry/instruments.js';
import { prometheusText, WITHOUT_SCOPE_INFO } from '../telemetry/prometheus-text.js';
import type { ObservedMetricsProducer } from './observed-producer.js';

/**
 * The CLI's /metrics: what the SDK's Prometheus exporter collects (hub-wide
 * and per-process series, a few hundred lines) with the histograms
 * linkwatch keeps itself (see OwnHistogram), then the observed link
 * metrics rendered by prometheusText() in chunks, streamed as they are
 * made. Replaces the exporter's own server, which serializes everything in
 * one synchronous call.
 */
export async function startMetricsEndpoint(
  exporter: PrometheusExporter,
  observed: ObservedMetricsProducer,
  host: string,
  port: number,
): Promise<Server> {
  // As the exporter's own: no prefix, no timestamps, no resource labels, target_info kept.
  const serializer = new PrometheusSerializer(undefined, false, undefined, false, WITHOUT_SCOPE_INFO);
  const serve = async (res: ServerResponse) => {
    const { resourceMetrics } = await exporter.collect();
    // The histograms linkwatch keeps itself, serialized as the SDK's would be.
    const own = observed.histogramMetrics();
    if (own.length > 0)
      resourceMetrics.scopeMetrics.push({
        scope: { name: INSTRUMENTATION_NAME, version: INSTRUMENTATION_VERSION },
        metrics: own,
      });
    res.statusCode = 200;
    res.setHeader('content-type', 'text/plain; version=0.0.4; charset=utf-8');
    const head = serializer.serialize(resourceMetrics);
    res.write(head.endsWith('\n') || head === '' ? head : `${head}\n`);
    for await (const chunk of prometheusText((emit) => observed.observeYielding(emit))) {
      // A slow scraper holds the rest, not the hub's memory.
      if (!res.write(chunk)) await once(res, 'drain');
    }
    res.end();
  };
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' || path !== '/metrics') {
      res.statusCode = 404;
      res.end();
      return;
    }
    serve(res).catch((err: unknown) => {
      if (!res.headersSent) res.statusCode = 500;
      res.end(`# error: ${(err as Error)?.message ?? err}\n`);
    });
  });
  server.unref();
  server.listen(port, host);
  await once(server, 'listening');
  return server;
}
