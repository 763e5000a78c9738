import { parseArgs } from 'node:util';
import { parseTokenFile } from '../hub/auth.js';
import { Hub, type HubOptions, readTlsFiles } from '../hub/hub.js';
import { linkLogger } from '../log/link-logger.js';
import type { Handler } from '../queue/work-queue.js';
import { attachWatchdog } from '../watchdog/attach.js';
import {
  parseDuration,
  parseHostPort,
  parseInteger,
  readTextFile,
  UsageError,
  warnIfTokenFileLoose,
} from './args.js';
import { HubDrills } from './drills.js';
import { Journal } from './journal.js';
import type { Runtime } from './runtime.js';
import { watchdogFlags } from './watchdog-flags.js';

export const HUB_USAGE = `linkwatch hub --listen HOST:PORT --tokens FILE [options]

  --listen HOST:PORT          where workers connect; also serves /healthz /readyz /links (default 127.0.0.1:8080)
  --tokens FILE               accepted tokens: lines "token [workerId,...]" or a JSON array
  --hub-id ID                 this hub's id in telemetry and alerts (default <hostname>:<port>)
  --heartbeat-interval DUR    default 5s
  --heartbeat-misses N        default 3
  --queue-capacity N          per-worker work queue capacity and flow-control window (default 1000)
  --queue-concurrency N       default 1
  --handler-timeout DUR       per-message handler deadline (default 30s)
  --handler-delay DUR         synthetic work per message (default 0)
  --handler-ignores-deadline  the synthetic handler ignores its abort signal (simulates a hung consumer)
  --journal FILE              append one JSON record (worker id, stream, seq, CRC) per processed message;
                              resume dedupe from it
  --tls-cert FILE --tls-key FILE   serve wss://
  --metrics-listen HOST:PORT  Prometheus exporter (default 127.0.0.1:9464; "off" disables)
  --shutdown-timeout DUR      default 10s
  --alertmanager URL          also post watchdog alerts to Alertmanager's v2 API (e.g. http://127.0.0.1:9093)
                              (or LINKWATCH_ALERTMANAGER_URL, which keeps user:pass@ out of ps)
  --watchdog-action ACTION    on a stalled link: evict | none (default evict)
  --progress-stall DUR        pending work with no progress this long is a stall (default 3 × heartbeat deadline)
  --drills                    accept fault drills from loopback: POST /drills/hang?worker=ID&duration=10s,
                              POST /drills/fail?worker=ID&duration=10s (at most 1h), POST /drills/block?duration=5s
                              (at most 10m); each request needs the header "X-Linkwatch-Drill: 1" and no Origin,
                              which no browser page can send (game days and tests; off by default)`;

export async function hubCommand(argv: string[], rt: Runtime): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      listen: { type: 'string', default: '127.0.0.1:8080' },
      tokens: { type: 'string' },
      'hub-id': { type: 'string' },
      'heartbeat-interval': { type: 'string' },
      'heartbeat-misses': { type: 'string' },
      'queue-capacity': { type: 'string' },
      'queue-concurrency': { type: 'string' },
      'handler-timeout': { type: 'string' },
      'handler-delay': { type: 'string' },
      'handler-ignores-deadline': { type: 'boolean', default: false },
      journal: { type: 'string' },
      'tls-cert': { type: 'string' },
      'tls-key': { type: 'string' },
      'metrics-listen': { type: 'string', default: '127.0.0.1:9464' },
      'shutdown-timeout': { type: 'string', default: '10s' },
      alertmanager: { type: 'string' },
      'watchdog-action': { type: 'string' },
      'progress-stall': { type: 'string' },
      drills: { type: 'boolean', default: false },
    },
  });
  if (!values.tokens) throw new UsageError('--tokens FILE is required');
  const listen = parseHostPort('listen', values.listen);
  let tokens: HubOptions['tokens'];
  try {
    tokens = parseTokenFile(readTextFile('tokens', values.tokens), values.tokens);
  } catch (err) {
    throw err instanceof UsageError ? err : new UsageError(`--tokens: ${(err as Error).message}`);
  }
  warnIfTokenFileLoose(rt.logger, 'tokens', values.tokens);
  if ((values['tls-cert'] === undefined) !== (values['tls-key'] === undefined)) {
    throw new UsageError('--tls-cert and --tls-key go together');
  }
  let tls: HubOptions['tls'];
  if (values['tls-cert'] && values['tls-key']) {
    try {
      tls = readTlsFiles(values['tls-cert'], values['tls-key']);
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
  }
  const delayMs = values['handler-delay'] ? parseDuration('handler-delay', values['handler-delay']) : 0;
  // Every flag is parsed before anything starts, so a usage error never leaves a process running.
  const shutdownTimeoutMs = parseDuration('shutdown-timeout', values['shutdown-timeout']);
  const watchdogOptions = watchdogFlags(values);
  // Overlapping handler calls complete out of order: the journal then records where to resume.
  const overlapping =
    values['queue-concurrency'] !== undefined &&
    parseInteger('queue-concurrency', values['queue-concurrency'], 1) > 1;
  let journal: Journal | undefined;
  try {
    journal = values.journal ? new Journal(values.journal, { commitEveryAdvance: overlapping }) : undefined;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new UsageError(
      `--journal: ${code ? `cannot open ${values.journal}: ${code}` : (err as Error).message}`,
    );
  }
  const drills = values.drills ? new HubDrills(rt.logger) : undefined;
  const handler: Handler = async (m, { signal }) => {
    // Processed (and journaled) before a restart, above the last commit: done already.
    if (journal?.alreadyProcessed(m.workerId, m.stream, m.seq)) return;
    const hang = drills?.hang(m.workerId);
    if (hang) await hang;
    drills?.fail(m.workerId);
    if (delayMs > 0) {
      if (values['handler-ignores-deadline']) await new Promise((r) => setTimeout(r, delayMs));
      else await abortableDelay(delayMs, signal);
    }
    // One write per turn of the loop for every message processed in it (see appendSoon).
    if (journal) await journal.appendSoon(m.workerId, m.stream, m.seq);
  };
  const hubId = values['hub-id'];
  const telemetry = await rt.startTelemetry({
    role: 'hub',
    instanceId: hubId,
    metricsListen:
      values['metrics-listen'] === 'off'
        ? undefined
        : parseHostPort('metrics-listen', values['metrics-listen']),
  });
  let hub: Hub;
  try {
    hub = new Hub({
      host: listen.host,
      port: listen.port,
      ...(hubId ? { hubId } : {}),
      tokens,
      handler,
      ...(tls ? { tls } : {}),
      ...(journal ? { checkpoint: journal } : {}),
      ...(drills ? { routes: drills.routes() } : {}),
      ...opt('heartbeatIntervalMs', values['heartbeat-interval'], (v) =>
        parseDuration('heartbeat-interval', v),
      ),
      ...opt('heartbeatMisses', values['heartbeat-misses'], (v) => parseInteger('heartbeat-misses', v, 1)),
      ...opt('queueCapacity', values['queue-capacity'], (v) => parseInteger('queue-capacity', v, 1)),
      ...opt('queueConcurrency', values['queue-concurrency'], (v) => parseInteger('queue-concurrency', v, 1)),
      ...opt('handlerTimeoutMs', values['handler-timeout'], (v) => parseDuration('handler-timeout', v)),
    });
  } catch (err) {
    await telemetry.shutdown();
    if (err instanceof TypeError) throw new UsageError(err.message);
    throw err;
  }
  telemetry.attachHub(hub);
  const links = linkLogger(rt.logger);
  hub.on(links, 'lifecycle');
  const watchdog = attachWatchdog(hub, {
    logger: rt.logger,
    exportHealth: telemetry.exportHealth,
    observedMetrics: telemetry.observedMetrics,
    ...watchdogOptions,
  });
  // Listen for SIGINT/SIGTERM before saying "listening": a signal sent on that line must not find
  // Node's default action (exit without a summary) still in place.
  const cancelSignalWait = new AbortController();
  const signalled = rt.untilSignal(cancelSignalWait.signal);
  try {
    await hub.listen();
  } catch (err) {
    cancelSignalWait.abort();
    await watchdog.stop();
    await hub.close({ timeoutMs: 100 });
    await telemetry.shutdown();
    throw new UsageError(
      `--listen ${values.listen}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    );
  }
  rt.logger.info('hub listening', {
    hub_id: hub.hubId,
    url: hub.url,
    links: `${hub.httpUrl}/links`,
    metrics: telemetry.metricsUrl ?? 'off',
  });
  await signalled;
  rt.logger.info('hub shutting down', { hub_id: hub.hubId, timeout_ms: shutdownTimeoutMs });
  const report = await hub.close({ timeoutMs: shutdownTimeoutMs });
  await watchdog.stop();
  links.close(); // the last sampled counts, before telemetry flushes
  journal?.close();
  const totals = hub.totals();
  await telemetry.shutdown();
  rt.print({
    role: 'hub',
    hubId: hub.hubId,
    received: totals.received,
    processed: totals.processed,
    failed: totals.failed,
    duplicatesDropped: totals.duplicates,
    workers: report.workers,
    abandoned: report.abandoned,
    timedOut: report.timedOut,
  });
  return 0;
}

function opt<K extends string, V>(
  key: K,
  raw: string | undefined,
  parse: (v: string) => V,
): Partial<Record<K, V>> {
  return raw === undefined ? {} : ({ [key]: parse(raw) } as Record<K, V>);
}

export function abortableDelay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    function onAbort() {
      clearTimeout(timer);
      reject(signal.reason);
    }
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
