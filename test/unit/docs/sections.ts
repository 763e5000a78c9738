import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { ERROR_CODES } from '../../../src/errors.js';
import { CLOSE_CODE_MEANINGS, CloseCode } from '../../../src/protocol/close-codes.js';
import { metricsTable, signalsSummary, spansTable } from '../../../src/telemetry/signal-table.js';
import { ALERT_SPECS } from '../../../src/watchdog/alerts.js';
import { OptionTypes, optionsTable } from './options.js';

/**
 * The generated parts of the README and docs/, each between
 * `<!-- name:start -->` and `<!-- name:end -->`. Tables are written without
 * column padding: padding cost the README 16 KB and said nothing.
 */
export const ROOT = join(import.meta.dirname, '../../..');

interface Rule {
  alert?: string;
  labels?: { severity?: string };
  annotations?: { summary?: string };
}

function alertsTable(): string {
  const file = parse(readFileSync(join(ROOT, 'prometheus/alerts.yml'), 'utf8')) as {
    groups: { rules: Rule[] }[];
  };
  const inProcess = new Set(Object.values(ALERT_SPECS).map((s) => s.name));
  const rows = file.groups
    .flatMap((g) => g.rules)
    .filter((r) => r.alert)
    .map(
      (r) =>
        `| [\`${r.alert}\`](docs/runbooks.md#${r.alert!.toLowerCase()}) | ${r.labels?.severity} | ${
          inProcess.has(r.alert!) ? 'watchdog + Prometheus' : 'Prometheus'
        } | ${r.annotations?.summary} |`,
    );
  return ['| alert | severity | raised by | summary |', '|---|---|---|---|', ...rows].join('\n');
}

function errorsTable(): string {
  return [
    '| code | meaning |',
    '|---|---|',
    ...Object.entries(ERROR_CODES).map(([code, meaning]) => `| \`${code}\` | ${meaning} |`),
  ].join('\n');
}

function closeCodesTable(): string {
  return [
    '| code | name | meaning |',
    '|---|---|---|',
    ...Object.entries(CloseCode).map(
      ([name, code]) => `| ${code} | \`${name}\` | ${CLOSE_CODE_MEANINGS[name as keyof typeof CloseCode]} |`,
    ),
  ].join('\n');
}

let cached: OptionTypes | undefined;
const types = () => {
  cached ??= OptionTypes.fromDir(ROOT);
  return cached;
};

/** Hub and Worker each document only their own options; what both extend has one table. */
const sideOptions = (name: string) => () => optionsTable(types(), name, { inherited: false });

function sharedOptions(): string {
  const shared = types()
    .heads('HubOptions')
    .filter((h) => types().heads('WorkerOptions').includes(h));
  if (shared.length === 0) throw new Error('HubOptions and WorkerOptions extend no common options type');
  return shared.map((name) => optionsTable(types(), name)).join('\n\n');
}

export const SECTIONS: Record<string, () => string> = {
  'options-hub': sideOptions('HubOptions'),
  'options-worker': sideOptions('WorkerOptions'),
  'options-link': sharedOptions,
  'options-watchdog': () => optionsTable(types(), 'AttachOptions'),
  alerts: alertsTable,
  errors: errorsTable,
  'close-codes': closeCodesTable,
  'signals-summary': signalsSummary,
  // signal-table.ts owns these two: whatever columns it produces land here unchanged.
  metrics: metricsTable,
  spans: spansTable,
};

/** Which generated sections each document must hold. */
export const DOCUMENTS: Record<string, string[]> = {
  'README.md': ['alerts', 'signals-summary'],
  'docs/options.md': ['options-hub', 'options-worker', 'options-link', 'options-watchdog'],
  'docs/errors.md': ['errors', 'close-codes'],
  'docs/signals.md': ['metrics', 'spans'],
};

const pattern = (name: string) => new RegExp(`<!-- ${name}:start -->\\n([\\s\\S]*?)<!-- ${name}:end -->`);

/** The text of a generated section, or undefined when the document has none. */
export function section(text: string, name: string): string | undefined {
  return pattern(name).exec(text)?.[1]?.trim();
}

/** `text` with every generated section it holds rewritten from the code. */
export function regenerate(text: string): string {
  let out = text;
  for (const [name, make] of Object.entries(SECTIONS)) {
    if (!pattern(name).test(out)) continue;
    // A function replacement, so `$` in a table is taken literally.
    out = out.replace(pattern(name), () => `<!-- ${name}:start -->\n${make()}\n<!-- ${name}:end -->`);
  }
  return out;
}
