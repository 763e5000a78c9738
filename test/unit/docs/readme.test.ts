import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../../../src/errors.js';
import { CloseCode } from '../../../src/protocol/close-codes.js';
import { DOCUMENTS, ROOT, regenerate, SECTIONS, section } from './sections.js';

/**
 * The README and docs/ hold tables generated from the code. This test fails
 * when a table and the code differ; `npm run docs` (UPDATE_DOCS=1) rewrites
 * them in place.
 */
const read = (doc: string) => readFileSync(join(ROOT, doc), 'utf8');

if (process.env.UPDATE_DOCS) {
  for (const doc of Object.keys(DOCUMENTS)) writeFileSync(join(ROOT, doc), regenerate(read(doc)));
}

/** The README stays small enough to read: reference material lives in docs/. */
const README_MAX_BYTES = 30_000;

describe('generated documentation', () => {
  for (const [doc, names] of Object.entries(DOCUMENTS)) {
    for (const name of names) {
      it(`${doc} has the ${name} table the code generates (npm run docs to update)`, () => {
        const text = read(doc);
        const found = section(text, name);
        expect(found, `${doc} has no <!-- ${name}:start --> ... <!-- ${name}:end --> section`).toBeDefined();
        expect(found).toBe(SECTIONS[name]!().trim());
      });
    }
  }

  it('writes tables without column padding', () => {
    for (const doc of Object.keys(DOCUMENTS)) {
      const padded = read(doc)
        .split('\n')
        .filter((l) => l.startsWith('|') && /\s{2,}\||\|\s*-{4,}/.test(l));
      expect(padded, doc).toEqual([]);
    }
  });

  it('documents every error code and close code', () => {
    const errors = section(read('docs/errors.md'), 'errors') ?? '';
    const closes = section(read('docs/errors.md'), 'close-codes') ?? '';
    for (const code of Object.keys(ERROR_CODES)) expect(errors).toContain(`\`${code}\``);
    for (const code of Object.values(CloseCode)) expect(closes).toContain(`| ${code} |`);
  });
});

describe('the README', () => {
  const text = read('README.md');

  it(`stays under ${README_MAX_BYTES / 1000} KB`, () => {
    expect(Buffer.byteLength(text)).toBeLessThan(README_MAX_BYTES);
  });

  it('leads with the two commands a fresh machine needs', () => {
    const head = text.split('\n').slice(0, 8).join('\n');
    expect(head).toContain('npm install && npm start');
    expect(head).toContain('npm install && npm test');
  });

  it('keeps its order: usage, options, alerts, dashboards, error codes, signals', () => {
    const order = ['## Usage', '## Options', '## Alerts', '## Dashboards', '## Error codes', '## Signals'];
    const at = order.map((h) => text.indexOf(`\n${h}`));
    for (const [i, h] of order.entries()) expect(at[i], h).toBeGreaterThan(0);
    expect(at).toEqual([...at].sort((a, b) => a - b));
  });

  it("CI runs exactly the README's test command", () => {
    const ci = read('.ci/run');
    expect(ci.trim().split('\n').at(-1)).toBe('npm test');
  });

  it('links only to files that exist', () => {
    for (const doc of ['README.md', ...Object.keys(DOCUMENTS), 'docs/reference.md', 'docs/benchmarks.md']) {
      const links = [...read(doc).matchAll(/\]\(([^)#\s]+)(?:#[^)]*)?\)/g)].map((m) => m[1]!);
      for (const link of links.filter((l) => !/^[a-z]+:/.test(l))) {
        expect(existsSync(join(ROOT, dirname(doc), link)), `${doc} links to ${link}`).toBe(true);
      }
    }
  });
});
