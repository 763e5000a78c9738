import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { requireBinaries } from '../../helpers/binaries.js';
import { PROMETHEUS_DIR } from '../../helpers/rules-override.js';

const bins = requireBinaries('promtool');
const DEADLINE_MS = 20_000;

/** Runs a binary with a deadline; never rejects, so a failure shows its output. */
function run(file: string, args: string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { timeout: DEADLINE_MS, encoding: 'utf8' }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      const killed = err?.killed ? `\n(killed after ${DEADLINE_MS} ms)` : '';
      resolve({ code, output: `${stdout}${stderr}${killed}` });
    });
  });
}

const ruleCount = (file: string): number =>
  (parse(readFileSync(file, 'utf8')) as { groups: { rules: unknown[] }[] }).groups.reduce(
    (n, g) => n + g.rules.length,
    0,
  );
const testFiles = (dir: string): string[] =>
  readdirSync(join(dir, 'tests'))
    .filter((f) => f.endsWith('.yml'))
    .sort()
    .map((f) => join(dir, 'tests', f));

const temps: string[] = [];
/** A copy of prometheus/ with one file changed, to prove the checks catch it. */
function brokenCopy(file: string, from: string, to: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'linkwatch-rules-'));
  temps.push(dir);
  cpSync(PROMETHEUS_DIR, dir, { recursive: true });
  const text = readFileSync(join(dir, file), 'utf8');
  if (!text.includes(from)) throw new Error(`${file} no longer contains ${JSON.stringify(from)}`);
  writeFileSync(join(dir, file), text.replace(from, to));
  return dir;
}
afterAll(() => {
  for (const dir of temps) rmSync(dir, { recursive: true, force: true });
});

describe.skipIf(bins.skip)('promtool', () => {
  const promtool = bins.paths.promtool!;
  const alerts = join(PROMETHEUS_DIR, 'alerts.yml');
  const rules = join(PROMETHEUS_DIR, 'rules.yml');

  it('check rules passes for rules.yml and alerts.yml', async () => {
    const { code, output } = await run(promtool, ['check', 'rules', rules, alerts]);
    expect(output).toContain(`SUCCESS: ${ruleCount(rules)} rules found`);
    expect(output).toContain(`SUCCESS: ${ruleCount(alerts)} rules found`);
    expect(output).not.toContain('FAILED');
    expect(code, output).toBe(0);
  });

  it('test rules passes every unit test file', async () => {
    const files = testFiles(PROMETHEUS_DIR);
    expect(files.length).toBeGreaterThanOrEqual(4);
    const { code, output } = await run(promtool, ['test', 'rules', ...files]);
    expect(output.match(/^\s+SUCCESS$/gm)?.length, output).toBe(files.length);
    expect(output).not.toContain('FAILED');
    expect(code, output).toBe(0);
  });

  it('check config passes for the example prometheus.yml and loads both rule files', async () => {
    const { code, output } = await run(promtool, ['check', 'config', join(PROMETHEUS_DIR, 'prometheus.yml')]);
    expect(output).toContain('SUCCESS: 2 rule files found');
    expect(code, output).toBe(0);
  });

  it('check rules fails on a rule that does not parse', async () => {
    const dir = brokenCopy(
      'alerts.yml',
      'linkwatch:progress:increase5m == 0',
      'linkwatch:progress:increase5m ==',
    );
    const { code, output } = await run(promtool, ['check', 'rules', join(dir, 'alerts.yml')]);
    expect(code).not.toBe(0);
    expect(output).toContain('FAILED');
  });

  it('test rules fails when the stall rule stops looking at progress', async () => {
    // Without the progress check every link with work in flight looks stalled.
    const dir = brokenCopy(
      'alerts.yml',
      'linkwatch:progress:increase5m == 0',
      'linkwatch:progress:increase5m >= 0',
    );
    const { code, output } = await run(promtool, ['test', 'rules', ...testFiles(dir)]);
    expect(code).not.toBe(0);
    expect(output).toContain('a healthy fleet under steady load is silent');
    expect(output).toMatch(/alertname: LinkwatchProgressStalled/);
  });

  it('test rules fails when a handler that times out on every message counts as progress', async () => {
    const completed =
      'label_replace(increase(linkwatch_queue_completed_total[5m]), "progress", "completed", "", "")';
    const dir = brokenCopy(
      'rules.yml',
      completed,
      `${completed} or label_replace(increase(linkwatch_queue_failed_total[5m]), "progress", "failed", "", "")`,
    );
    const { code, output } = await run(promtool, ['test', 'rules', ...testFiles(dir)]);
    expect(code).not.toBe(0);
    expect(output).toContain('times out on every message');
    expect(output).toMatch(/alertname: LinkwatchProgressStalled/);
  });

  it('test rules fails when queue drops at a hub restart count as lost messages', async () => {
    const dir = brokenCopy(
      'rules.yml',
      'increase(linkwatch_outbox_dropped_total[5m])',
      'increase({__name__=~"linkwatch_outbox_dropped_total|linkwatch_queue_dropped_total"}[5m])',
    );
    const { code, output } = await run(promtool, ['test', 'rules', ...testFiles(dir)]);
    expect(code).not.toBe(0);
    expect(output).toContain('not on queue drops at a hub restart');
    expect(output).toMatch(/alertname: LinkwatchMessagesDropped/);
  });

  it('test rules fails when rare failures on a quiet link can fire LinkwatchHandlerFailing', async () => {
    const dir = brokenCopy('alerts.yml', ') >= 3', ') >= 1');
    const { code, output } = await run(promtool, ['test', 'rules', ...testFiles(dir)]);
    expect(code).not.toBe(0);
    expect(output).toMatch(/alertname: LinkwatchHandlerFailing/);
    expect(output).toContain('linkwatch_worker_id="w4"');
  });

  it('test rules fails when a threshold drifts from what the tests pin', async () => {
    const dir = brokenCopy(
      'alerts.yml',
      'linkwatch:queue_utilisation:ratio > 0.8',
      'linkwatch:queue_utilisation:ratio > 0.95',
    );
    const { code, output } = await run(promtool, ['test', 'rules', ...testFiles(dir)]);
    expect(code).not.toBe(0);
    expect(output).toMatch(/alertname: LinkwatchQueueSaturated/);
  });
});
