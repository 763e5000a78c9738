import { describe, expect, it } from 'vitest';
import { LinkHooks, type SendTrace } from '../../../src/link/hooks.js';
import type { Session } from '../../../src/link/session.js';
import type { Message } from '../../../src/queue/work-queue.js';

const session = {} as Session;
const message = { workerId: 'w1', stream: 's', seq: 1, payload: null } as Message;

function trace(tp: string | undefined, log: string[], name: string): SendTrace {
  return {
    traceparent: tp,
    queued: (seq) => log.push(`${name} queued ${seq}`),
    failed: () => log.push(`${name} failed`),
  };
}

describe('LinkHooks compose', () => {
  it('is empty until a provider is added: the core pays nothing', () => {
    const hooks = new LinkHooks();
    expect(hooks.send).toBeUndefined();
    expect(hooks.around).toBeUndefined();
    expect(hooks.stateOf).toBeUndefined();
    expect(hooks.alertsOf).toBeUndefined();
  });

  it('two telemetry instances and a watchdog at once; each disposer removes only its own', async () => {
    const hooks = new LinkHooks();
    const log: string[] = [];
    const offA = hooks.add({
      send: () => trace('tp-a', log, 'a'),
      around: async (_m, _tp, fn) => {
        log.push('a in');
        await fn();
        log.push('a out');
      },
    });
    const offB = hooks.add({
      send: () => trace('tp-b', log, 'b'),
      around: async (_m, _tp, fn) => {
        log.push('b in');
        await fn();
        log.push('b out');
      },
    });
    const offW = hooks.add({ stateOf: () => 'healthy', alertsOf: () => ['X'] });

    const t = hooks.send?.(session);
    expect(t?.traceparent).toBe('tp-a');
    t?.queued(7, 'queued');
    expect(log).toEqual(['a queued 7', 'b queued 7']);
    log.length = 0;
    await hooks.around?.(message, undefined, async () => {
      log.push('handler');
    });
    expect(log).toEqual(['a in', 'b in', 'handler', 'b out', 'a out']);
    expect(hooks.stateOf?.('w1')).toBe('healthy');

    offA();
    offA(); // a second call removes nothing else
    expect(hooks.send?.(session)?.traceparent).toBe('tp-b');
    expect(hooks.stateOf?.('w1')).toBe('healthy');
    offW();
    expect(hooks.stateOf).toBeUndefined();
    expect(hooks.send).toBeDefined();
    offB();
    expect(hooks.send).toBeUndefined();
    expect(hooks.around).toBeUndefined();
  });

  it('the first provider that knows a state answers; alerts are merged', () => {
    const hooks = new LinkHooks();
    hooks.add({ stateOf: () => undefined, alertsOf: () => ['A'] });
    hooks.add({ stateOf: () => 'degraded', alertsOf: () => ['B'] });
    expect(hooks.stateOf?.('w1')).toBe('degraded');
    expect(hooks.alertsOf?.('w1')).toEqual(['A', 'B']);
  });

  it('an unsampled provider does not hide a sampled one', () => {
    const hooks = new LinkHooks();
    const log: string[] = [];
    hooks.add({ send: () => undefined });
    hooks.add({ send: () => trace('tp', log, 'b') });
    expect(hooks.send?.(session)?.traceparent).toBe('tp');
  });
});
