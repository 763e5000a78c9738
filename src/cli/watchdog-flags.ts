import { httpEndpointOption } from '../validate.js';
import type { AttachOptions } from '../watchdog/attach.js';
import { parseDuration, UsageError } from './args.js';

/** Where `--alertmanager` can come from instead, so `user:pass@` stays out of the process list. */
export const ALERTMANAGER_ENV = 'LINKWATCH_ALERTMANAGER_URL';

/**
 * The Alertmanager URL: `--alertmanager`, else `LINKWATCH_ALERTMANAGER_URL`.
 * `user:pass@` is allowed (Basic auth) and never echoed in an error.
 */
export function alertmanagerUrl(
  flag: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): string | undefined {
  const [name, value] =
    flag !== undefined ? ['--alertmanager', flag] : [ALERTMANAGER_ENV, env[ALERTMANAGER_ENV]];
  if (!value && flag === undefined) return undefined;
  try {
    httpEndpointOption(name, value);
  } catch (err) {
    throw new UsageError(
      (err as Error).message.replace(/^Expected `([^`]+)` to be (.*), got (.*)$/, '$1: expected $2, got $3'),
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
  const url = alertmanagerUrl(values.alertmanager);
  if (url !== undefined) out.alertmanager = { url };
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
