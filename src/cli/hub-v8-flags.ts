/**
 * The CLI hub's V8 young generation. Node 24 lets it grow to 128 MB (two
 * 64 MB semi-spaces) in a process that allocates fast, as a hub with
 * thousands of links does, and that memory stays resident: it was the largest
 * item of the hub's RSS per link (bench/README.md, "Where the memory per link
 * goes"). Capped at 16 MB semi-spaces, the fleet bench's 5,000-link hub went
 * from 96 to 48 KB of RSS per link for about a tenth more CPU per
 * link-second; at 2 MB the CPU cost was a third and a 7 MB scrape took 11 s
 * instead of 0.2 s, so 16 it is.
 *
 * V8 reads the size once, when the process starts: `v8.setFlagsFromString`
 * later changes nothing (measured). So the hub command re-executes the
 * process with the flag (`process.execve`: the same pid, no parent left
 * behind) unless the user chose a size already, in NODE_OPTIONS or on node's
 * command line. Where `process.execve` is missing (Windows, Node before
 * 22.15) the hub runs with V8's default.
 */
export const HUB_SEMI_SPACE_MB = 16;

const FLAG = '--max-semi-space-size';

/** True when node already runs with a semi-space size, from its command line or NODE_OPTIONS. */
export function semiSpaceChosen(execArgv: readonly string[], nodeOptions: string | undefined): boolean {
  return (
    execArgv.some((a) => a.startsWith(FLAG)) ||
    (nodeOptions ?? '').split(/\s+/).some((a) => a.startsWith(FLAG))
  );
}

/**
 * Re-executes this process with `--max-semi-space-size=HUB_SEMI_SPACE_MB`
 * unless a size was chosen; returns only when it does not re-execute.
 * Call it before anything starts (sockets, timers): nothing survives it.
 */
export function capYoungGeneration(): void {
  if (typeof process.execve !== 'function') return;
  if (semiSpaceChosen(process.execArgv, process.env.NODE_OPTIONS)) return;
  process.execve(
    process.execPath,
    [process.execPath, `${FLAG}=${HUB_SEMI_SPACE_MB}`, ...process.execArgv, ...process.argv.slice(1)],
    process.env,
  );
}
