/** Writes the fleet benchmark's results: everything as JSON, and a Markdown table against the goals. */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';

function git(args) {
  try {
    return execFileSync('git', args, { encoding: 'utf8' }).trim();
  } catch {
    return undefined;
  }
}

const mark = (ok) => (ok === undefined ? '' : ok ? ' ✓' : ' ✗');
const fmt = (x, digits = 1) => (x === undefined || x === null ? '—' : Number(x).toFixed(digits));

export function writeFleetReport(dir, { args, goals, results }) {
  mkdirSync(dir, { recursive: true });
  const meta = {
    date: new Date().toISOString(),
    node: process.version,
    cpu: os.cpus()[0]?.model,
    cores: os.cpus().length,
    loadavg: os.loadavg().map((l) => Math.round(l * 100) / 100),
    commit: git(['rev-parse', '--short', 'HEAD']),
    dirty: (git(['status', '--porcelain', 'src']) ?? '') !== '',
  };
  const name = args.name ?? 'latest';
  writeFileSync(
    join(dir, `fleet-${name}.json`),
    `${JSON.stringify({ meta, args, goals, results }, null, 2)}\n`,
  );

  const rows = results.map((r) => {
    const degraded = r.notHealthy;
    return `| ${r.workers.toLocaleString('en')} | ${r.connected.toLocaleString('en')} | ${fmt(r.allConnectedS)} s${mark(r.allConnectedS !== null && r.allConnectedS <= goals.connectS)} | ${fmt(r.hubCpuConnectPercent, 0)} % | ${fmt(r.hubCpuSteadyPercent, 0)} %${mark(r.hubCpuSteadyPercent <= goals.cpuPercent)} | ${fmt(r.hubRssSteadyMB, 0)} MB | ${fmt(r.rssPerLinkKB)} KB${mark(r.rssPerLinkKB <= goals.rssPerLinkKb)} | ${fmt(r.rttMs?.p99)} ms${mark(r.rttMs && r.rttMs.p99 <= goals.rttP99Ms)} | ${degraded === null ? '/links did not answer ✗' : `${degraded}${mark(degraded <= goals.degraded)}`} | ${r.lost ?? '—'} |`;
  });
  const storms = results
    .filter((r) => r.storm)
    .map((r) => {
      const s = r.storm;
      const fails = Object.entries(s.handshakeFailures)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ');
      return `| ${r.workers.toLocaleString('en')} | ${fmt(s.allStreamingAfterRestartS)} s${mark(s.allStreamingAfterRestartS !== null && s.allStreamingAfterRestartS <= goals.stormS)} | ${fmt(s.allStreamingAfterKillS)} s | ${s.journal?.gaps ?? '—'}${mark(s.journal && s.journal.gaps === 0)} | ${s.journal?.duplicates ?? '—'}${mark(s.journal && s.journal.duplicates === 0)} | ${s.handshakeTimeouts}${mark(s.handshakeTimeouts === 0)} | ${fails || 'none'} |`;
    });
  const md = `# Fleet scale: one hub, many workers

${meta.date} · node ${meta.node} · ${meta.cpu} × ${meta.cores} · load average ${meta.loadavg.join(' ')} · commit ${meta.commit}${meta.dirty ? ' (src/ modified)' : ''}

CLI hub with the Prometheus exporter (${args.scrapeS > 0 ? `scraped every ${args.scrapeS} s` : 'not scraped during the window'}) and the watchdog, heartbeat 1 s, \`--journal\`,
log level ${args.logLevel}; workers from \`linkwatch load\` in ${args.procs} processes, 1 msg/s of 256 B each;
steady window ${args.steadyS} s after a 5 s warm-up. ✓/✗ against the goals of issue 10.${args.hubNodeOptions ? `\nHub started with \`NODE_OPTIONS=${args.hubNodeOptions}\`.` : ''}${args.hubCpus || args.loadCpus ? `\nPinned with taskset: hub on CPU ${args.hubCpus ?? 'any'}, load processes on CPU ${args.loadCpus ?? 'any'}.` : ''}

| workers | connected | all connected (≤ ${goals.connectS} s) | hub CPU while connecting | hub CPU steady (≤ ${goals.cpuPercent} %) | hub RSS | RSS per link (≤ ${goals.rssPerLinkKb} KB) | RTT p99 (≤ ${goals.rttP99Ms} ms) | not healthy (0) | lost |
|---|---|---|---|---|---|---|---|---|---|
${rows.join('\n')}

| workers | hub CPU per connect | hub CPU per link-second | load average | one /metrics scrape | series | of which SDK overflow | hub CPU during it | /links answered in | RTT p50 / p90 | load processes' loop delay p99 (median / worst) |
|---|---|---|---|---|---|---|---|---|---|---|
${results
  .map(
    (r) =>
      `| ${r.workers.toLocaleString('en')} | ${fmt(r.hubCpuMsPerConnect, 2)} ms | ${fmt(r.hubCpuUsPerLinkSecond, 0)} µs | ${fmt(r.machineLoadAverage)} | ${r.scrape?.error ? r.scrape.error : `${fmt(r.scrape?.ms / 1000)} s, ${fmt(r.scrape?.bytes / 2 ** 20)} MB`} | ${r.scrape?.series?.toLocaleString('en') ?? '—'} | ${r.scrape?.overflow ?? '—'} | ${fmt(r.scrape?.hubCpuS)} s | ${r.linksMs === null || r.linksMs === undefined ? 'no answer' : `${r.linksMs} ms`} | ${fmt(r.rttMs?.p50)} / ${fmt(r.rttMs?.p90)} ms | ${fmt(r.loadLoopDelayMs?.p99Median)} / ${fmt(r.loadLoopDelayMs?.p99Max)} ms |`,
  )
  .join('\n')}

Where the heartbeat RTT goes: the workers' RTT (their hb to the hub's hb-ack, through both event loops), the
hub's own RTT (its hb to the worker's hb-ack; bucket upper bounds of its histogram over the window), and the
event-loop delay p99 of the hub (the watchdog's gauge at each scrape) and of the load processes. The
workers' RTT counts while the whole fleet is connected (\`linkwatch load\`'s steady phase); the connect
phase and a storm's recovery are the last column.

| workers | worker-observed RTT p50 / p90 / p99 | hub-observed RTT p50 / p90 / p99 (at most) | hub loop delay p99 (median / worst) | load processes' loop delay p99 (median / worst) | worker-observed RTT p99 outside it (connect, storm) |
|---|---|---|---|---|---|
${results
  .map(
    (r) =>
      `| ${r.workers.toLocaleString('en')} | ${fmt(r.rttMs?.p50)} / ${fmt(r.rttMs?.p90)} / ${fmt(r.rttMs?.p99)} ms | ${r.hubRttMs ? `${fmt(r.hubRttMs.p50AtMostMs)} / ${fmt(r.hubRttMs.p90AtMostMs)} / ${fmt(r.hubRttMs.p99AtMostMs)} ms` : '—'} | ${fmt(r.hubLoopDelayMs?.p99Median)} / ${fmt(r.hubLoopDelayMs?.p99Max)} ms | ${fmt(r.loadLoopDelayMs?.p99Median)} / ${fmt(r.loadLoopDelayMs?.p99Max)} ms | ${fmt(r.rttUnsteadyMs?.p99)} ms (${r.rttUnsteadyMs?.samples ?? 0} samples) |`,
  )
  .join('\n')}

${
  storms.length
    ? `Reconnect storm: SIGKILL the hub, restart it after 2 s on the same journal.

| workers | all streaming after restart (≤ ${goals.stormS} s) | after the kill | lost (journal gaps) | duplicates | handshake timeouts | handshake failures by code |
|---|---|---|---|---|---|---|
${storms.join('\n')}
`
    : ''
}
`;
  writeFileSync(join(dir, `fleet-${name}.md`), md);
  console.log(md);
}
