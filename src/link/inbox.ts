/**
 * Receive-side bookkeeping for one direction of one worker's stream: drops
 * duplicates (seq ≤ last accepted) and tracks the highest seq processed in
 * order, which is what the cumulative ack reports. Gaps (the sender dropped
 * messages under a drop policy) are allowed and counted.
 */
export type AcceptResult = 'accepted' | 'duplicate';

export class Inbox {
  // Highest seq handed to the work queue; everything ≤ it is a duplicate.
  #lastAccepted: number;
  // Highest seq such that it and every accepted seq before it completed.
  #processed: number;
  // Accepted seqs not yet contiguous-complete, in seq order (plain numbers: no object per message).
  #pending: number[] = [];
  #pendingHead = 0;
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
    return this.#pending.length - this.#pendingHead;
  }
  get gaps(): number {
    return this.#gaps;
  }

  accept(seq: number): AcceptResult {
    if (seq <= this.#lastAccepted) return 'duplicate';
    if (seq !== this.#lastAccepted + 1) this.#gaps += seq - this.#lastAccepted - 1;
    this.#lastAccepted = seq;
    this.#pending.push(seq);
    return 'accepted';
  }

  /** Marks `seq` done (success or recorded failure). Returns true when `processed` advanced. */
  complete(seq: number): boolean {
    const pending = this.#pending;
    if (this.#pendingHead >= pending.length || pending[this.#pendingHead] !== seq) {
      // Out of order: remembered until everything before it is done. Unknown seqs are ignored.
      if (seq > this.#processed && seq <= this.#lastAccepted) this.#doneEarly.add(seq);
      return false;
    }
    this.#processed = seq;
    this.#pendingHead++;
    while (this.#pendingHead < pending.length && this.#doneEarly.delete(pending[this.#pendingHead]!)) {
      this.#processed = pending[this.#pendingHead]!;
      this.#pendingHead++;
    }
    if (this.#pendingHead === pending.length) {
      this.#pending = [];
      this.#pendingHead = 0;
    } else if (this.#pendingHead > 1024 && this.#pendingHead * 2 > pending.length) {
      this.#pending = pending.slice(this.#pendingHead);
      this.#pendingHead = 0;
    }
    return true;
  }
}
