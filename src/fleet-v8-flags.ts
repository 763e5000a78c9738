/**
 * V8 garbage-collector flags for a process that holds thousands of links: the
 * CLI hub, and the children of `linkwatch load`. Measured on a hub
 * (bench/README.md, "Where the memory per link goes"):
 *
 * - `--max-semi-space-size=16`. Node 24 lets the young generation grow to
 *   128 MB (two 64 MB semi-spaces) in a process that allocates fast, and that
 *   memory stays resident. Capped at 16 MB semi-spaces, the fleet bench's
 *   5,000-link hub went from 96 to 48 KB of RSS per link for about a tenth
 *   more CPU per link-second; at 2 MB the CPU cost was a third and a 7 MB
 *   scrape took 11 s instead of 0.2 s, so 16 it is.
 * - `--no-allocation-site-pretenuring`. A hub's per-message objects (frames,
 *   `ws`'s buffers, queue items) live for microseconds, but a connect storm
 *   or a scrape keeps many of them alive at once, and V8 then decides to
 *   allocate them straight into the old generation for good. Every one of
 *   them became old-space garbage: a sampling heap profile of a 5,000-link hub
 *   counted 850 MB collected by full GCs in 90 s, 414 MB without pretenuring.
 * - `--heap-growing-percent=50`, the hub only. V8 lets the old generation
 *   grow to 3-4x its live size before a full GC; this holds it to 1.5x. With
 *   the garbage halved by the flag above, it took a 5,000-link hub from 57-60
 *   to 29-32 KB of RSS per link for 0-3 points of a core. The load tool's
 *   children keep V8's choice: their CPU is the fleet's RTT.
 *
 * V8 reads these once, when the process starts: `v8.setFlagsFromString`
 * later changes nothing (measured). So the hub command re-executes the
 * process with them (`process.execve`: the same pid, no parent left behind)
 * and the load tool forks its children with them, leaving out any the user
 * set already, in NODE_OPTIONS or on node's command line. Where
 * `process.execve` is missing (Windows, Node before 22.15) the hub runs with
 * V8's defaults.
 */
export const HUB_SEMI_SPACE_MB = 16;
export const HUB_HEAP_GROWING_PERCENT = 50;

/** Which process a flag is for: the hub, or the hub and the load tool's children. */
export type FleetProcess = 'hub' | 'load';

interface FleetFlag {
  /** What goes on the command line. */
  arg: string;
  /** Spellings that mean the user chose this setting already (V8 takes `_` for `-` too). */
  chosenBy: readonly string[];
  for: readonly FleetProcess[];
}

export const FLEET_V8_FLAGS: readonly FleetFlag[] = [
  {
    arg: `--max-semi-space-size=${HUB_SEMI_SPACE_MB}`,
    chosenBy: ['--max-semi-space-size'],
    for: ['hub', 'load'],
  },
  {
    arg: '--no-allocation-site-pretenuring',
    chosenBy: ['--allocation-site-pretenuring', '--no-allocation-site-pretenuring'],
    for: ['hub', 'load'],
  },
  {
    arg: `--heap-growing-percent=${HUB_HEAP_GROWING_PERCENT}`,
    chosenBy: ['--heap-growing-percent'],
    for: ['hub'],
  },
];

const normal = (a: string) => a.split('=')[0]!.replace(/_/g, '-');

/** The flags of FLEET_V8_FLAGS for `process` the user did not set, on node's command line or in NODE_OPTIONS. */
export function fleetFlagsToAdd(
  process: FleetProcess,
  execArgv: readonly string[],
  nodeOptions: string | undefined,
): string[] {
  const given = new Set([...execArgv, ...(nodeOptions ?? '').split(/\s+/)].filter(Boolean).map(normal));
  return FLEET_V8_FLAGS.filter((f) => f.for.includes(process) && !f.chosenBy.some((c) => given.has(c))).map(
    (f) => f.arg,
  );
}

/**
 * Re-executes the hub's process with the flags the user did not set; returns
 * only when there are none to add (or no `process.execve`). Call it before
 * anything starts (sockets, timers): nothing survives it.
 */
export function applyHubV8Flags(): void {
  if (typeof process.execve !== 'function') return;
  const add = fleetFlagsToAdd('hub', process.execArgv, process.env.NODE_OPTIONS);
  if (add.length === 0) return;
  process.execve(
    process.execPath,
    [process.execPath, ...add, ...process.execArgv, ...process.argv.slice(1)],
    process.env,
  );
}
