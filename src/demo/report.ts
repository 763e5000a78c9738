import type { SessionCounters } from '../link/session.js';
import type { DemoSummary, FaultRecord } from './types.js';

/** What the demo knows when it stops, before it is shaped into the summary. */
export interface ReportInput {
  hubId: string;
  durationMs: number;
  workers: number;
  /** Each worker's own counters (sent, acked, replayed). */
  workerCounters: readonly Pick<SessionCounters, 'sent' | 'acked' | 'replayed'>[];
  /** The hub's totals over every worker, if the hub ever started. */
  hubTotals: Pick<SessionCounters, 'processed' | 'duplicates' | 'timedOut'> | undefined;
  faults: readonly FaultRecord[];
  alerts: { fired: number; resolved: number; firingAtExit: string[] };
}

const tenths = (ms: number) => Math.round(ms / 100) / 10;

/** One fault as the summary reports it: seconds since start, and ms to detection and recovery. */
export function faultOutcome(f: FaultRecord): DemoSummary['faults'][number] {
  return {
    kind: f.kind,
    workerId: f.workerId,
    injectedAtS: tenths(f.injectedAt),
    detectedBy: f.detectedBy ?? null,
    detectedAfterMs: f.detectedAt === undefined ? null : Math.round(f.detectedAt - f.injectedAt),
    recoveredAfterMs:
      f.recoveredAt === undefined || f.clearedAt === undefined
        ? null
        : Math.round(f.recoveredAt - f.clearedAt),
    interrupted: f.interrupted,
  };
}

/** The JSON line `linkwatch demo` prints on exit. */
export function demoSummary(input: ReportInput): DemoSummary {
  const sum = (k: 'sent' | 'acked' | 'replayed') => input.workerCounters.reduce((n, c) => n + c[k], 0);
  return {
    role: 'demo',
    hubId: input.hubId,
    durationS: tenths(input.durationMs),
    workers: input.workers,
    sent: sum('sent'),
    acked: sum('acked'),
    replayed: sum('replayed'),
    processed: input.hubTotals?.processed ?? 0,
    duplicatesDropped: input.hubTotals?.duplicates ?? 0,
    handlerTimeouts: input.hubTotals?.timedOut ?? 0,
    faults: input.faults.map(faultOutcome),
    alerts: input.alerts,
  };
}
