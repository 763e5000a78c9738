import { type Alert, type AlertSink, type HealthReason, makeAlert } from './alerts.js';

export interface AlertBookOptions {
  side: 'hub' | 'worker';
  hubId: string | undefined;
  /** The worker id label of process-level alerts (the worker's own id; none on a hub). */
  processWorkerId: () => string;
  /** Called for every alert that fires or resolves, after the sinks. */
  onPublish: (alert: Alert) => void;
}

/** Key of the process-level pseudo link (event loop, telemetry export). */
export const PROCESS_KEY = '\u0000process';

/**
 * The alert lifecycle: which alerts fire for which link, firing each once
 * and resolving it when its reason clears, delivered to every sink. A link
 * with nothing firing costs one map lookup per check and holds no entry.
 */
export class AlertBook {
  readonly #o: AlertBookOptions;
  // Firing alerts by link key, then reason; a link leaves the map when its last alert resolves.
  readonly #firing = new Map<string, Map<HealthReason, Alert>>();
  readonly #sinks: AlertSink[] = [];

  constructor(options: AlertBookOptions) {
    this.#o = options;
  }

  addSink(sink: AlertSink): void {
    this.#sinks.push(sink);
  }

  /**
   * Makes the firing set of one link equal `want`: fires what is new,
   * resolves what cleared. `describe` is asked only for alerts that fire.
   */
  sync(
    key: string,
    hubId: string | undefined,
    want: ReadonlySet<HealthReason>,
    describe: (reason: HealthReason) => string,
  ): void {
    const firing = this.#firing.get(key);
    if (firing === undefined && want.size === 0) return;
    for (const reason of want) {
      if (!firing?.has(reason)) this.#fire(key, hubId, reason, describe(reason));
    }
    if (firing) for (const reason of firing.keys()) if (!want.has(reason)) this.#resolve(key, firing, reason);
  }

  /** Resolves everything firing for a link (it was forgotten). */
  resolveAll(key: string): void {
    const firing = this.#firing.get(key);
    if (firing) for (const reason of firing.keys()) this.#resolve(key, firing, reason);
  }

  /** Names of the alerts firing for one link. */
  namesOf(key: string): string[] {
    const firing = this.#firing.get(key);
    return firing ? [...firing.values()].map((a) => a.name) : [];
  }

  /** Every firing alert; built on request. */
  active(): Alert[] {
    return [...this.#firing.values()].flatMap((m) => [...m.values()]);
  }

  async close(): Promise<void> {
    await Promise.all(this.#sinks.map((s) => s.close?.().catch(() => {})));
  }

  #fire(key: string, hubId: string | undefined, reason: HealthReason, description: string): void {
    const processLevel = key === PROCESS_KEY;
    const workerId = processLevel ? this.#o.processWorkerId() : key;
    const alert = makeAlert(
      reason,
      { workerId, hubId: hubId ?? this.#o.hubId, side: this.#o.side },
      description,
      new Date(),
    );
    if (!alert.labels.linkwatch_worker_id) delete alert.labels.linkwatch_worker_id;
    let firing = this.#firing.get(key);
    if (!firing) {
      firing = new Map();
      this.#firing.set(key, firing);
    }
    firing.set(reason, alert);
    this.#publish(alert);
  }

  #resolve(key: string, firing: Map<HealthReason, Alert>, reason: HealthReason): void {
    const alert = firing.get(reason);
    if (!alert) return;
    firing.delete(reason);
    if (firing.size === 0) this.#firing.delete(key);
    this.#publish({ ...alert, status: 'resolved', endsAt: new Date() });
  }

  #publish(alert: Alert): void {
    for (const sink of this.#sinks) {
      try {
        sink.deliver(alert);
      } catch {}
    }
    try {
      this.#o.onPublish(alert);
    } catch {}
  }
}
