/**
 * Reads the CLI hub's journal and counts what the handler saw twice and what
 * it never saw. Records are JSON lines `{"w","s","q"}` (`"p"` marks a commit
 * record, not a message); the older `workerId stream seq` text is read too.
 */
import { readFileSync } from 'node:fs';

export function analyseJournal(file) {
  const streams = new Map();
  let lines = 0;
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (!line) continue;
    let workerId;
    let stream;
    let seq;
    if (line.startsWith('{')) {
      let r;
      try {
        r = JSON.parse(line);
      } catch {
        continue; // a torn last line: that message was not processed
      }
      if (r.q === undefined) continue;
      workerId = r.w;
      stream = r.s;
      seq = r.q;
    } else {
      const parts = line.split(' ');
      workerId = parts[0];
      stream = parts[1];
      seq = Number(parts[2]);
    }
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
