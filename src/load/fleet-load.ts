import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { fleetFlagsToAdd } from '../fleet-v8-flags.js';
import type { ChildCounts, ChildMessage, ParentMessage } from './protocol.js';
import { LatencyHistogram } from './rtt-histogram.js';
import { SteadyPhase } from './steady-phase.js';

export interface FleetLoadOptions {
  /** Hub URLs every worker dials (failover order). */
  hubs: string[];
  workers: number;
  /** Messages per second per worker. */
  rate: number;
  /** Payload filler bytes. */
  size: number;
  /** Child processes the workers are spread over. */
  procs: number;
  /** Steady phase after all connected, ms; 0 runs until `until` resolves. */
  durationMs: number;
  /** Give up waiting for all workers to connect after this, ms (the steady phase starts anyway). */
  connectTimeoutMs: number;
  /** Drain deadline at stop: unacked messages after it count as lost, ms. */
  drainTimeoutMs: number;
  /** Worker ids are `${idPrefix}-${i}`. */
  idPrefix: string;
  /** The bearer token of a worker id. */
  tokenFor: (workerId: string) => string;
  backoffMaxMs?: number | undefined;
  handshakeTimeoutMs?: number | undefined;
  /** Stops an open-ended run (durationMs 0), or a run early. */
  until?: Promise<unknown>;
  /** Called about once a second with the fleet's totals. */
  onProgress?: (p: FleetProgress) => void;
}

export interface FleetProgress extends Omit<ChildCounts, 'lastFirstConnectMs' | 'loopDelayP99Ms'> {
  /** The worst load process's event-loop delay p99 over the last report, ms. */
  loopDelayP99Ms: number;
  /** Seconds since the workers were told to dial. */
  t: number;
  /** All workers connected, with no reconnect, for 2 s: RTT reported now counts as steady (see SteadyPhase). */
  steady: boolean;
  workers: number;
}

export interface FleetSummary {
  workers: number;
  procs: number;
  rate: number;
  size: number;
  /** ms from "dial" to the last worker's first connect; null if not all connected. */
  allConnectedMs: number | null;
  connectMs: { p50: number; p90: number; p99: number; max: number };
  connected: number;
  /**
   * Heartbeat RTT seen by the workers while the fleet was steady: all connected, with no reconnect,
   * for 2 s (see SteadyPhase), ms. Without any steady report, every sample.
   */
  rttMs: RttSummary;
  /** Heartbeat RTT outside the steady phase: the connect phase and recoveries after a disconnect, ms. */
  rttUnsteadyMs: RttSummary;
  /**
   * The load processes' own event-loop delay while steady, ms (worst process, each report's
   * p99): an RTT near it is the load tool's lag, not the hub's.
   */
  loadLoopDelayMs: { p99Max: number; p99Median: number };
  sent: number;
  acked: number;
  /** Sent but not acked when the drain deadline passed. */
  lost: number;
  replayed: number;
  dropped: number;
  throttled: number;
  reconnects: number;
  handshakeFailures: Record<string, number>;
  steadyS: number;
  /** Acked per second over the steady phase. */
  ackedPerS: number;
}

export interface RttSummary {
  p50: number;
  p90: number;
  p99: number;
  max: number;
  samples: number;
}

/** RTT counts as steady state from this long after the last worker (re)connected, ms. */
const STEADY_AFTER_MS = 2000;

const CHILD = fileURLToPath(new URL('./load-child.js', import.meta.url));

interface Child {
  proc: ChildProcess;
  last: ChildCounts | undefined;
  connectMs: number[] | undefined;
  stopped: Extract<ChildMessage, { type: 'stopped' }> | undefined;
}

/**
 * Spreads `workers` Workers over `procs` child processes, starts them all at
 * once (a cold connect), measures the time until every one connected, then
 * runs the steady phase and reports heartbeat RTT percentiles and losses.
 */
export async function runFleetLoad(o: FleetLoadOptions): Promise<FleetSummary> {
  const procs = Math.max(1, Math.min(o.procs, o.workers));
  const ids = Array.from({ length: o.workers }, (_, i) => `${o.idPrefix}-${i}`);
  const children: Child[] = [];
  const rttUnsteady = new LatencyHistogram();
  const rttSteady = new LatencyHistogram();
  const phase = new SteadyPhase(o.workers, STEADY_AFTER_MS);
  // As of the last report from a load process.
  let steady = false;
  const loopDelays: number[] = [];
  let allConnectedAt: number | undefined;
  let failed: Error | undefined;
  let wake: () => void = () => {};
  let ready = 0;
  const changed = () => wake();

  for (let p = 0; p < procs; p++) {
    const mine = ids.slice(Math.floor((p * o.workers) / procs), Math.floor(((p + 1) * o.workers) / procs));
    const tokens = mine.map(o.tokenFor);
    const child: Child = {
      proc: fork(CHILD, [], {
        // Each child holds thousands of links, as a hub does (see fleet-v8-flags.ts).
        execArgv: [
          ...fleetFlagsToAdd('load', process.execArgv, process.env.NODE_OPTIONS),
          ...process.execArgv,
        ],
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
        serialization: 'advanced',
      }),
      last: undefined,
      connectMs: undefined,
      stopped: undefined,
    };
    child.proc.on('message', (m: ChildMessage) => {
      if (m.type === 'ready') ready++;
      if (m.type === 'error') failed = new Error(`load child ${child.proc.pid}: ${m.message}`);
      if (m.type === 'report' || m.type === 'stopped') {
        child.last = m;
        child.connectMs ??= m.connectMs;
        // RTT while workers connect or reconnect, and just after, measures the storm, not the steady state.
        const t = total();
        steady = phase.update(t.connected, t.reconnects, Date.now());
        (steady ? rttSteady : rttUnsteady).add(m.rtt);
        if (steady && m.type === 'report') loopDelays.push(m.loopDelayP99Ms);
        if (m.type === 'stopped') child.stopped = m;
      }
      changed();
    });
    child.proc.once('exit', (code) => {
      if (!child.stopped) failed ??= new Error(`load child ${child.proc.pid} exited with ${code}`);
      changed();
    });
    const start: ParentMessage = {
      type: 'start',
      hubs: o.hubs,
      ids: mine,
      token: tokens.every((t) => t === tokens[0]) ? (tokens[0] ?? '') : tokens,
      rate: o.rate,
      size: o.size,
      backoffMaxMs: o.backoffMaxMs,
      handshakeTimeoutMs: o.handshakeTimeoutMs,
    };
    child.proc.send(start);
    children.push(child);
  }

  const until = (predicate: () => boolean, deadline: number) =>
    new Promise<void>((resolve) => {
      const check = () => {
        if (predicate() || failed || Date.now() >= deadline) {
          clearTimeout(timer);
          wake = () => {};
          resolve();
        }
      };
      // An open-ended run (--duration 0) has no deadline: Infinity would fire at once, with a warning.
      const timer = Number.isFinite(deadline)
        ? setTimeout(check, Math.max(0, deadline - Date.now()))
        : undefined;
      wake = check;
      check();
    });
  const total = (): FleetProgress => ({ ...sum(children, o.workers, goAt), steady });
  let goAt = Date.now();
  await until(() => ready === children.length, Date.now() + 60_000);
  if (failed) throw await killAll(children, failed);

  goAt = Date.now();
  for (const c of children) c.proc.send({ type: 'go', at: goAt } satisfies ParentMessage);
  const progress = () => o.onProgress?.(total());
  const ticker = setInterval(progress, 1000);
  try {
    await until(() => total().everConnected >= o.workers, goAt + o.connectTimeoutMs);
    if (failed) throw failed;
    if (total().everConnected >= o.workers) allConnectedAt = Date.now();
    const steadyFrom = Date.now();
    const ackedAtStart = total().acked;
    let stopEarly = false;
    void o.until?.then(() => {
      stopEarly = true;
      changed();
    });
    await until(() => stopEarly, o.durationMs > 0 ? steadyFrom + o.durationMs : Number.POSITIVE_INFINITY);
    const steadyS = (Date.now() - steadyFrom) / 1000;
    const ackedInSteady = total().acked - ackedAtStart;
    for (const c of children)
      c.proc.send({ type: 'stop', timeoutMs: o.drainTimeoutMs } satisfies ParentMessage);
    await until(() => children.every((c) => c.stopped), Date.now() + o.drainTimeoutMs + 30_000);
    if (failed && !children.every((c) => c.stopped)) throw failed;
    const end = total();
    const connectMs = children.flatMap((c) => c.connectMs ?? []).sort((a, b) => a - b);
    const pick = (p: number) =>
      connectMs[Math.min(connectMs.length - 1, Math.ceil((p / 100) * connectMs.length) - 1)] ?? 0;
    return {
      workers: o.workers,
      procs,
      rate: o.rate,
      size: o.size,
      allConnectedMs:
        allConnectedAt === undefined
          ? null
          : Math.max(...children.map((c) => c.last?.lastFirstConnectMs ?? 0)),
      connectMs: { p50: pick(50), p90: pick(90), p99: pick(99), max: connectMs.at(-1) ?? 0 },
      connected: end.everConnected,
      rttMs: rttSummary(rttSteady.count > 0 ? rttSteady : rttUnsteady),
      rttUnsteadyMs: rttSummary(rttUnsteady),
      loadLoopDelayMs: {
        p99Max: Math.max(0, ...loopDelays),
        p99Median: loopDelays.sort((a, b) => a - b)[Math.floor(loopDelays.length / 2)] ?? 0,
      },
      sent: end.sent,
      acked: end.acked,
      lost: children.reduce((n, c) => n + (c.stopped?.unacked ?? 0), 0),
      replayed: end.replayed,
      dropped: end.dropped,
      throttled: end.throttled,
      reconnects: end.reconnects,
      handshakeFailures: end.handshakeFailures,
      steadyS: round(steadyS),
      ackedPerS: steadyS > 0 ? Math.round(ackedInSteady / steadyS) : 0,
    };
  } finally {
    clearInterval(ticker);
    await killAll(children, undefined);
  }
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}

function rttSummary(h: LatencyHistogram): RttSummary {
  return {
    p50: round(h.percentile(50)),
    p90: round(h.percentile(90)),
    p99: round(h.percentile(99)),
    max: round(h.maxMs),
    samples: h.count,
  };
}

function sum(children: Child[], workers: number, goAt: number): Omit<FleetProgress, 'steady'> {
  const p: Omit<FleetProgress, 'steady'> = {
    t: Math.round((Date.now() - goAt) / 100) / 10,
    workers,
    connected: 0,
    streaming: 0,
    everConnected: 0,
    sent: 0,
    acked: 0,
    replayed: 0,
    dropped: 0,
    reconnects: 0,
    throttled: 0,
    handshakeFailures: {},
    loopDelayP99Ms: 0,
  };
  for (const c of children) {
    const l = c.last;
    if (!l) continue;
    p.connected += l.connected;
    p.streaming += l.streaming;
    p.everConnected += l.everConnected;
    p.sent += l.sent;
    p.acked += l.acked;
    p.replayed += l.replayed;
    p.dropped += l.dropped;
    p.reconnects += l.reconnects;
    p.throttled += l.throttled;
    p.loopDelayP99Ms = Math.max(p.loopDelayP99Ms, l.loopDelayP99Ms);
    for (const [code, n] of Object.entries(l.handshakeFailures)) {
      p.handshakeFailures[code] = (p.handshakeFailures[code] ?? 0) + n;
    }
  }
  return p;
}

/** Ends children that are still running (a failure, or the run is over). */
async function killAll(children: Child[], error: Error | undefined): Promise<Error | undefined> {
  await Promise.all(
    children.map(
      (c) =>
        new Promise<void>((resolve) => {
          if (c.proc.exitCode !== null || c.proc.signalCode !== null) return resolve();
          c.proc.once('exit', () => resolve());
          c.proc.kill('SIGKILL');
        }),
    ),
  );
  return error;
}
