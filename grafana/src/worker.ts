import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import { buildWithIds, type DashboardDef, linkwatchDashboard } from './dashboard.js';
import { rightAxis, timeseriesPanel } from './panels.js';
import { by, HUB, hubWide, increase, L, link, noneIfEmpty, quantile, rate, sel, WORKER } from './promql.js';
import {
  alertsPanel,
  eventLoopPanel,
  heartbeatAgePanel,
  heartbeatRttPanel,
  linkStatePanel,
  outboxPanel,
  progressPanel,
  reconnectsPanel,
  W,
  workQueuePanel,
} from './shared-panels.js';
import { datasourceVariable, hubVariable, workerVariable } from './variables.js';

/**
 * "Linkwatch worker": one worker's link in detail, from both ends, with
 * the counters the fleet view leaves out.
 */

const UID = 'linkwatch-worker';

const THIRD = { w: 8, h: 8 } as const;
const HALF = { w: 12, h: 8 } as const;
const SIDE = `{{${L.side}}}`;

function heartbeatsPanel() {
  return timeseriesPanel(
    'Heartbeats',
    [
      { expr: rate('heartbeatsSent', link(undefined), [L.side]), legend: `${SIDE} sent` },
      { expr: rate('heartbeatsReceived', link(undefined), [L.side]), legend: `${SIDE} received` },
      { expr: increase('heartbeatsMissed', link(undefined), [L.side]), legend: `${SIDE} missed` },
    ],
    {
      ...THIRD,
      unit: 'suffix: /s',
      min: 0,
      description:
        'Heartbeats sent and received per second on each side; missed intervals per step (right axis).',
      overrides: { C: rightAxis('short') },
    },
  );
}

function connectsPanel() {
  return timeseriesPanel(
    'Connects and disconnects',
    [
      { expr: increase('connects', link(undefined), [L.side]), legend: `${SIDE} connects` },
      {
        expr: noneIfEmpty(increase('disconnects', link(undefined), [L.side, L.errorType]), L.errorType),
        legend: `${SIDE} disconnects: {{${L.errorType}}}`,
      },
    ],
    {
      ...THIRD,
      unit: 'short',
      min: 0,
      bars: true,
      description: 'Handshakes that succeeded, and links that went down by error.type, per step.',
    },
  );
}

function reconnectTimingPanel() {
  return timeseriesPanel(
    'Reconnect timing p99',
    [
      { expr: quantile(0.99, 'connectDuration', link('worker'), []), legend: 'handshake' },
      { expr: quantile(0.99, 'backoffDelay', link('worker'), []), legend: 'backoff delay' },
    ],
    {
      ...HALF,
      unit: 's',
      min: 0,
      description:
        'Dial-to-welcome time of handshakes and the backoff chosen before reconnect attempts (p99). Empty while the link has not reconnected.',
    },
  );
}

function repliesPanel() {
  return timeseriesPanel(
    'Replays and duplicates',
    [
      { expr: rate('messagesReplayed', link('worker'), [L.worker]), legend: `${W} replayed by worker` },
      {
        expr: rate('duplicatesDropped', hubWide(), [L.hub]),
        legend: `duplicates dropped by hub {{${L.hub}}} (all workers)`,
      },
    ],
    {
      ...HALF,
      unit: 'suffix: msg/s',
      min: 0,
      description:
        'Unacked messages written again after a reconnect, and the duplicates the hub dropped: at-least-once delivery at work.',
    },
  );
}

function queueLatencyPanel() {
  return timeseriesPanel(
    'Queue wait and handler time p99',
    [
      {
        expr: quantile(0.99, 'queueWait', hubWide(), [L.hub]),
        legend: `hub {{${L.hub}}} wait (all workers)`,
      },
      {
        expr: quantile(0.99, 'queueProcess', hubWide(), [L.hub]),
        legend: `hub {{${L.hub}}} handler (all workers)`,
      },
    ],
    {
      ...THIRD,
      unit: 's',
      min: 0,
      description: 'Time from enqueue to handler start, and handler run time, on the hub (p99).',
    },
  );
}

function handlerFailuresPanel() {
  return timeseriesPanel(
    'Handler failures',
    [
      {
        expr: noneIfEmpty(rate('queueFailed', link('hub'), [L.errorType]), L.errorType),
        legend: `failed: {{${L.errorType}}}`,
      },
      { expr: rate('queueTimeouts', hubWide(), []), legend: 'timed out (all workers)' },
      {
        expr: noneIfEmpty(rate('queueDropped', link(undefined), [L.reason]), L.reason),
        legend: `dropped on close (replayed): {{${L.reason}}}`,
      },
    ],
    {
      ...THIRD,
      unit: 'suffix: msg/s',
      min: 0,
      description:
        'Hub handler calls that failed (by error.type) or ran past their deadline, and queue drops.',
    },
  );
}

function transportPanel() {
  return timeseriesPanel(
    'Transport bytes',
    [
      { expr: rate('bytesSent', link('worker'), [L.worker]), legend: `${W} sent by worker` },
      {
        expr: rate('bytesReceived', hubWide(), [L.hub]),
        legend: `received by hub {{${L.hub}}} (all workers)`,
      },
      {
        expr: `max ${by(L.side)} (${sel('bufferedBytes', link(undefined))})`,
        legend: `${SIDE} socket buffered`,
      },
    ],
    {
      ...HALF,
      unit: 'Bps',
      min: 0,
      description:
        'Data frame throughput, and bytes waiting in the socket buffer (right axis). A buffer that does not drain is a transport stall.',
      overrides: { C: rightAxis('bytes') },
    },
  );
}

function protocolErrorsPanel() {
  return timeseriesPanel(
    'Protocol errors',
    [
      {
        expr: noneIfEmpty(increase('framesRejected', link(undefined), [L.side, L.errorType]), L.errorType),
        legend: `${SIDE} frames rejected: {{${L.errorType}}}`,
      },
      // Hub-wide: nothing an unauthenticated or not yet linked peer sends names a worker.
      {
        expr: noneIfEmpty(increase('authFailures', hubWide(), [L.errorType]), L.errorType),
        legend: `auth failures: {{${L.errorType}}}`,
      },
      {
        expr: increase('connectionsRefused', hubWide(), [L.errorType]),
        legend: `connections refused: {{${L.errorType}}}`,
      },
      { expr: increase('transportStalls', link(undefined), [L.side]), legend: `${SIDE} transport stalls` },
    ],
    {
      ...THIRD,
      unit: 'short',
      min: 0,
      bars: true,
      description:
        'Frames that closed the link, rejected handshakes, connections the hub turned away before a link (hub-wide) and links torn down for a stuck socket, per step.',
    },
  );
}

function processFaultsPanel() {
  const worker = [`${L.side}="worker"`, WORKER];
  const hub = [`${L.side}="hub"`, HUB];
  return timeseriesPanel(
    'Process faults',
    [
      { expr: increase('eventLoopBlocks', worker, [L.worker]), legend: `worker ${W} event-loop blocks` },
      { expr: increase('eventLoopBlocks', hub, [L.hub]), legend: `hub {{${L.hub}}} event-loop blocks` },
      {
        expr: increase('telemetryExportFailures', worker, [L.worker]),
        legend: `worker ${W} export failures`,
      },
      {
        expr: increase('alertDeliveryFailures', worker, [L.worker]),
        legend: `worker ${W} alert delivery failures`,
      },
    ],
    {
      ...THIRD,
      unit: 'short',
      min: 0,
      bars: true,
      description:
        'Event-loop blocks seen by the sentinel thread, failed OTLP metric exports and failed Alertmanager deliveries, per step.',
    },
  );
}

function telemetryAgePanel() {
  return timeseriesPanel(
    'Telemetry age',
    [
      {
        expr: `time() - max ${by(L.worker)} (${sel('processHeartbeat', [`${L.side}="worker"`, WORKER])})`,
        legend: `worker ${W}`,
      },
      {
        expr: `time() - max ${by(L.hub)} (${sel('processHeartbeat', [`${L.side}="hub"`, HUB])})`,
        legend: `hub {{${L.hub}}}`,
      },
    ],
    {
      ...THIRD,
      unit: 's',
      min: 0,
      description:
        'Seconds since each process last collected telemetry. It grows when a process hangs; the dead-process rule reads the same series.',
    },
  );
}

function build(): dashboard.Dashboard {
  const b = linkwatchDashboard(
    'Linkwatch worker',
    UID,
    "One worker's link in detail, from both ends: state, heartbeats, reconnects, delivery, queue, transport and process faults.",
  )
    .withVariable(datasourceVariable())
    .withVariable(hubVariable())
    .withVariable(workerVariable({ multi: false }))
    .withRow(new dashboard.RowBuilder('Link'))
    .withPanel(linkStatePanel('Link state', { w: 24, h: 5 }))
    .withPanel(heartbeatAgePanel(THIRD))
    .withPanel(heartbeatRttPanel(THIRD))
    .withPanel(heartbeatsPanel())
    .withPanel(connectsPanel())
    .withPanel(reconnectsPanel(THIRD))
    .withPanel(protocolErrorsPanel())
    .withPanel(reconnectTimingPanel())
    .withPanel(transportPanel())
    .withRow(new dashboard.RowBuilder('Delivery and work'))
    .withPanel(progressPanel(HALF))
    .withPanel(repliesPanel())
    .withPanel(workQueuePanel(THIRD))
    .withPanel(queueLatencyPanel())
    .withPanel(handlerFailuresPanel())
    .withPanel(outboxPanel({ w: 24, h: 8 }))
    .withRow(new dashboard.RowBuilder('Process and alerts'))
    .withPanel(eventLoopPanel(THIRD))
    .withPanel(processFaultsPanel())
    .withPanel(telemetryAgePanel())
    .withPanel(alertsPanel({ w: 24, h: 8 }));
  return buildWithIds(b);
}

export const worker: DashboardDef = {
  uid: UID,
  file: `${UID}.json`,
  build,
  // Handshakes happen at (re)connect and backoff delays only while reconnecting: between reconnects
  // the p99 is NaN or missing.
  mayBeEmpty: [
    { panel: 'Reconnect timing p99', refId: 'A' },
    { panel: 'Reconnect timing p99', refId: 'B' },
  ],
};
