import { context } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { afterEach, beforeEach } from 'vitest';
import type { LinkTelemetry } from '../../../src/telemetry/instrumentation.js';

/** What a span test reads: the finished spans, the provider to instrument with, and what to dispose. */
export interface SpanCapture {
  readonly spans: InMemorySpanExporter;
  readonly tracerProvider: TracerProvider;
  /** Instrumentations disposed after each test. */
  readonly attached: LinkTelemetry[];
}

/**
 * A fresh in-memory span exporter and tracer provider for each test (with an
 * async-hooks context manager), shut down after it with whatever the test
 * attached. Call at the top of a test file.
 */
export function useSpanCapture(): SpanCapture {
  const state = { spans: new InMemorySpanExporter(), tracerProvider: new TracerProvider(), attached: [] };
  beforeEach(() => {
    state.spans = new InMemorySpanExporter();
    state.tracerProvider = new TracerProvider({
      spanProcessors: [new SimpleSpanProcessor({ exporter: state.spans })],
    });
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  });
  afterEach(async () => {
    for (const t of state.attached.splice(0)) (t as LinkTelemetry).dispose();
    await state.tracerProvider.shutdown();
    context.disable();
  });
  return {
    get spans() {
      return state.spans;
    },
    get tracerProvider() {
      return state.tracerProvider;
    },
    attached: state.attached,
  };
}
