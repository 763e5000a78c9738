import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import { buildWithIds, type DashboardDef, linkwatchDashboard } from './dashboard.js';
import { type Step, statPanel } from './panels.js';
import { by, increase, L, link, RANGE, RATE, sel } from './promql.js';
import {
  alertsPanel,
  eventLoopPanel,
  heartbeatAgePanel,
  heartbeatRttPanel,
  linkStatePanel,
  MSG_PER_S,
  outboxPanel,
  progressPanel,
  reconnectsPanel,
  workQueuePanel,
} from './shared-panels.js';
import { datasourceVariable, hubVariable, workerVariable } from './variables.js';

/**
 * "Linkwatch fleet": every worker link on one screen. The panel titles are
 * referred to by the runbooks; change them together.
 */

const UID = 'linkwatch-fleet';

const STAT = { w: 4, h: 4 } as const;
const HALF = { w: 12, h: 8 } as const;
const RED_FROM_ONE: Step[] = [
  [null, 'green'],
  [1, 'red'],
];
const YELLOW_FROM_ONE: Step[] = [
  [null, 'green'],
  [1, 'yellow'],
];

function overview(b: dashboard.DashboardBuilder): dashboard.DashboardBuilder {
  const count = { ...STAT, unit: 'short', decimals: 0 };
  return b
    .withRow(new dashboard.RowBuilder('Overview'))
    .withPanel(
      statPanel(
        'Workers connected',
        { expr: `sum(${sel('linkUp', link('hub'))})`, legend: 'connected' },
        {
          ...count,
          description: 'Worker links that are up, as the hubs see them.',
          steps: [
            [null, 'red'],
            [1, 'green'],
          ],
        },
      ),
    )
    .withPanel(
      statPanel(
        'Workers not healthy',
        {
          expr: `count(count ${by(L.worker)} (${sel('linkState', [`${L.state}!="healthy"`, ...link(undefined)])} == 1)) or vector(0)`,
          legend: 'not healthy',
        },
        {
          ...count,
          description: 'Workers whose link is degraded, stalled, down or connecting, seen from either side.',
          steps: RED_FROM_ONE,
        },
      ),
    )
    .withPanel(
      statPanel(
        'Messages/s',
        { expr: `sum(rate(${sel('queueCompleted', link('hub'))}[${RATE}]))`, legend: 'processed' },
        {
          ...STAT,
          unit: MSG_PER_S,
          description: 'Messages the hubs processed successfully, per second.',
          steps: [[null, 'blue']],
        },
      ),
    )
    .withPanel(
      statPanel(
        'Drops',
        {
          // Outbox drops only: a work queue drops on shutdown what the worker then replays.
          expr: increase('outboxDropped', link(undefined), [], RANGE),
          legend: 'dropped',
        },
        {
          ...count,
          description:
            'Messages lost over the time range to an outbox drop policy (drop-oldest, drop-newest). Work-queue drops at shutdown are replayed and not counted.',
          steps: RED_FROM_ONE,
          instant: true,
        },
      ),
    )
    .withPanel(
      statPanel(
        'Reconnects',
        { expr: increase('reconnects', link('worker'), [], RANGE), legend: 'reconnects' },
        {
          ...count,
          description: 'Worker reconnects over the time range.',
          steps: YELLOW_FROM_ONE,
          instant: true,
        },
      ),
    )
    .withPanel(
      statPanel(
        'Heartbeats missed',
        { expr: increase('heartbeatsMissed', link(undefined), [], RANGE), legend: 'missed' },
        {
          ...count,
          description:
            'Heartbeat intervals that passed without an answer, on either side, over the time range.',
          steps: YELLOW_FROM_ONE,
          instant: true,
        },
      ),
    );
}

function build(): dashboard.Dashboard {
  const b = linkwatchDashboard(
    'Linkwatch fleet',
    UID,
    'Health of every hub/worker link: state, heartbeats, progress, queues, outboxes, reconnects and alerts.',
  )
    .withVariable(datasourceVariable())
    .withVariable(hubVariable())
    .withVariable(workerVariable({ multi: true }));
  overview(b)
    .withRow(new dashboard.RowBuilder('Link health'))
    .withPanel(linkStatePanel('Link state per worker', { w: 24, h: 8 }))
    .withPanel(heartbeatAgePanel(HALF))
    .withPanel(heartbeatRttPanel(HALF))
    .withRow(new dashboard.RowBuilder('Progress'))
    .withPanel(progressPanel(HALF))
    .withPanel(workQueuePanel(HALF))
    .withPanel(outboxPanel(HALF))
    .withPanel(reconnectsPanel(HALF))
    .withRow(new dashboard.RowBuilder('Processes and alerts'))
    .withPanel(eventLoopPanel(HALF))
    .withPanel(alertsPanel(HALF));
  return buildWithIds(b);
}

export const fleet: DashboardDef = {
  uid: UID,
  file: `${UID}.json`,
  build,
  mayBeEmpty: [],
};
