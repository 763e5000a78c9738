import * as ws from 'ws';

/**
 * `ws`'s Receiver (8.x) collects a message's fragments in `_fragments` and,
 * at every message's end, replaces that array with a fresh one. On a link
 * that reads a message a second (a fleet worker's heartbeat), the fresh
 * array lives until the next message, long enough for V8 to move it to the
 * old generation. The next message's payload is then pushed into an old
 * array that is dropped right after: the young objects it points to (the
 * array's backing store, the payload's Buffer and the socket read's
 * ArrayBuffer) count as live until the next full collection and are
 * promoted with it. A `ws` server of 5,000 such links promoted 23 MB in
 * 10 s that way; with the array kept and emptied instead, 1.1 MB
 * (bench/results/ws-fragments.md).
 *
 * So each Receiver keeps its first array: after a whole message, the array
 * the message was read into is emptied and put back in place of the fresh
 * one. Nothing a listener sees changes: `ws` hands out the array itself
 * only for binaryType 'fragments', and such receivers are left as they are.
 * Applied once per process, only to a Receiver shaped as this expects
 * (`ws` 8); anything else is left alone.
 */
let applied: boolean | undefined;

interface ReceiverInternals {
  _fragments: unknown;
  _binaryType: string;
  dataMessage(cb: unknown): void;
}

/** Installs the reuse once; true when `ws`'s Receiver has it. */
export function reuseReceiverFragments(): boolean {
  if (applied !== undefined) return applied;
  // Exported by `ws` (ESM and CommonJS), though not in its type definitions.
  const proto = (ws as unknown as { Receiver?: { prototype: ReceiverInternals } }).Receiver?.prototype;
  const original = proto?.dataMessage;
  if (!proto || typeof original !== 'function' || (original as { linkwatchReuse?: true }).linkwatchReuse) {
    applied = typeof original === 'function';
    return applied;
  }
  const call = original;
  function dataMessage(this: ReceiverInternals, cb: unknown): void {
    const fragments = this._fragments;
    call.call(this, cb);
    const fresh = this._fragments;
    if (
      fresh !== fragments &&
      Array.isArray(fresh) &&
      fresh.length === 0 &&
      Array.isArray(fragments) &&
      this._binaryType !== 'fragments'
    ) {
      fragments.length = 0;
      this._fragments = fragments;
    }
  }
  (dataMessage as { linkwatchReuse?: true }).linkwatchReuse = true;
  proto.dataMessage = dataMessage;
  applied = true;
  return applied;
}
