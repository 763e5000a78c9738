import type { Hub } from '../hub/hub.js';
import type { LinkState } from '../link/events.js';
import type { Logger } from '../log/logger.js';
import type { Alert } from '../watchdog/alerts.js';
import type { AttachOptions } from '../watchdog/attach.js';
import type { Worker } from '../worker/worker.js';
import type { FaultKind } from './schedule.js';

/** The demo's options, events, live view rows and exit summary: what the CLI and the view read. */

export interface DemoOptions {
  /** @default 3 */
  workers?: number;
  /** Synthetic messages per second per worker. @default 50 */
  ratePerWorker?: number;
  /** @default 256 */
  payloadBytes?: number;
  /** Run the fault schedule. @default true */
  faults?: boolean;
  /** One fault cycle, repeated while the demo runs, ms. @default 30000 */
  cycleMs?: number;
  /** @default 1000 */
  heartbeatIntervalMs?: number;
  /** @default 3 */
  heartbeatMisses?: number;
  /** @default 2000 */
  handlerTimeoutMs?: number;
  /** Where the hub listens. @default 127.0.0.1, a free port */
  listen?: { host: string; port: number };
  /** Also post watchdog alerts to Alertmanager's v2 API. */
  alertmanager?: string;
  logger?: Logger;
  /** Watchdog options shared by every watchdog (export health, providers). */
  watchdog?: Pick<AttachOptions, 'exportHealth' | 'meterProvider' | 'tracerProvider'>;
  /** Called for the hub and each worker before they start (the CLI attaches telemetry here). */
  onHub?: (hub: Hub) => void;
  onWorker?: (worker: Worker) => void;
}

/** What happened to one injected fault, in ms since the demo started. */
export interface FaultRecord {
  kind: FaultKind;
  workerId: string;
  injectedAt: number;
  clearedAt: number | undefined;
  /** First watchdog alert (or heartbeat teardown) for this worker after injection. */
  detectedAt: number | undefined;
  detectedBy: string | undefined;
  /** Link back up and every alert of this worker resolved, after the fault cleared. */
  recoveredAt: number | undefined;
  /** Cleared by stop() before its time was up, so recovery was never awaited. */
  interrupted: boolean;
}

export type DemoEvent =
  | { type: 'fault'; phase: 'injected' | 'cleared'; fault: FaultRecord }
  | { type: 'detected' | 'recovered'; fault: FaultRecord }
  | { type: 'alert'; alert: Alert }
  | { type: 'link'; side: 'hub' | 'worker'; workerId: string; up: boolean; errorType: string | undefined };

export interface WorkerRow {
  workerId: string;
  /** The worker's watchdog state and the hub's, for the same link. */
  workerState: LinkState | undefined;
  hubState: LinkState | undefined;
  heartbeatAgeMs: number | undefined;
  rttMs: number | undefined;
  /** The hub's work queue for this worker. */
  queueDepth: number;
  hung: number;
  outbox: number;
  sent: number;
  acked: number;
  processed: number;
  alerts: string[];
  fault: FaultKind | undefined;
}

export interface DemoSnapshot {
  hubId: string;
  hubUrl: string;
  linksUrl: string;
  uptimeMs: number;
  /** Ms until the next fault is injected, if one is scheduled. */
  nextFaultInMs: number | undefined;
  rows: WorkerRow[];
  /** Process-level alerts (event loop, telemetry export). */
  processAlerts: string[];
}

export interface DemoSummary {
  role: 'demo';
  hubId: string;
  durationS: number;
  workers: number;
  sent: number;
  acked: number;
  replayed: number;
  processed: number;
  duplicatesDropped: number;
  handlerTimeouts: number;
  faults: {
    kind: FaultKind;
    workerId: string;
    injectedAtS: number;
    detectedBy: string | null;
    detectedAfterMs: number | null;
    /** From the fault clearing to link up with every alert resolved. */
    recoveredAfterMs: number | null;
    /** The demo stopped while the fault was still on. */
    interrupted: boolean;
  }[];
  alerts: { fired: number; resolved: number; firingAtExit: string[] };
}
