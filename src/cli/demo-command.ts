import type { Runtime } from './runtime.js';

export const DEMO_USAGE = `linkwatch demo [--duration DUR] [--workers N] [--metrics-listen HOST:PORT]`;

export async function demoCommand(_argv: string[], _rt: Runtime): Promise<number> {
  return 0;
}
