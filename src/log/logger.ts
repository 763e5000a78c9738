import { trace } from '@opentelemetry/api';

export type Level = 'debug' | 'info' | 'warn' | 'error';
const RANK: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export type LogFields = Record<string, string | number | boolean | null | undefined>;

/** Receives every record the logger writes (the CLI forwards them to OTel logs). */
export type LogSink = (
  level: Level,
  msg: string,
  fields: LogFields,
  traceId?: string,
  spanId?: string,
) => void;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
}

export interface JsonLoggerOptions {
  level?: Level;
  /** Where lines go. @default process.stderr */
  write?: (line: string) => void;
  /** Fields on every line (service, worker id). */
  base?: LogFields;
  sinks?: LogSink[];
}

/**
 * Structured JSON lines. Whenever a span is active the line carries
 * `trace_id` and `span_id`, so a stall can be followed from logs to traces.
 * Fields are never tokens: callers pass codes and ids only.
 */
export function jsonLogger(options: JsonLoggerOptions = {}): Logger & { sinks: LogSink[] } {
  const min = RANK[options.level ?? 'info'];
  const write = options.write ?? ((line: string) => process.stderr.write(line));
  const base = options.base ?? {};
  const sinks = options.sinks ?? [];
  const log = (level: Level, msg: string, fields: LogFields = {}) => {
    if (RANK[level] < min) return;
    const ctx = trace.getActiveSpan()?.spanContext();
    const traceId =
      ctx && ctx.traceFlags !== undefined && ctx.traceId !== '00000000000000000000000000000000'
        ? ctx.traceId
        : undefined;
    const record: Record<string, unknown> = {
      time: new Date().toISOString(),
      level,
      msg,
      ...base,
      ...fields,
    };
    if (traceId) {
      record.trace_id = traceId;
      record.span_id = ctx?.spanId;
    }
    write(`${JSON.stringify(record)}\n`);
    for (const sink of sinks) sink(level, msg, { ...base, ...fields }, traceId, ctx?.spanId);
  };
  return {
    sinks,
    debug: (m, f) => log('debug', m, f),
    info: (m, f) => log('info', m, f),
    warn: (m, f) => log('warn', m, f),
    error: (m, f) => log('error', m, f),
  };
}

/** A logger that drops everything (the library default). */
export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };
