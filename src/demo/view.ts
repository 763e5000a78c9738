import type { Alert } from '../watchdog/alerts.js';
import type { DemoEvent, DemoSnapshot, FaultRecord, WorkerRow } from './types.js';

/** Where to look next, printed at start in both modes. */
export interface Pointers {
  metricsUrl: string | undefined;
  linksUrl: string;
  /** Path of the shipped Prometheus files (prometheus.yml, alerts.yml, rules.yml). */
  prometheusDir: string;
}

export function pointerLines(p: Pointers): string[] {
  return [
    `  metrics     ${p.metricsUrl ?? 'off (--metrics-listen)'}`,
    `  links       ${p.linksUrl}`,
    `  prometheus  prometheus --config.file=${p.prometheusDir}/prometheus.yml   (scrapes the metrics above,`,
    `              loads ${p.prometheusDir}/alerts.yml and rules.yml; promtool test rules ${p.prometheusDir}/tests/*.yml)`,
  ];
}

function seconds(ms: number | undefined, digits = 1): string {
  return ms === undefined ? '-' : `${(ms / 1000).toFixed(digits)} s`;
}

function millis(ms: number | undefined): string {
  return ms === undefined ? '-' : `${ms.toFixed(1)} ms`;
}

function clock(ms: number): string {
  const s = Math.floor(ms / 1000);
  return `${String(Math.floor(s / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
}

const STATE_COLOR: Record<string, string> = {
  healthy: '\x1b[32m',
  degraded: '\x1b[33m',
  stalled: '\x1b[31m',
  down: '\x1b[31m',
  connecting: '\x1b[36m',
};

function state(s: string | undefined, color: boolean): string {
  const text = (s ?? '-').padEnd(10);
  return color && s ? `${STATE_COLOR[s] ?? ''}${text}\x1b[0m` : text;
}

const COLUMNS = [
  ['worker', 10],
  ['worker side', 11],
  ['hub side', 11],
  ['hb age', 8],
  ['rtt', 9],
  ['queue', 13],
  ['outbox', 7],
  ['sent', 8],
  ['acked', 8],
  ['fault', 10],
] as const;

function row(r: WorkerRow, color: boolean): string {
  const cells = [
    r.workerId.padEnd(10),
    `${state(r.workerState, color)} `,
    `${state(r.hubState, color)} `,
    seconds(r.heartbeatAgeMs).padEnd(8),
    millis(r.rttMs).padEnd(9),
    `${r.queueDepth}${r.hung > 0 ? ` (${r.hung} hung)` : ''}`.padEnd(13),
    String(r.outbox).padEnd(7),
    String(r.sent).padEnd(8),
    String(r.acked).padEnd(8),
    (r.fault ?? '-').padEnd(10),
  ];
  const alerts = r.alerts.length > 0 ? r.alerts.join(', ') : '-';
  return `${cells.join(' ')} ${color && r.alerts.length > 0 ? `\x1b[31m${alerts}\x1b[0m` : alerts}`;
}

/** One full screen for a terminal, redrawn in place. */
export function renderFrame(
  snap: DemoSnapshot,
  recent: readonly string[],
  pointers: Pointers,
  color: boolean,
): string {
  const head = `linkwatch demo  hub ${snap.hubUrl} (${snap.hubId})  ${snap.rows.length} workers  up ${clock(snap.uptimeMs)}${
    snap.nextFaultInMs === undefined ? '' : `  next fault in ${Math.ceil(snap.nextFaultInMs / 1000)} s`
  }`;
  const header = `${COLUMNS.map(([name, width]) => name.padEnd(width)).join(' ')} alerts`;
  const lines = [
    color ? `\x1b[1m${head}\x1b[0m` : head,
    '',
    color ? `\x1b[2m${header}\x1b[0m` : header,
    ...snap.rows.map((r) => row(r, color)),
    '',
    `process alerts: ${snap.processAlerts.length > 0 ? snap.processAlerts.join(', ') : '-'}`,
    '',
    'recent:',
    ...(recent.length > 0 ? recent.map((l) => `  ${l}`) : ['  -']),
    '',
    'where to look:',
    ...pointerLines(pointers),
    '',
    'Ctrl-C stops the demo (telemetry is flushed before exit).',
  ];
  return lines.map((l) => `${l}\x1b[K`).join('\n');
}

function alertLine(a: Alert): string {
  const who = a.labels.linkwatch_worker_id ?? a.labels.linkwatch_hub_id ?? 'process';
  const verb = a.status === 'firing' ? 'FIRING  ' : 'resolved';
  return `${verb} ${a.name} ${who} (${a.labels.linkwatch_link_side} side): ${a.annotations.description}`;
}

function faultText(f: FaultRecord): string {
  return f.kind === 'blackhole'
    ? `black hole on ${f.workerId}'s link (TCP stays up, no bytes pass)`
    : `${f.workerId}'s handler on the hub hangs past its deadline`;
}

/** One line per demo event; undefined for events not worth a line. */
export function eventLine(e: DemoEvent, atMs: number): string | undefined {
  const t = clock(atMs);
  switch (e.type) {
    case 'alert':
      return `${t} ${alertLine(e.alert)}`;
    case 'fault':
      return `${t} fault ${e.phase === 'injected' ? 'injected' : 'cleared '} ${faultText(e.fault)}`;
    case 'detected':
      return `${t} detected ${e.fault.kind} on ${e.fault.workerId} by ${e.fault.detectedBy} after ${Math.round(
        (e.fault.detectedAt ?? 0) - e.fault.injectedAt,
      )} ms`;
    case 'recovered':
      return `${t} recovered ${e.fault.kind} on ${e.fault.workerId} ${Math.round(
        (e.fault.recoveredAt ?? 0) - (e.fault.clearedAt ?? 0),
      )} ms after the fault cleared`;
    case 'link':
      // Links closed by the demo's own shutdown are not news.
      return e.up || e.errorType === 'LW_ERR_CLOSED'
        ? undefined
        : `${t} link down ${e.workerId} (${e.side} side): ${e.errorType}`;
  }
}

/** A compact status line for non-terminal output, printed every few seconds. */
export function statusLine(snap: DemoSnapshot): string {
  const parts = snap.rows.map(
    (r) =>
      `${r.workerId}=${r.workerState ?? '-'}/${r.hubState ?? '-'} rtt=${millis(r.rttMs)} age=${seconds(
        r.heartbeatAgeMs,
      )} queue=${r.queueDepth} outbox=${r.outbox} acked=${r.acked}${r.alerts.length ? ` alerts=${r.alerts.join('+')}` : ''}`,
  );
  return `${clock(snap.uptimeMs)} status ${parts.join(' | ')}`;
}
