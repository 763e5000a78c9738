import { parseArgs } from 'node:util';
import { parseTokenFile, type TokenEntry } from '../hub/auth.js';
import { runFleetLoad } from '../load/fleet-load.js';
import { urlOption } from '../validate.js';
import { parseDuration, parseInteger, readTextFile, UsageError } from './args.js';
import type { Runtime } from './runtime.js';

export const LOAD_USAGE = `linkwatch load --hub URL --workers N [options]

  --hub URL                   ws:// or wss:// hub URL; repeat for failover
  --workers N                 library Workers to run, ids <id-prefix>-0 .. -N-1
  --rate MSGS_PER_S           messages per second per worker, may be fractional (default 1)
  --size BYTES                payload filler bytes (default 256)
  --token-file FILE           a worker token, or a hub token file: each id uses the token listing it,
                              else the first token bound to no ids (or LINKWATCH_TOKEN)
  --procs P                   child processes the workers are spread over (default 2)
  --duration DUR              steady phase once all are connected; 0 runs until SIGINT/SIGTERM (default 10s)
  --connect-timeout DUR       stop waiting for every worker to connect after this (default 60s)
  --drain-timeout DUR         at the end, wait this long for acks; what is left is counted lost (default 5s)
  --id-prefix PREFIX          default "load"
  --backoff-max DUR           cap of each worker's reconnect delay (default 30s)
  --handshake-timeout DUR     each worker's dial + upgrade + welcome deadline (default 5s)
  --progress                  print a JSON progress line every second

  Prints one JSON summary: time until all connected, connect-time and heartbeat RTT
  percentiles (steady state), sent/acked/lost, reconnects and handshake failures by code.
  Exit code 1 when not every worker connected or messages were lost.`;

export async function loadCommand(argv: string[], rt: Runtime): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      hub: { type: 'string', multiple: true },
      workers: { type: 'string' },
      rate: { type: 'string', default: '1' },
      size: { type: 'string', default: '256' },
      'token-file': { type: 'string' },
      procs: { type: 'string', default: '2' },
      duration: { type: 'string', default: '10s' },
      'connect-timeout': { type: 'string', default: '60s' },
      'drain-timeout': { type: 'string', default: '5s' },
      'id-prefix': { type: 'string', default: 'load' },
      'backoff-max': { type: 'string' },
      'handshake-timeout': { type: 'string' },
      progress: { type: 'boolean', default: false },
    },
  });
  if (!values.hub?.length) throw new UsageError('--hub URL is required');
  const hubs = values.hub.map((u) => {
    try {
      return urlOption('hub', u);
    } catch (err) {
      throw new UsageError((err as Error).message.replace('`hub`', '--hub'));
    }
  });
  if (!values.workers) throw new UsageError('--workers N is required');
  const workers = parseInteger('workers', values.workers, 1);
  const rate = Number(values.rate);
  if (!/^\d+(\.\d+)?$/.test(values.rate.trim()) || !Number.isFinite(rate)) {
    throw new UsageError(`--rate: expected a number ≥ 0, got ${JSON.stringify(values.rate)}`);
  }
  const size = parseInteger('size', values.size, 0);
  const procs = parseInteger('procs', values.procs, 1);
  const durationMs = parseDuration('duration', values.duration);
  const connectTimeoutMs = parseDuration('connect-timeout', values['connect-timeout']);
  const drainTimeoutMs = parseDuration('drain-timeout', values['drain-timeout']);
  if (!/^[A-Za-z0-9._:-]{1,100}$/.test(values['id-prefix'])) {
    throw new UsageError(`--id-prefix: expected [A-Za-z0-9._:-], got ${JSON.stringify(values['id-prefix'])}`);
  }
  const tokenFor = tokenResolver(values['token-file']);
  const idPrefix = values['id-prefix'];
  // Every id must have a token before any process starts.
  for (let i = 0; i < workers; i++) tokenFor(`${idPrefix}-${i}`);
  const summary = await runFleetLoad({
    hubs,
    workers,
    rate,
    size,
    procs,
    durationMs,
    connectTimeoutMs,
    drainTimeoutMs,
    idPrefix,
    tokenFor,
    backoffMaxMs: values['backoff-max'] ? parseDuration('backoff-max', values['backoff-max']) : undefined,
    handshakeTimeoutMs: values['handshake-timeout']
      ? parseDuration('handshake-timeout', values['handshake-timeout'])
      : undefined,
    until: rt.untilSignal(),
    ...(values.progress ? { onProgress: (p) => rt.print({ role: 'load', type: 'progress', ...p }) } : {}),
  });
  rt.print({ role: 'load', type: 'summary', ...summary });
  return summary.allConnectedMs !== null && summary.lost === 0 ? 0 : 1;
}

/** Token of each worker id, from a token file (worker or hub format) or LINKWATCH_TOKEN. */
function tokenResolver(file: string | undefined): (workerId: string) => string {
  let entries: TokenEntry[];
  if (file === undefined) {
    const token = process.env.LINKWATCH_TOKEN;
    if (!token) throw new UsageError('--token-file FILE is required (or set LINKWATCH_TOKEN)');
    entries = [{ token }];
  } else {
    try {
      entries = parseTokenFile(readTextFile('token-file', file), file);
    } catch (err) {
      throw err instanceof UsageError ? err : new UsageError(`--token-file: ${(err as Error).message}`);
    }
  }
  const byId = new Map<string, string>();
  for (const e of entries) for (const id of e.workerIds ?? []) if (!byId.has(id)) byId.set(id, e.token);
  const shared = entries.find((e) => e.workerIds === undefined)?.token;
  return (workerId) => {
    const token = byId.get(workerId) ?? shared;
    if (token === undefined) {
      throw new UsageError(`--token-file: no token for worker id ${workerId} (and none bound to any id)`);
    }
    return token;
  };
}
