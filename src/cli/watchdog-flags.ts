import { httpEndpointOption } from '../validate.js';
import type { AttachOptions } from '../watchdog/attach.js';
import { parseDuration, UsageError } from './args.js';

/** Checks `--alertmanager`; `user:pass@` is allowed (Basic auth) and never echoed. */
export function parseAlertmanagerUrl(value: string): string {
  try {
    httpEndpointOption('--alertmanager', value);
  } catch (err) {
    throw new UsageError(
      (err as Error).message.replace(
        /^Expected `--alertmanager` to be (.*), got (.*)$/,
        '--alertmanager: expected $1, got $2',
      ),
    );
  }
  return value;
}

/** The watchdog flags shared by `hub`, `worker` and `demo`. */
export function watchdogFlags(values: {
  alertmanager?: string | undefined;
  'watchdog-action'?: string | undefined;
  'progress-stall'?: string | undefined;
}): AttachOptions {
  const out: AttachOptions = {};
  if (values.alertmanager !== undefined) {
    out.alertmanager = { url: parseAlertmanagerUrl(values.alertmanager) };
  }
  const action = values['watchdog-action'];
  if (action !== undefined) {
    if (!['reconnect', 'evict', 'none'].includes(action)) {
      throw new UsageError(
        `--watchdog-action: expected reconnect, evict or none, got ${JSON.stringify(action)}`,
      );
    }
    out.action = action as AttachOptions['action'];
  }
  if (values['progress-stall'] !== undefined) {
    out.thresholds = { progressStallMs: parseDuration('progress-stall', values['progress-stall']) };
  }
  return out;
}
