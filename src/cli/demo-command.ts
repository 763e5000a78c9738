import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Demo } from '../demo/demo.js';
import { eventLine, type Pointers, pointerLines, renderFrame, statusLine } from '../demo/view.js';
import { jsonLogger } from '../log/logger.js';
import { parseDuration, parseHostPort, parseInteger, UsageError } from './args.js';
import type { Runtime } from './runtime.js';
import { alertmanagerUrl } from './watchdog-flags.js';

export const DEMO_USAGE = `linkwatch demo [options]     (what npm start runs)

  a hub and workers in one process, each worker behind a fault proxy, a watchdog on every
  link, and a fault schedule: one worker's link is black-holed, another's handler hangs.

  --duration DUR              stop after this long (default: run until Ctrl-C)
  --workers N                 default 3
  --rate MSGS_PER_S           per worker (default 50)
  --size BYTES                synthetic payload size (default 256)
  --cycle DUR                 one fault cycle, repeated (default 30s)
  --no-faults                 no fault schedule: a healthy fleet
  --listen HOST:PORT          the hub (default 127.0.0.1 on a free port)
  --metrics-listen HOST:PORT  Prometheus exporter (default 127.0.0.1:9464; "off" disables)
  --alertmanager URL          also post watchdog alerts to Alertmanager's v2 API
                              (or LINKWATCH_ALERTMANAGER_URL, which keeps user:pass@ out of ps)
  --plain                     log lines instead of the live view (the default when stdout is not a terminal)`;

/** The shipped Prometheus files, shown relative to where the user stands. */
function prometheusDir(): string {
  const abs = fileURLToPath(new URL('../../prometheus', import.meta.url));
  const rel = relative(process.cwd(), abs);
  return rel && !rel.startsWith('..') ? rel : abs;
}

export async function demoCommand(argv: string[], rt: Runtime): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      duration: { type: 'string' },
      workers: { type: 'string', default: '3' },
      rate: { type: 'string', default: '50' },
      size: { type: 'string', default: '256' },
      cycle: { type: 'string', default: '30s' },
      'no-faults': { type: 'boolean', default: false },
      listen: { type: 'string' },
      'metrics-listen': { type: 'string', default: '127.0.0.1:9464' },
      alertmanager: { type: 'string' },
      plain: { type: 'boolean', default: false },
    },
  });
  const durationMs = values.duration === undefined ? undefined : parseDuration('duration', values.duration);
  const workers = parseInteger('workers', values.workers, 1);
  if (workers > 50) throw new UsageError(`--workers: at most 50 in one demo process, got ${workers}`);
  const rate = parseInteger('rate', values.rate, 0);
  const size = parseInteger('size', values.size, 0);
  const cycleMs = parseDuration('cycle', values.cycle);
  if (cycleMs < 20_000)
    throw new UsageError(`--cycle: at least 20s so faults can clear, got ${values.cycle}`);
  const alertmanager = alertmanagerUrl(values.alertmanager);
  const listen = values.listen === undefined ? undefined : parseHostPort('listen', values.listen);
  const metricsListen =
    values['metrics-listen'] === 'off'
      ? undefined
      : parseHostPort('metrics-listen', values['metrics-listen']);

  const live = rt.terminal.isTTY && !values.plain;
  // The live view owns the screen: only errors reach stderr while it runs.
  const logger = live ? jsonLogger({ level: 'error' }) : rt.logger;
  const telemetry = await rt.startTelemetry({ role: 'demo', instanceId: 'demo', metricsListen });
  const demo = new Demo({
    workers,
    ratePerWorker: rate,
    payloadBytes: size,
    faults: !values['no-faults'],
    cycleMs,
    ...(listen ? { listen } : {}),
    ...(alertmanager ? { alertmanager } : {}),
    logger,
    watchdog: { exportHealth: telemetry.exportHealth },
    onHub: (hub) => telemetry.attachHub(hub),
    onWorker: (worker) => telemetry.attachWorker(worker),
  });
  const recent: string[] = [];
  const started = performance.now();
  demo.on((e) => {
    const line = eventLine(e, performance.now() - started);
    if (!line) return;
    if (live) {
      recent.push(line);
      if (recent.length > 8) recent.shift();
    } else rt.terminal.write(`${line}\n`);
  });
  try {
    await demo.start();
  } catch (err) {
    await demo.stop({ timeoutMs: 500 });
    await telemetry.shutdown();
    const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw listen ? new UsageError(`--listen ${values.listen}: ${code}`) : err;
  }
  const pointers: Pointers = {
    metricsUrl: telemetry.metricsUrl,
    linksUrl: demo.snapshot().linksUrl,
    prometheusDir: prometheusDir(),
  };
  if (!live) {
    const s = demo.snapshot();
    rt.terminal.write(
      `linkwatch demo: hub ${s.hubUrl} (${s.hubId}), ${workers} workers at ${rate} msg/s, ${
        values['no-faults'] ? 'no faults' : `a fault cycle every ${cycleMs / 1000} s`
      }\nwhere to look:\n${pointerLines(pointers).join('\n')}\n`,
    );
  }
  const draw = () => rt.terminal.write(`\x1b[H${renderFrame(demo.snapshot(), recent, pointers, true)}\x1b[J`);
  if (live) rt.terminal.write('\x1b[2J\x1b[?25l');
  const ticker = setInterval(
    () => (live ? draw() : rt.terminal.write(`${statusLine(demo.snapshot())}\n`)),
    live ? 500 : 5_000,
  );
  if (live) draw();

  let timer: ReturnType<typeof setTimeout> | undefined;
  const cancelSignalWait = new AbortController();
  const reason = await Promise.race([
    rt.untilSignal(cancelSignalWait.signal),
    ...(durationMs === undefined
      ? []
      : [
          new Promise<string>((resolve) => {
            timer = setTimeout(() => resolve('duration'), durationMs);
          }),
        ]),
  ]);
  cancelSignalWait.abort();
  clearTimeout(timer);
  clearInterval(ticker);
  if (live) {
    draw();
    rt.terminal.write('\x1b[?25h\n');
  }
  logger.info('demo stopping', { reason });
  const summary = await demo.stop({ timeoutMs: 3_000 });
  await telemetry.shutdown();
  rt.print({ ...summary, stoppedBy: reason });
  return 0;
}
