import type { Server } from 'node:http';
import { parseArgs } from 'node:util';
import { DEFAULT_MAX_FRAME_BYTES } from '../defaults.js';
import { OVERFLOW_POLICIES, type OverflowPolicy } from '../link/outbox.js';
import { linkLogger } from '../log/link-logger.js';
import { attachWatchdog } from '../watchdog/attach.js';
import { produceSynthetic } from '../worker/synthetic-traffic.js';
import { Worker } from '../worker/worker.js';
import {
  parseDuration,
  parseHostPort,
  parseInteger,
  readTextFile,
  readTokenFile,
  UsageError,
  warnIfTokenFileLoose,
} from './args.js';
import { blockEventLoop, drillDuration, MAX_BLOCK_DRILL_MS } from './drills.js';
import { startHealthEndpoint } from './health-endpoint.js';
import type { Runtime } from './runtime.js';
import { watchdogFlags } from './watchdog-flags.js';

export const WORKER_USAGE = `linkwatch worker --hub URL [--hub URL ...] --id ID --token-file FILE [options]

  --hub URL                   ws:// or wss:// hub URL; repeat for failover (tried in order)
  --id ID                     worker id, [A-Za-z0-9._:-] (a metric label: keep it stable)
  --token-file FILE           file holding the bearer token
  --rate MSGS_PER_S           synthetic traffic rate (default 100)
  --size BYTES                synthetic payload size (default 256)
  --count N                   stop after N messages are acked (default: run until signalled)
  --overflow POLICY           block | drop-oldest | drop-newest | reject (default block)
  --outbox-max-messages N     default 10000
  --backoff-initial DUR       first reconnect delay before jitter (default 250ms)
  --backoff-max DUR           cap of the reconnect delay (default 30s)
  --ca FILE                   trust this CA for wss://
  --metrics-listen HOST:PORT  Prometheus exporter (default 127.0.0.1:9465, one above the hub's, so both
                              run on one host; "off" disables)
  --health-listen HOST:PORT   serve GET /healthz (the process answers) and /readyz (503 until the link is
                              connected) for orchestrator probes (default off)
  --shutdown-timeout DUR      default 10s
  --alertmanager URL          also post watchdog alerts to Alertmanager's v2 API (e.g. http://127.0.0.1:9093)
                              (or LINKWATCH_ALERTMANAGER_URL, which keeps user:pass@ out of ps)
  --watchdog-action ACTION    on a stalled link: reconnect | none (default reconnect)
  --progress-stall DUR        pending work with no progress this long is a stall (default 3 × heartbeat deadline)
  --drills                    SIGUSR2 blocks this worker's event loop for --drill-block (game days and tests)
  --drill-block DUR           default 5s, at most 10m`;

export async function workerCommand(argv: string[], rt: Runtime): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      hub: { type: 'string', multiple: true },
      id: { type: 'string' },
      'token-file': { type: 'string' },
      rate: { type: 'string', default: '100' },
      size: { type: 'string', default: '256' },
      count: { type: 'string' },
      overflow: { type: 'string', default: 'block' },
      'outbox-max-messages': { type: 'string' },
      ca: { type: 'string' },
      'backoff-initial': { type: 'string' },
      'backoff-max': { type: 'string' },
      'metrics-listen': { type: 'string', default: DEFAULT_WORKER_METRICS_LISTEN },
      'health-listen': { type: 'string', default: 'off' },
      'shutdown-timeout': { type: 'string', default: '10s' },
      alertmanager: { type: 'string' },
      'watchdog-action': { type: 'string' },
      'progress-stall': { type: 'string' },
      drills: { type: 'boolean', default: false },
      'drill-block': { type: 'string', default: '5s' },
    },
  });
  if (!values.hub?.length) throw new UsageError('--hub URL is required (repeat it for failover)');
  if (!values.id) throw new UsageError('--id ID is required');
  if (!values['token-file']) throw new UsageError('--token-file FILE is required');
  const token = readTokenFile('token-file', values['token-file']);
  const rate = parseInteger('rate', values.rate, 0);
  const size = parseInteger('size', values.size, 0);
  const maxSize = maxSyntheticSize();
  if (size > maxSize) {
    throw new UsageError(
      `--size: ${size} bytes do not fit in one frame: at most ${maxSize} bytes fit the ${DEFAULT_MAX_FRAME_BYTES}-byte frame limit`,
    );
  }
  const count = values.count === undefined ? undefined : parseInteger('count', values.count, 1);
  if (!OVERFLOW_POLICIES.includes(values.overflow as OverflowPolicy)) {
    throw new UsageError(
      `--overflow: expected one of ${OVERFLOW_POLICIES.join(', ')}, got ${JSON.stringify(values.overflow)}`,
    );
  }
  // Every flag is parsed before anything starts, so a usage error never leaves a process running.
  const blockMs = drillDuration('drill-block', values['drill-block'], MAX_BLOCK_DRILL_MS);
  const shutdownTimeoutMs = parseDuration('shutdown-timeout', values['shutdown-timeout']);
  const watchdogOptions = watchdogFlags(values);
  const healthListen =
    values['health-listen'] === 'off' ? undefined : parseHostPort('health-listen', values['health-listen']);
  const backoff = {
    ...(values['backoff-initial']
      ? { initialDelayMs: parseDuration('backoff-initial', values['backoff-initial']) }
      : {}),
    ...(values['backoff-max'] ? { maxDelayMs: parseDuration('backoff-max', values['backoff-max']) } : {}),
  };
  const ca = values.ca ? readTextFile('ca', values.ca) : undefined;
  warnIfTokenFileLoose(rt.logger, 'token-file', values['token-file']);
  const telemetry = await rt.startTelemetry({
    role: 'worker',
    instanceId: values.id,
    metricsListen:
      values['metrics-listen'] === 'off'
        ? undefined
        : parseHostPort('metrics-listen', values['metrics-listen']),
  });
  let worker: Worker;
  try {
    worker = new Worker({
      hubs: values.hub,
      workerId: values.id,
      token,
      overflow: values.overflow as OverflowPolicy,
      ...(values['outbox-max-messages']
        ? { outboxMaxMessages: parseInteger('outbox-max-messages', values['outbox-max-messages'], 1) }
        : {}),
      ...(ca ? { tls: { ca } } : {}),
      backoff,
    });
  } catch (err) {
    await telemetry.shutdown();
    if (err instanceof TypeError)
      throw new UsageError(err.message.replace(/`hubs\[\d+\]`/, '--hub').replace('`workerId`', '--id'));
    throw err;
  }
  telemetry.attachWorker(worker);
  let health: Server | undefined;
  if (healthListen) {
    const w = worker;
    try {
      health = await startHealthEndpoint(
        { id: values.id, ready: () => w.state === 'connected' },
        healthListen.host,
        healthListen.port,
      );
    } catch (err) {
      await telemetry.shutdown();
      throw new UsageError(
        `--health-listen ${values['health-listen']}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
      );
    }
  }
  const links = linkLogger(rt.logger);
  worker.on(links, 'lifecycle');
  const watchdog = attachWatchdog(worker, {
    logger: rt.logger,
    exportHealth: telemetry.exportHealth,
    observedMetrics: telemetry.observedMetrics,
    ...watchdogOptions,
  });
  const onDrill = () => {
    rt.logger.warn('drill: event loop blocked', { worker_id: values.id, duration_ms: blockMs });
    blockEventLoop(blockMs);
  };
  if (values.drills) process.on('SIGUSR2', onDrill);
  // Listen for SIGINT/SIGTERM before saying "started": a signal sent on that line must not find
  // Node's default action (exit without a summary) still in place.
  const stop = new AbortController();
  const signalled = rt.untilSignal(stop.signal);
  worker.start();
  rt.logger.info('worker started', {
    worker_id: values.id,
    rate,
    size,
    metrics: telemetry.metricsUrl ?? 'off',
  });

  const producing = produceSynthetic(worker, { rate, size, count, signal: stop.signal });
  // A producer that fails (the hub announced a smaller frame limit, `--overflow reject` on a
  // full outbox) ends the command like a signal does, then exits 1 naming the failure.
  let failure: Error | undefined;
  const reason = await Promise.race([
    signalled,
    producing.then(
      () => 'done',
      (err: Error) => {
        // After a signal, stopping the worker rejects the blocked send: that is no failure.
        if (!stop.signal.aborted) failure = err;
        return 'producer failed';
      },
    ),
  ]);
  stop.abort();
  if (failure) {
    rt.logger.error('synthetic traffic failed: stopping the worker', {
      worker_id: values.id,
      'error.type': (failure as NodeJS.ErrnoException).code ?? failure.name,
      message: failure.message,
    });
  }
  rt.logger.info('worker stopping', { worker_id: values.id, reason, timeout_ms: shutdownTimeoutMs });
  process.off('SIGUSR2', onDrill);
  // Stop first: it closes the outbox, which releases a producer blocked on a full one (hub
  // unreachable). Waiting for the producer first would wait forever.
  const report = await worker.stop({ timeoutMs: shutdownTimeoutMs });
  await producing.catch(() => {});
  health?.close();
  await watchdog.stop();
  links.close(); // the last sampled counts, before telemetry flushes
  const c = worker.status().counters;
  await telemetry.shutdown();
  rt.print({
    role: 'worker',
    workerId: values.id,
    sent: c.sent,
    acked: c.acked,
    replayed: c.replayed,
    dropped: c.dropped,
    reconnects: c.reconnects,
    unacked: report.unacked,
    timedOut: report.timedOut,
  });
  // A worker that gave up (superseded again and again) says why; the producer's error only echoes it.
  if (worker.gaveUp) throw new WorkerStopped(`worker gave up: ${worker.gaveUp.message}`, worker.gaveUp);
  if (failure) throw new WorkerStopped(`synthetic traffic failed: ${failure.message}`, failure);
  return 0;
}

/** Where the worker serves /metrics by default: not the hub's 9464, so both run on one host. */
export const DEFAULT_WORKER_METRICS_LISTEN = '127.0.0.1:9465';

/** The worker stopped by itself after it started (exit code 1); `code` is the cause's. */
class WorkerStopped extends Error {
  readonly code: string;
  constructor(why: string, cause: Error) {
    super(`worker stopped: ${why}`, { cause });
    this.name = 'WorkerStopped';
    this.code = (cause as NodeJS.ErrnoException).code ?? cause.name;
  }
}

/**
 * The largest `--size` whose synthetic message fits the default frame limit:
 * the session adds 64 bytes of envelope and 64 of trace context around the
 * JSON payload `{ n, ts, data }`, measured here with the widest `n` and `ts`.
 * A hub can still announce a smaller limit; that shows only once connected.
 */
function maxSyntheticSize(): number {
  const empty = JSON.stringify({ n: Number.MAX_SAFE_INTEGER, ts: Number.MAX_SAFE_INTEGER, data: '' });
  return DEFAULT_MAX_FRAME_BYTES - Buffer.byteLength(empty) - 64 - 64;
}
