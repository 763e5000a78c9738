import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { INSTRUMENTATION_NAME, INSTRUMENTATION_VERSION } from '../../../src/telemetry/instrumentation.js';
import { WATCHDOG_SCOPE } from '../../../src/watchdog/otel-sink.js';

const DIR = new URL('../../../src/watchdog/', import.meta.url);

/** Module specifiers each watchdog file imports, type-only imports included. */
function importsOf(file: string): string[] {
  const text = readFileSync(new URL(file, DIR), 'utf8');
  return [...text.matchAll(/^import\s[^;]*?from\s+'([^']+)'/gms)].map((m) => m[1]!);
}

describe('watchdog imports point one way', () => {
  const files = readdirSync(DIR).filter((f) => f.endsWith('.ts'));

  it('no watchdog file imports the hub, the worker or the link instrumentation', () => {
    expect(files.length).toBeGreaterThan(5);
    for (const file of files) {
      for (const spec of importsOf(file)) {
        expect(spec, `${file} imports ${spec}`).not.toMatch(/\/(hub|worker)\//);
        expect(spec, `${file} imports ${spec}`).not.toMatch(/telemetry\/instrumentation/);
      }
    }
  });

  it('the watchdog meter and tracer use the same instrumentation scope as the link telemetry', () => {
    expect(WATCHDOG_SCOPE).toEqual({ name: INSTRUMENTATION_NAME, version: INSTRUMENTATION_VERSION });
  });
});
