import type * as cog from '@grafana/grafana-foundation-sdk/cog';
import type * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import { dashed, rightAxis, type Size, stateTimelinePanel, timeseriesPanel } from './panels.js';
import {
  by,
  HUB,
  hubWide,
  increase,
  L,
  link,
  noneIfEmpty,
  quantile,
  rate,
  sel,
  stateCode,
  WORKER,
} from './promql.js';

/**
 * Panels both dashboards show, with the titles the runbooks refer to.
 * Queries group per worker (the fleet view); on the worker dashboard the
 * `$worker` variable narrows them to one.
 */

type Panel = cog.Builder<dashboard.Panel>;

export const W = `{{${L.worker}}}`;
export const LINK_LEGEND = `${W} · {{${L.side}}} · {{${L.hub}}}`;
/** One series per link and side, per hub: hub sessions outlive a failover by the session TTL. */
export const PER_LINK = [L.hub, L.worker, L.side];
export const MSG_PER_S = 'suffix: msg/s';
const SIDE_NOTE = 'Each link is reported by both ends: "worker" is the worker\'s view, "hub" the hub\'s.';

export function linkStatePanel(title: string, size: Size): Panel {
  return stateTimelinePanel(title, [{ expr: stateCode(undefined, PER_LINK), legend: LINK_LEGEND }], {
    ...size,
    description: `Watchdog state of each link: healthy, degraded, stalled, down or connecting. ${SIDE_NOTE}`,
  });
}

export function heartbeatAgePanel(size: Size): Panel {
  return timeseriesPanel(
    'Heartbeat age',
    [{ expr: `max ${by(...PER_LINK)} (${sel('heartbeatAge', link(undefined))})`, legend: LINK_LEGEND }],
    {
      ...size,
      unit: 's',
      min: 0,
      description:
        'Time since the last heartbeat round trip (since the disconnect while down). With the defaults (5s interval, 3 misses) a silent link is torn down at 15s.',
      steps: [
        [null, 'green'],
        [10, 'yellow'],
        [15, 'red'],
      ],
    },
  );
}

export function heartbeatRttPanel(size: Size): Panel {
  return timeseriesPanel(
    'Heartbeat RTT p99',
    [{ expr: quantile(0.99, 'heartbeatRtt', link(undefined), PER_LINK), legend: LINK_LEGEND }],
    { ...size, unit: 's', min: 0, description: `99th percentile heartbeat round-trip time. ${SIDE_NOTE}` },
  );
}

export function progressPanel(size: Size): Panel {
  return timeseriesPanel(
    'Progress: sent vs acked',
    [
      { expr: rate('messagesSent', link('worker'), [L.worker]), legend: `${W} sent` },
      { expr: rate('messagesAcked', link('worker'), [L.worker]), legend: `${W} acked` },
      { expr: rate('queueCompleted', link('hub'), [L.worker]), legend: `${W} processed by hub` },
    ],
    {
      ...size,
      unit: MSG_PER_S,
      min: 0,
      description:
        'Messages each worker sent (first writes, not replays), the acks it got back, and what the hub processed for it. Acks report processed messages, so sent running ahead of acked means the link or the hub handler has stalled.',
    },
  );
}

export function workQueuePanel(size: Size): Panel {
  return timeseriesPanel(
    'Work queue depth',
    [
      { expr: `sum ${by(L.worker)} (${sel('queueDepth', link('hub'))})`, legend: `${W} depth` },
      { expr: `max ${by(L.hub)} (${sel('queueCapacity', hubWide())})`, legend: `hub {{${L.hub}}} capacity` },
      { expr: `sum ${by(L.worker)} (${sel('queueHung', link('hub'))})`, legend: `${W} hung handlers` },
    ],
    {
      ...size,
      unit: 'short',
      min: 0,
      description:
        "The hub's work queue for each worker: messages waiting or running, its capacity (dashed), and handler calls past their deadline that have not returned.",
      overrides: { B: dashed() },
    },
  );
}

export function outboxPanel(size: Size): Panel {
  return timeseriesPanel(
    'Outbox pending',
    [
      { expr: `sum ${by(L.worker)} (${sel('outboxMessages', link('worker'))})`, legend: `${W} messages` },
      { expr: `sum ${by(L.worker)} (${sel('outboxBytes', link('worker'))})`, legend: `${W} bytes` },
      { expr: `max ${by(L.worker)} (${sel('outboxOldestAge', link('worker'))})`, legend: `${W} oldest age` },
      {
        expr: `sum ${by(L.worker)} (${sel('outboxBlocked', link('worker'))})`,
        legend: `${W} producers waiting`,
      },
    ],
    {
      ...size,
      unit: 'short',
      min: 0,
      description:
        "Each worker's outbox: messages not yet acked, their bytes and the age of the oldest (right axes), and producers blocked by backpressure.",
      overrides: { B: rightAxis('bytes'), C: rightAxis('s') },
    },
  );
}

export function reconnectsPanel(size: Size): Panel {
  return timeseriesPanel(
    'Reconnects by reason',
    [
      {
        expr: noneIfEmpty(increase('reconnects', link(undefined), [L.side, L.errorType]), L.errorType),
        legend: `{{${L.side}}}: {{${L.errorType}}}`,
      },
    ],
    {
      ...size,
      unit: 'short',
      min: 0,
      bars: true,
      description:
        'Reconnects by the error.type of the disconnect before them ("none" while there are none).',
    },
  );
}

export function eventLoopPanel(size: Size): Panel {
  // Worker processes carry no hub label: keep those whose link goes to the chosen hub(s).
  const workers = `${sel('eventLoopDelay', [`${L.side}="worker"`, WORKER])} and on (${L.worker}) ${sel('linkUp', link('worker'))}`;
  return timeseriesPanel(
    'Event-loop delay',
    [
      { expr: `max ${by(L.worker)} (${workers})`, legend: `worker ${W}` },
      {
        expr: `max ${by(L.hub)} (${sel('eventLoopDelay', [`${L.side}="hub"`, HUB])})`,
        legend: `hub {{${L.hub}}}`,
      },
    ],
    {
      ...size,
      unit: 's',
      min: 0,
      description: 'Event-loop delay p99 of each worker and hub process. The watchdog raises an alert at 1s.',
      steps: [
        [null, 'green'],
        [1, 'red'],
      ],
    },
  );
}

export function alertsPanel(size: Size): Panel {
  return timeseriesPanel(
    'Watchdog alerts firing',
    [
      {
        expr: `sum ${by(L.alertName, L.severity)} (${sel('alertActive', [HUB, WORKER])}) or label_replace(vector(0), "${L.alertName}", "none", "", "")`,
        legend: `watchdog: {{${L.alertName}}} {{${L.severity}}}`,
      },
      {
        expr: 'count by (alertname, severity) (ALERTS{alertname=~"Linkwatch.*", alertstate="firing"}) or label_replace(vector(0), "alertname", "none", "", "")',
        legend: 'prometheus: {{alertname}} {{severity}}',
      },
    ],
    {
      ...size,
      unit: 'short',
      min: 0,
      bars: true,
      description:
        'Alerts firing, raised in-process by the watchdogs and by the Prometheus rules (ALERTS). "none" while nothing fires. Process-wide watchdog alerts of a hub carry no worker id: select all workers to see them.',
    },
  );
}
