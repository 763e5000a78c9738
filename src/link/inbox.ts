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
  // Accepted seqs not yet contiguous-complete, in seq order; `done` flips on completion.
  #pending: { seq: number; done: boolean }[] = [];
  #pendingHead = 0;
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
    this.#pending.push({ seq, done: false });
    return 'accepted';
  }

  /** Marks `seq` done (success or recorded failure). Returns true when `processed` advanced. */
  complete(seq: number): boolean {
    for (let i = this.#pendingHead; i < this.#pending.length; i++) {
      const item = this.#pending[i]!;
      if (item.seq === seq) {
        item.done = true;
        break;
      }
    }
    let advanced = false;
    while (this.#pendingHead < this.#pending.length && this.#pending[this.#pendingHead]!.done) {
      this.#processed = this.#pending[this.#pendingHead]!.seq;
      this.#pendingHead++;
      advanced = true;
    }
    if (this.#pendingHead > 1024 && this.#pendingHead * 2 > this.#pending.length) {
      this.#pending = this.#pending.slice(this.#pendingHead);
      this.#pendingHead = 0;
    }
    return advanced;
  }
}
