import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ERROR_CODES } from '../../../src/errors.js';
import { CLOSE_CODE_MEANINGS, CloseCode } from '../../../src/protocol/close-codes.js';
import { metricsTable, spansTable } from '../../../src/telemetry/signal-table.js';
import { ALERT_SPECS } from '../../../src/watchdog/alerts.js';

/**
 * The README's tables come from the code. This test fails when they differ;
 * `npm run docs` (UPDATE_DOCS=1) rewrites them in place.
 */
const ROOT = join(import.meta.dirname, '../../..');
const README = join(ROOT, 'README.md');

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

const SECTIONS: Record<string, () => string> = {
  alerts: alertsTable,
  errors: errorsTable,
  'close-codes': closeCodesTable,
  metrics: metricsTable,
  spans: spansTable,
};

/** Markdown tables compared cell by cell: Biome pads the columns when it formats the README. */
function normalize(table: string): string {
  return table
    .split('\n')
    .map((line) => {
      if (!line.startsWith('|')) return line.trim();
      const cells = line
        .split(/(?<!\\)\|/)
        .slice(1, -1)
        .map((c) => c.trim());
      return `|${cells.map((c) => (/^:?-+:?$/.test(c) ? '---' : c)).join('|')}|`;
    })
    .join('\n')
    .trim();
}

function section(text: string, name: string): string {
  const m = new RegExp(`<!-- ${name}:start -->\\n([\\s\\S]*?)<!-- ${name}:end -->`).exec(text);
  if (!m) throw new Error(`README.md has no <!-- ${name}:start --> ... <!-- ${name}:end --> section`);
  return m[1]!.trim();
}

if (process.env.UPDATE_DOCS) {
  let text = readFileSync(README, 'utf8');
  for (const [name, make] of Object.entries(SECTIONS)) {
    text = text.replace(
      new RegExp(`<!-- ${name}:start -->\\n[\\s\\S]*?<!-- ${name}:end -->`),
      `<!-- ${name}:start -->\n${make()}\n<!-- ${name}:end -->`,
    );
  }
  writeFileSync(README, text);
}

describe('the README', () => {
  const text = readFileSync(README, 'utf8');

  it('leads with the two commands a fresh machine needs', () => {
    const head = text.split('\n').slice(0, 8).join('\n');
    expect(head).toContain('npm install && npm start');
    expect(head).toContain('npm install && npm test');
  });

  it("CI runs exactly the README's test command", () => {
    const ci = readFileSync(join(ROOT, '.ci/run'), 'utf8');
    expect(ci.trim().split('\n').at(-1)).toBe('npm test');
  });

  for (const [name, make] of Object.entries(SECTIONS)) {
    it(`has the ${name} table the code generates (npm run docs to update)`, () => {
      expect(normalize(section(text, name))).toBe(normalize(make()));
    });
  }

  it('documents every error code and close code', () => {
    for (const code of Object.keys(ERROR_CODES)) expect(section(text, 'errors')).toContain(`\`${code}\``);
    for (const code of Object.values(CloseCode))
      expect(section(text, 'close-codes')).toContain(`| ${code} |`);
  });
});
