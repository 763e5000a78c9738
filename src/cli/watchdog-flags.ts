import type { AttachOptions } from '../watchdog/attach.js';
import { parseDuration, UsageError } from './args.js';

/** The watchdog flags shared by `hub`, `worker` and `demo`. */
export function watchdogFlags(values: {
  alertmanager?: string | undefined;
  'watchdog-action'?: string | undefined;
  'progress-stall'?: string | undefined;
}): AttachOptions {
  const out: AttachOptions = {};
  if (values.alertmanager !== undefined) {
    if (!/^https?:\/\/[^/]+/.test(values.alertmanager)) {
      throw new UsageError(
        `--alertmanager: expected an http(s) URL, got ${JSON.stringify(values.alertmanager)}`,
      );
    }
    out.alertmanager = { url: values.alertmanager };
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
