import type { MeterProvider } from '@opentelemetry/sdk-metrics';
import { afterEach } from 'vitest';
import type { LinkTelemetry } from '../../../src/telemetry/instrumentation.js';

/**
 * What a metrics test attached and the providers it made, disposed and shut
 * down after each test. Call at the top of a test file and push into them.
 */
export function useMetricCleanup(): { attached: LinkTelemetry[]; providers: MeterProvider[] } {
  const attached: LinkTelemetry[] = [];
  const providers: MeterProvider[] = [];
  afterEach(async () => {
    for (const t of attached.splice(0)) t.dispose();
    for (const p of providers.splice(0)) await p.shutdown();
  });
  return { attached, providers };
}
