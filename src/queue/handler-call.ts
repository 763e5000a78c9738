import { errorCode, LinkwatchError } from '../errors.js';
import type { Handler, HandlerContext, Message } from './work-queue.js';

/*
 * How the work queue calls a handler and reads its outcome: the same for
 * every item, with or without a hook around the call.
 */

/**
 * What the function handed to `around` returns when the handler returned
 * synchronously. A hook that passes it through (telemetry does for every
 * message it does not trace) lets the item settle at once, without a
 * promise; a hook that chains on it sees a settled promise, as from an
 * async handler.
 */
export const SETTLED: Promise<void> = Promise.resolve();

/** The handler as `around` calls it: always a promise (a throw becomes a rejection), SETTLED when synchronous. */
export function callHandler(handler: Handler, message: Message, context: HandlerContext): Promise<void> {
  try {
    const result = handler(message, context);
    return result && typeof result.then === 'function' ? result : SETTLED;
  } catch (cause) {
    return Promise.reject(cause);
  }
}

export function asError(cause: unknown): LinkwatchError {
  return cause instanceof LinkwatchError
    ? cause
    : new LinkwatchError('LW_ERR_HANDLER_FAILED', `handler failed: ${errorCode(cause)}`, { cause });
}
