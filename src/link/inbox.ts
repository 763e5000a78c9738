/**
 * Receive-side bookkeeping for one direction of one worker's stream: drops
 * duplicates (seq ≤ last accepted) and tracks the highest seq processed in
 * order, which is what the cumulative ack reports. Gaps (the sender dropped
 * messages under a drop policy) are allowed and counted.
 */
export type AcceptResult = 'accepted' | 'duplicate';

/** Slots of the pending array an emptied inbox keeps for the next messages. */
const PENDING_KEPT = 64;

export class Inbox {
  // Highest seq handed to the work queue; everything ≤ it is a duplicate.
  #lastAccepted: number;
  // Highest seq such that it and every accepted seq before it completed.
  #processed: number;
  // Accepted seqs not yet contiguous-complete, in seq order (plain numbers: no object per message),
  // at [#pendingHead, #pendingEnd). The array is kept and overwritten, never replaced while it
  // empties: a fresh array per message lived until the next one (a second apart on a fleet link),
  // was promoted, and then kept each later message's backing store alive into the old generation.
  #pending: number[] = [];
  #pendingHead = 0;
  #pendingEnd = 0;
  // Completed seqs behind a pending one (concurrency > 1 finishes out of order); usually empty.
  readonly #doneEarly = new Set<number>();
  #gaps = 0;

  constructor(processed = 0) {
    this.#lastAccepted = processed;
    this.#processed = processed;
  }

  get lastAccepted(): number {
    return this.#lastAccepted;
  }
  get processed(): number {
    return this.#processed;
  }
  /** Accepted but not yet contiguously processed. */
  get inFlight(): number {
    return this.#pendingEnd - this.#pendingHead;
  }
  get gaps(): number {
    return this.#gaps;
  }

  accept(seq: number): AcceptResult {
    if (seq <= this.#lastAccepted) return 'duplicate';
    if (seq !== this.#lastAccepted + 1) this.#gaps += seq - this.#lastAccepted - 1;
    this.#lastAccepted = seq;
    const pending = this.#pending;
    if (this.#pendingEnd < pending.length) pending[this.#pendingEnd] = seq;
    else pending.push(seq);
    this.#pendingEnd++;
    return 'accepted';
  }

  /** Marks `seq` done (success or recorded failure). Returns true when `processed` advanced. */
  complete(seq: number): boolean {
    const pending = this.#pending;
    const end = this.#pendingEnd;
    if (this.#pendingHead >= end || pending[this.#pendingHead] !== seq) {
      // Out of order: remembered until everything before it is done. Unknown seqs are ignored.
      if (seq > this.#processed && seq <= this.#lastAccepted) this.#doneEarly.add(seq);
      return false;
    }
    this.#processed = seq;
    this.#pendingHead++;
    while (this.#pendingHead < end && this.#doneEarly.delete(pending[this.#pendingHead]!)) {
      this.#processed = pending[this.#pendingHead]!;
      this.#pendingHead++;
    }
    if (this.#pendingHead === end) {
      this.#pendingHead = 0;
      this.#pendingEnd = 0;
      // A burst grew it past a window's worth: let that go, keep a small one.
      if (pending.length > PENDING_KEPT) pending.length = PENDING_KEPT;
    } else if (this.#pendingHead > 1024 && this.#pendingHead * 2 > end) {
      this.#pending = pending.slice(this.#pendingHead, end);
      this.#pendingEnd = end - this.#pendingHead;
      this.#pendingHead = 0;
    }
    return true;
  }
}
