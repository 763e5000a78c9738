/**
 * The alert model shared by the in-process watchdog and its sinks. The same
 * names exist as Prometheus rules in `prometheus/alerts.yml`, so an operator
 * sees one vocabulary whichever path raised it.
 */
export type HealthReason =
  | 'heartbeat-missed'
  | 'progress-stalled'
  | 'transport-stalled'
  | 'handler-hung'
  | 'event-loop-blocked'
  | 'telemetry-export-failing'
  | 'link-down';

export type Severity = 'critical' | 'warning' | 'info';

export interface AlertSpec {
  name: string;
  severity: Severity;
  summary: string;
}

export const ALERT_SPECS: Record<HealthReason, AlertSpec> = {
  'heartbeat-missed': {
    name: 'LinkwatchHeartbeatMissed',
    severity: 'warning',
    summary: 'Heartbeats on a link go unanswered.',
  },
  'progress-stalled': {
    name: 'LinkwatchProgressStalled',
    severity: 'critical',
    summary: 'Work is pending on a link but nothing is acked or completed.',
  },
  'transport-stalled': {
    name: 'LinkwatchTransportStalled',
    severity: 'warning',
    summary: 'A socket buffer is not draining.',
  },
  'handler-hung': {
    name: 'LinkwatchHandlerHung',
    severity: 'warning',
    summary: 'A message handler ran past its deadline and has not returned.',
  },
  'event-loop-blocked': {
    name: 'LinkwatchEventLoopBlocked',
    severity: 'critical',
    summary: 'The event loop of a linkwatch process is blocked.',
  },
  'telemetry-export-failing': {
    name: 'LinkwatchTelemetryExportFailing',
    severity: 'warning',
    summary: 'Telemetry exports are failing.',
  },
  'link-down': {
    name: 'LinkwatchLinkDown',
    severity: 'critical',
    summary: 'A worker link is down.',
  },
};

export const RUNBOOK_BASE = 'https://github.com/linkwatch/linkwatch/blob/main/docs/runbooks.md';

export interface Alert {
  name: string;
  severity: Severity;
  reason: HealthReason;
  status: 'firing' | 'resolved';
  /** Labels as Alertmanager sees them; no tokens, no payloads. */
  labels: Record<string, string>;
  annotations: { summary: string; description: string; runbook_url: string };
  startsAt: Date;
  endsAt: Date | undefined;
}

export interface AlertSink {
  /** Called on fire and on resolve; must not block or throw. */
  deliver(alert: Alert): void;
  close?(): Promise<void>;
}

export function makeAlert(
  reason: HealthReason,
  labels: { workerId: string; hubId: string | undefined; side: string },
  description: string,
  startsAt: Date,
): Alert {
  const spec = ALERT_SPECS[reason];
  return {
    name: spec.name,
    severity: spec.severity,
    reason,
    status: 'firing',
    labels: {
      alertname: spec.name,
      severity: spec.severity,
      linkwatch_worker_id: labels.workerId,
      linkwatch_link_side: labels.side,
      ...(labels.hubId ? { linkwatch_hub_id: labels.hubId } : {}),
      linkwatch_reason: reason,
      source: 'linkwatch-watchdog',
    },
    annotations: {
      summary: spec.summary,
      description,
      runbook_url: `${RUNBOOK_BASE}#${spec.name.toLowerCase()}`,
    },
    startsAt,
    endsAt: undefined,
  };
}
