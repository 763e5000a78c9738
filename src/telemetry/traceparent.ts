import { type Context, ROOT_CONTEXT, type SpanContext, trace } from '@opentelemetry/api';

/**
 * W3C traceparent in and out of data frames. Formatted here rather than via
 * the global propagator so trace context flows even when an app registered
 * a TracerProvider but no propagator.
 */
export function formatTraceparent(ctx: SpanContext): string {
  return `00-${ctx.traceId}-${ctx.spanId}-${(ctx.traceFlags & 0xff).toString(16).padStart(2, '0')}`;
}

const PATTERN = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

export function contextFromTraceparent(
  traceparent: string | undefined,
  base: Context = ROOT_CONTEXT,
): Context {
  const m = traceparent ? PATTERN.exec(traceparent) : null;
  if (!m) return base;
  const [, traceId, spanId, flags] = m;
  if (/^0+$/.test(traceId!) || /^0+$/.test(spanId!)) return base;
  return trace.setSpanContext(base, {
    traceId: traceId!,
    spanId: spanId!,
    traceFlags: Number.parseInt(flags!, 16),
    isRemote: true,
  });
}
