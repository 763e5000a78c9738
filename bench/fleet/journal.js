/**
 * Reads the CLI hub's journal (`workerId stream seq` per processed message)
 * and counts what the handler saw twice and what it never saw.
 */
import { readFileSync } from 'node:fs';

export function analyseJournal(file) {
  const streams = new Map();
  let lines = 0;
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (!line) continue;
    const [workerId, stream, seqText] = line.split(' ');
    const seq = Number(seqText);
    lines++;
    const key = `${workerId} ${stream}`;
    let s = streams.get(key);
    if (!s) {
      s = { seen: new Set(), max: 0, min: Number.POSITIVE_INFINITY };
      streams.set(key, s);
    }
    s.seen.add(seq);
    if (seq > s.max) s.max = seq;
    if (seq < s.min) s.min = seq;
  }
  let unique = 0;
  let gaps = 0;
  const workers = new Set();
  for (const [key, s] of streams) {
    workers.add(key.split(' ')[0]);
    unique += s.seen.size;
    // Seqs start at 1 on every stream; a hole below the highest one is a message never handled.
    gaps += s.max - s.seen.size;
  }
  return { lines, unique, duplicates: lines - unique, gaps, streams: streams.size, workers: workers.size };
}
