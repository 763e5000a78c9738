import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { requireBinaries } from '../../helpers/binaries.js';
import { PROMETHEUS_DIR } from '../../helpers/rules-override.js';

interface Route {
  receiver?: string;
  matchers?: string[];
  group_by?: string[];
  routes?: Route[];
}
interface InhibitRule {
  source_matchers: string[];
  target_matchers: string[];
  equal: string[];
}
interface AlertmanagerConfig {
  route: Route;
  inhibit_rules: InhibitRule[];
  receivers: { name: string; webhook_configs?: { url: string }[] }[];
}

const CONFIG = join(PROMETHEUS_DIR, 'alertmanager.yml');
const config = parse(readFileSync(CONFIG, 'utf8')) as AlertmanagerConfig;
const alertNames = (
  parse(readFileSync(join(PROMETHEUS_DIR, 'alerts.yml'), 'utf8')) as {
    groups: { rules: { alert: string }[] }[];
  }
).groups.flatMap((g) => g.rules.map((r) => r.alert));

/** Alert names an `alertname="X"` or `alertname=~"A|B"` matcher list selects. */
function selected(matchers: string[]): string[] {
  const m = matchers.map((s) => /^alertname(=~?)"(.*)"$/.exec(s)).find(Boolean);
  if (!m) return [];
  const re = new RegExp(`^(?:${m[1] === '=~' ? m[2] : m[2]!.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')})$`);
  return alertNames.filter((n) => re.test(n));
}

describe('alertmanager.yml', () => {
  it('groups by alert name and worker id', () => {
    expect(config.route.group_by).toEqual(['alertname', 'linkwatch_worker_id']);
  });

  it('routes every severity and the pipeline watchdog to its own receiver', () => {
    const routes = config.route.routes ?? [];
    const receiverFor = (matcher: string) => routes.find((r) => r.matchers?.includes(matcher))?.receiver;
    expect(receiverFor('alertname="LinkwatchWatchdog"')).toBe('deadmans-switch');
    expect(receiverFor('severity="critical"')).toBe('pager');
    expect(receiverFor('severity="warning"')).toBe('tickets');
    expect(receiverFor('severity="info"')).toBeDefined();
    // The watchdog route comes first: it is info, and info is otherwise dropped.
    expect(routes[0]?.matchers).toEqual(['alertname="LinkwatchWatchdog"']);
  });

  it('keeps its webhook placeholders on loopback', () => {
    for (const r of config.receivers)
      for (const w of r.webhook_configs ?? []) expect(w.url).toMatch(/^http:\/\/127\.0\.0\.1:/);
  });

  it('lets a down link or an absent process inhibit the finer alerts of the same worker or hub', () => {
    const bySource = new Map(config.inhibit_rules.map((r) => [selected(r.source_matchers)[0], r]));
    const finer = [
      'LinkwatchProgressStalled',
      'LinkwatchHeartbeatMissed',
      'LinkwatchTransportStalled',
      'LinkwatchHandlerHung',
    ];
    const linkDown = bySource.get('LinkwatchLinkDown')!;
    expect(linkDown.equal).toEqual(['linkwatch_worker_id']);
    expect(selected(linkDown.target_matchers)).toEqual(expect.arrayContaining(finer));
    expect(selected(linkDown.target_matchers)).not.toContain('LinkwatchLinkDown');
    const workerAbsent = bySource.get('LinkwatchWorkerAbsent')!;
    expect(workerAbsent.equal).toEqual(['linkwatch_worker_id']);
    expect(selected(workerAbsent.target_matchers)).toEqual(
      expect.arrayContaining(['LinkwatchLinkDown', ...finer]),
    );
    const hubAbsent = bySource.get('LinkwatchHubAbsent')!;
    expect(hubAbsent.equal).toEqual(['linkwatch_hub_id']);
    expect(selected(hubAbsent.target_matchers)).toContain('LinkwatchLinkDown');
  });

  it('names only alerts that exist in its inhibit rules', () => {
    for (const rule of config.inhibit_rules) {
      for (const m of [...rule.source_matchers, ...rule.target_matchers]) {
        const names = /^alertname=~?"(.*)"$/.exec(m)?.[1]?.split('|') ?? [];
        for (const n of names) expect(alertNames, m).toContain(n);
      }
    }
  });
});

const bins = requireBinaries('amtool');

describe.skipIf(bins.skip)('amtool', () => {
  it('check-config accepts alertmanager.yml', async () => {
    const { code, output } = await new Promise<{ code: number; output: string }>((resolve) => {
      execFile(bins.paths.amtool!, ['check-config', CONFIG], { timeout: 20_000 }, (err, stdout, stderr) => {
        resolve({
          code: err ? (typeof err.code === 'number' ? err.code : -1) : 0,
          output: `${stdout}${stderr}`,
        });
      });
    });
    expect(output).toContain('SUCCESS');
    expect(output).toContain('3 inhibit rules');
    expect(code, output).toBe(0);
  });
});
