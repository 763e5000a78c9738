#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { applyHubV8Flags } from '../fleet-v8-flags.js';
import { jsonLogger } from '../log/logger.js';
import { UsageError } from './args.js';
import { DEMO_USAGE, demoCommand } from './demo-command.js';
import { HUB_USAGE, hubCommand } from './hub-command.js';
import { LOAD_USAGE, loadCommand } from './load-command.js';
import type { Runtime } from './runtime.js';
import { startTelemetry } from './telemetry.js';
import { WORKER_USAGE, workerCommand } from './worker-command.js';

const USAGE = `usage: linkwatch <command> [options]

commands:
  hub      run a hub
  worker   run a worker that streams synthetic traffic to a hub
  demo     a hub, workers, faults and the watchdog in one process (npm start)
  load     a fleet of workers over child processes: connect time, RTT percentiles, losses

${HUB_USAGE}

${WORKER_USAGE}

${DEMO_USAGE}

${LOAD_USAGE}`;

function processRuntime(): Runtime {
  const logger = jsonLogger({ level: (process.env.LINKWATCH_LOG_LEVEL as 'info') ?? 'info' });
  return {
    logger,
    print: (summary) => process.stdout.write(`${JSON.stringify(summary)}\n`),
    terminal: {
      isTTY: process.stdout.isTTY === true,
      write: (text) => process.stdout.write(text),
    },
    untilSignal: (cancel) =>
      new Promise((resolve) => {
        const off = () => {
          process.off('SIGINT', on);
          process.off('SIGTERM', on);
          cancel?.removeEventListener('abort', onCancel);
        };
        const on = (signal: NodeJS.Signals) => {
          off();
          resolve(signal);
        };
        const onCancel = () => {
          off();
          resolve('cancelled');
        };
        if (cancel?.aborted) return resolve('cancelled');
        process.on('SIGINT', on);
        process.on('SIGTERM', on);
        cancel?.addEventListener('abort', onCancel, { once: true });
      }),
    startTelemetry: (options) => startTelemetry(options, logger),
  };
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const rt = processRuntime();
  try {
    switch (command) {
      case 'hub':
        // Re-executes this process once, before anything starts (see fleet-v8-flags.ts).
        applyHubV8Flags();
        return await hubCommand(rest, rt);
      case 'worker':
        return await workerCommand(rest, rt);
      case 'demo':
        return await demoCommand(rest, rt);
      case 'load':
        return await loadCommand(rest, rt);
      case '--version':
      case 'version': {
        const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
          version: string;
        };
        process.stdout.write(`${pkg.version}\n`);
        return 0;
      }
      case undefined:
      case '-h':
      case '--help':
      case 'help':
        process.stdout.write(`${USAGE}\n`);
        return command === undefined ? 2 : 0;
      default:
        throw new UsageError(`unknown command ${JSON.stringify(command)}`);
    }
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (err instanceof UsageError || (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS'))) {
      process.stderr.write(`linkwatch: ${(err as Error).message}\nRun "linkwatch --help" for usage.\n`);
      return 2;
    }
    rt.logger.error('fatal', { 'error.type': code ?? (err as Error).name, message: (err as Error).message });
    // The JSON line is for log pipelines; this one is for the person who ran the command.
    process.stderr.write(`linkwatch: ${(err as Error).message}\n`);
    return 1;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`linkwatch: ${(err as Error).stack ?? err}\n`);
    process.exitCode = 1;
  },
);
