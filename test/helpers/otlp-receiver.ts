import { createServer, type Server } from 'node:http';
import { gunzipSync } from 'node:zlib';

/**
 * A loopback OTLP/HTTP receiver for tests, with a minimal protobuf wire
 * decoder: enough to read resources, scopes and metric, span and log names
 * the way a Collector would see them.
 */
export type Fields = Map<number, (bigint | Buffer)[]>;

export function decodeMessage(buf: Buffer): Fields {
  const fields: Fields = new Map();
  let i = 0;
  const varint = (): bigint => {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      const b = buf[i++];
      if (b === undefined) throw new Error('truncated varint');
      result |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return result;
      shift += 7n;
    }
  };
  while (i < buf.length) {
    const key = Number(varint());
    const field = key >>> 3;
    const wire = key & 7;
    let value: bigint | Buffer;
    if (wire === 0) value = varint();
    else if (wire === 1) {
      value = buf.subarray(i, i + 8);
      i += 8;
    } else if (wire === 2) {
      const len = Number(varint());
      value = buf.subarray(i, i + len);
      i += len;
    } else if (wire === 5) {
      value = buf.subarray(i, i + 4);
      i += 4;
    } else throw new Error(`unsupported wire type ${wire}`);
    const list = fields.get(field) ?? [];
    list.push(value);
    fields.set(field, list);
  }
  return fields;
}

const messages = (f: Fields, n: number) =>
  (f.get(n) ?? []).filter((v): v is Buffer => Buffer.isBuffer(v)).map(decodeMessage);
const str = (f: Fields, n: number) => {
  const v = f.get(n)?.[0];
  return Buffer.isBuffer(v) ? v.toString('utf8') : undefined;
};

/** KeyValue list (field numbers from common.proto) → plain object of string/int values. */
function attributes(list: Fields[]): Record<string, string | number> {
  const out: Record<string, string | number> = {};
  for (const kv of list) {
    const key = str(kv, 1);
    const any = messages(kv, 2)[0];
    if (!key || !any) continue;
    const s = str(any, 1);
    const int = any.get(3)?.[0];
    out[key] = s ?? (typeof int === 'bigint' ? Number(int) : '');
  }
  return out;
}

export interface Exported {
  resource: Record<string, string | number>;
  scope: string | undefined;
  /** Metric, span or log-record names (log records: their body). */
  names: string[];
  /** Attributes of each item (data points for metrics). */
  attrs: Record<string, string | number>[];
}

/** Decodes ExportMetricsServiceRequest / ExportTraceServiceRequest / ExportLogsServiceRequest. */
export function decodeExport(kind: 'metrics' | 'traces' | 'logs', body: Buffer): Exported[] {
  const out: Exported[] = [];
  for (const rs of messages(decodeMessage(body), 1)) {
    const resource = attributes(messages(messages(rs, 1)[0] ?? new Map(), 1));
    for (const ss of messages(rs, 2)) {
      const scope = str(messages(ss, 1)[0] ?? new Map(), 1);
      const items = messages(ss, 2);
      const names: string[] = [];
      const attrs: Record<string, string | number>[] = [];
      for (const item of items) {
        if (kind === 'metrics') {
          names.push(str(item, 1) ?? '');
          // gauge=5, sum=7, histogram=9: data_points=1, each with attributes=7 (number) or 9 (histogram)
          for (const dataField of [5, 7, 9]) {
            for (const data of messages(item, dataField)) {
              for (const dp of messages(data, 1))
                attrs.push(attributes(messages(dp, dataField === 9 ? 9 : 7)));
            }
          }
        } else if (kind === 'traces') {
          names.push(str(item, 5) ?? '');
          attrs.push(attributes(messages(item, 9)));
        } else {
          const body = messages(item, 5)[0];
          names.push(body ? (str(body, 1) ?? '') : '');
          attrs.push(attributes(messages(item, 6)));
        }
      }
      out.push({ resource, scope, names, attrs });
    }
  }
  return out;
}

export interface OtlpReceiver {
  url: string;
  /** Raw request bodies by signal, decompressed. */
  raw: { metrics: Buffer[]; traces: Buffer[]; logs: Buffer[] };
  decoded(kind: 'metrics' | 'traces' | 'logs'): Exported[];
  close(): Promise<void>;
}

export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const raw = { metrics: [] as Buffer[], traces: [] as Buffer[], logs: [] as Buffer[] };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let body = Buffer.concat(chunks);
      if (req.headers['content-encoding'] === 'gzip') body = gunzipSync(body);
      const kind =
        req.url === '/v1/metrics'
          ? 'metrics'
          : req.url === '/v1/traces'
            ? 'traces'
            : req.url === '/v1/logs'
              ? 'logs'
              : undefined;
      if (kind && req.headers['content-type'] === 'application/x-protobuf') {
        raw[kind].push(body);
        res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
      } else {
        res.writeHead(415).end();
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    raw,
    decoded: (kind) => raw[kind].flatMap((b) => decodeExport(kind, b)),
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
