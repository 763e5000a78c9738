import { describe, expect, it } from 'vitest';
import { OptionTypes, optionsTable } from './options.js';
import { ROOT } from './sections.js';

const fixture = new OptionTypes([
  {
    file: 'src/link/options.ts',
    text: [
      '/** Shared by both sides. */',
      'export interface LinkOptions {',
      '  /** Beats per interval, ms. @default 5000 */',
      '  heartbeatIntervalMs?: number;',
      '  /** @internal Tests only. */',
      '  clock?: () => number;',
      '}',
      '',
      'export interface BackoffOptions {',
      '  /** First delay, ms. @default 250 */',
      '  initialDelayMs?: number;',
      '}',
    ].join('\n'),
  },
  {
    file: 'src/hub/options.ts',
    text: [
      "import type { LinkOptions } from '../link/options.js';",
      'export interface HubOptions extends LinkOptions {',
      '  /** Accepted tokens; a `|` in a cell is escaped. */',
      '  tokens: string[];',
      '  /**',
      '   * Extra routes, keyed `METHOD /path`.',
      '   */',
      '  routes?: Record<string, (req: { url: string }, res: unknown) => void>;',
      "  /** Where to listen. @default '127.0.0.1' */",
      '  host?: string;',
      '  backoff?: BackoffOptions;',
      '  tls?: { /** not a member of HubOptions */ cert: string };',
      '}',
      "export type AttachOptions = Omit<HubOptions, 'tokens' | 'backoff'> & Pick<LinkOptions, 'heartbeatIntervalMs'> & {",
      '  logger?: unknown;',
      '};',
    ].join('\n'),
  },
]);

describe('options tables', () => {
  it('list own members, then inherited ones, with their TSDoc and @default, and skip @internal ones', () => {
    expect(optionsTable(fixture, 'HubOptions').split('\n')).toEqual([
      '| option | default | meaning |',
      '|---|---|---|',
      '| `tokens` | required | Accepted tokens; a `\\|` in a cell is escaped. |',
      '| `routes` | - | Extra routes, keyed `METHOD /path`. |',
      '| `host` | `127.0.0.1` | Where to listen. |',
      '| `backoff` | - | `BackoffOptions` |',
      '| `backoff.initialDelayMs` | 250 | First delay, ms. |',
      '| `tls` | - | `{ /** not a member of HubOptions */ cert: string }` |',
      '| `heartbeatIntervalMs` | 5000 | Beats per interval, ms. |',
    ]);
  });

  it('leave inherited members out on request, and name what an interface extends', () => {
    expect(optionsTable(fixture, 'HubOptions', { inherited: false })).not.toContain('heartbeatIntervalMs');
    expect(fixture.heads('HubOptions')).toEqual(['LinkOptions']);
  });

  it('read type aliases built from Omit, Pick and object literals', () => {
    const names = optionsTable(fixture, 'AttachOptions')
      .split('\n')
      .slice(2)
      .map((r) => r.split(' | ')[0]);
    // heartbeatIntervalMs comes with the Omit (HubOptions inherits it); the Pick adds nothing new.
    expect(names).toEqual(['| `routes`', '| `host`', '| `tls`', '| `heartbeatIntervalMs`', '| `logger`']);
  });

  it('fail loudly when a type is missing or declared twice', () => {
    expect(() => optionsTable(fixture, 'WorkerOptions')).toThrow(/no interface or type named WorkerOptions/);
    const twice = new OptionTypes([
      { file: 'a.ts', text: 'export interface X {\n  a?: 1;\n}' },
      { file: 'b.ts', text: 'interface X {\n  b?: 2;\n}' },
    ]);
    expect(() => optionsTable(twice, 'X')).toThrow(/X is declared in a.ts and b.ts/);
  });

  it("the hub's table lists every HubOptions member, routes included", () => {
    const types = OptionTypes.fromDir(ROOT);
    const table = optionsTable(types, 'HubOptions');
    for (const name of types.members('HubOptions')!.map((o) => o.name))
      expect(table).toContain(`| \`${name}\` |`);
    expect(table).toContain('| `routes` |');
  });
});
