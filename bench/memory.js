/**
 * Memory under sustained backpressure. The hub's handler takes about 1 ms per
 * message (concurrency 1), the worker's outbox holds at most 1,000 messages
 * under the default `block` policy, and a producer calls `send()` as fast as
 * it resolves. Every buffer on the way is bounded, so memory must level off:
 * this samples the heap and RSS and checks that the second half of the run
 * does not grow, and that the hub queue never passes its capacity.
 */
import { collectGarbage, payloadOf, sleep, startPair } from './fixture.js';
import { slope } from './stats.js';

export const title = 'Memory under backpressure';

const OUTBOX_MAX = 1000;
const BYTES = 1024;
const MB = 1024 * 1024;

export async function run({ quick, memorySeconds, log }) {
  const durationMs = memorySeconds ? memorySeconds * 1000 : quick ? 4000 : 10_000;
  const sampleEveryMs = 100;
  // A full GC every this many samples gives the live heap, free of allocation sawtooth.
  const gcEvery = 5;
  let delivered = 0;
  const pair = await startPair(
    async () => {
      await sleep(1);
      delivered++;
    },
    { worker: { outboxMaxMessages: OUTBOX_MAX, overflow: 'block' } },
  );
  const { hub, worker } = pair;
  const capacity = hub.settings.queueCapacity;
  const queueDepth = () => hub.sessions().get(worker.workerId)?.queue.depth ?? 0;
  collectGarbage();
  const baseline = process.memoryUsage();

  let stop = false;
  let sent = 0;
  const payload = payloadOf(BYTES);
  const producer = (async () => {
    while (!stop) {
      await worker.send(payload);
      sent++;
    }
  })().catch(() => {}); // stop() rejects the send blocked at the end

  const samples = [];
  const live = [];
  let maxDepth = 0;
  let maxOutbox = 0;
  let blockedSamples = 0;
  const t0 = performance.now();
  for (let i = 1; performance.now() - t0 < durationMs; i++) {
    await sleep(sampleEveryMs);
    const t = (performance.now() - t0) / 1000;
    const m = process.memoryUsage();
    const depth = queueDepth();
    const outbox = worker.session.outbox;
    maxDepth = Math.max(maxDepth, depth);
    maxOutbox = Math.max(maxOutbox, outbox.size);
    if (outbox.waiting > 0) blockedSamples++;
    samples.push({ t, heapUsed: m.heapUsed, rss: m.rss, external: m.external, depth, outbox: outbox.size });
    if (i % gcEvery === 0) {
      collectGarbage();
      const after = process.memoryUsage();
      live.push({ t, heapUsed: after.heapUsed, rss: after.rss, external: after.external });
    }
  }
  stop = true;
  const elapsedS = (performance.now() - t0) / 1000;
  const deliveredInRun = delivered;
  await pair.stop();
  await producer;

  const half = elapsedS / 2;
  const secondHalf = live.filter((s) => s.t >= half);
  const firstHalf = live.filter((s) => s.t < half);
  const maxOf = (list, k) => Math.max(...list.map((s) => s[k]));
  const results = {
    durationS: round1(elapsedS),
    delivered: deliveredInRun,
    sent,
    deliveredPerSec: Math.round(deliveredInRun / elapsedS),
    baselineHeapMB: mb(baseline.heapUsed),
    baselineRssMB: mb(baseline.rss),
    maxHeapMB: mb(maxOf(samples, 'heapUsed')),
    maxRssMB: mb(maxOf(samples, 'rss')),
    liveHeapMB: live.map((s) => ({
      t: round1(s.t),
      heapMB: mb(s.heapUsed),
      rssMB: mb(s.rss),
      externalMB: mb(s.external),
    })),
    // Live heap after GC: the most the second half held over the most the first half held.
    liveHeapGrowthSecondHalfMB: mb(maxOf(secondHalf, 'heapUsed') - maxOf(firstHalf, 'heapUsed')),
    liveHeapSlopeSecondHalfKBps: Math.round(
      slope(
        secondHalf.map((s) => s.t),
        secondHalf.map((s) => s.heapUsed / 1024),
      ),
    ),
    rssGrowthSecondHalfMB: mb(maxOf(secondHalf, 'rss') - maxOf(firstHalf, 'rss')),
    maxQueueDepth: maxDepth,
    queueCapacity: capacity,
    maxOutbox,
    outboxMaxMessages: OUTBOX_MAX,
    producerBlockedPct: Math.round((blockedSamples / samples.length) * 100),
  };
  const plateau = Math.abs(results.liveHeapGrowthSecondHalfMB) < 2;
  results.plateau = plateau;
  results.queueBounded = maxDepth <= capacity;
  const summary =
    `${results.durationS} s, ${results.deliveredPerSec} msg/s: max heap ${results.maxHeapMB} MB, ` +
    `live heap second half ${sign(results.liveHeapGrowthSecondHalfMB)} MB ` +
    `(${results.liveHeapSlopeSecondHalfKBps} KB/s) ${plateau ? 'plateau' : 'GROWING'}, ` +
    `max RSS ${results.maxRssMB} MB; queue depth ≤ ${maxDepth}/${capacity}, outbox ≤ ${maxOutbox}/${OUTBOX_MAX}`;
  log(`memory ${summary}`);
  return {
    params: {
      durationMs,
      payloadBytes: BYTES,
      handlerMs: 1,
      queueConcurrency: 1,
      outboxMaxMessages: OUTBOX_MAX,
    },
    results,
    summary,
  };
}

export function markdown({ results: r, params }) {
  const series = r.liveHeapMB.map((s) => `${s.t}s: ${s.heapMB}`).join(', ');
  return [
    `${params.payloadBytes} B payloads, handler ~${params.handlerMs} ms at concurrency ${params.queueConcurrency}, ` +
      `outboxMaxMessages ${params.outboxMaxMessages}, policy \`block\`, ${r.durationS} s.`,
    '',
    '| measure | value |',
    '|---|---|',
    `| delivered | ${r.delivered} (${r.deliveredPerSec} msg/s) |`,
    `| heap before the run (after GC) | ${r.baselineHeapMB} MB |`,
    `| max heapUsed (sampled every 100 ms) | ${r.maxHeapMB} MB |`,
    `| live heap growth, second half vs first half | **${sign(r.liveHeapGrowthSecondHalfMB)} MB** (slope ${r.liveHeapSlopeSecondHalfKBps} KB/s) |`,
    `| max RSS / growth in second half | ${r.maxRssMB} MB / ${sign(r.rssGrowthSecondHalfMB)} MB |`,
    `| max hub queue depth / capacity | ${r.maxQueueDepth} / ${r.queueCapacity} |`,
    `| max outbox size / limit | ${r.maxOutbox} / ${r.outboxMaxMessages} |`,
    `| samples with the producer blocked in send() | ${r.producerBlockedPct}% |`,
    '',
    `Live heap after GC (MB): ${series}.`,
  ].join('\n');
}

function mb(bytes) {
  return Math.round((bytes / MB) * 10) / 10;
}

function round1(v) {
  return Math.round(v * 10) / 10;
}

function sign(v) {
  return `${v >= 0 ? '+' : ''}${v}`;
}
