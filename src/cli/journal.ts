import { closeSync, existsSync, openSync, readFileSync, writeSync } from 'node:fs';
import type { CheckpointStore } from '../hub/hub.js';

/**
 * The CLI hub's sink: one line per processed message, `workerId stream seq`,
 * appended synchronously. It doubles as the dedupe checkpoint, so the
 * handler's effect and the checkpoint are one write and a SIGKILLed hub
 * resumes without delivering anything twice.
 */
export class Journal implements CheckpointStore {
  readonly #fd: number;
  readonly #last = new Map<string, number>();

  constructor(file: string) {
    if (existsSync(file)) {
      for (const line of readFileSync(file, 'utf8').split('\n')) {
        const [workerId, stream, seq] = line.split(' ');
        if (workerId && stream && seq) {
          const key = `${workerId} ${stream}`;
          this.#last.set(key, Math.max(this.#last.get(key) ?? 0, Number(seq)));
        }
      }
    }
    this.#fd = openSync(file, 'a');
  }

  load(workerId: string, stream: string): number | undefined {
    return this.#last.get(`${workerId} ${stream}`);
  }

  /** The journal line itself is the checkpoint; nothing more to write. */
  commit(): void {}

  append(workerId: string, stream: string, seq: number): void {
    writeSync(this.#fd, `${workerId} ${stream} ${seq}\n`);
  }

  close(): void {
    closeSync(this.#fd);
  }
}
