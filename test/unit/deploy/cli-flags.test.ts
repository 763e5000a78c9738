import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { IContainer } from 'kubernetes-models/v1/Container';
import { describe, expect, it } from 'vitest';
import { PORT } from '../../../deploy/generate/names.js';
import { parseHostPort } from '../../../src/cli/args.js';
import { hubCommand } from '../../../src/cli/hub-command.js';
import type { Runtime, TelemetryStartOptions } from '../../../src/cli/runtime.js';
import { workerCommand } from '../../../src/cli/worker-command.js';
import { tempDir } from '../../helpers/cli.js';
import { containerPort, containers, flag, type Json, named } from './objects.js';

/**
 * The containers' args run through the CLI's own parser (src/cli/hub-command.ts
 * and worker-command.ts, strict parseArgs, then every value's check) up to
 * the point where the command would start its telemetry: an unknown flag, a
 * bad duration or a bad HOST:PORT fails here as it would in the pod. Then
 * the ports the args choose must be the ports the pod declares, probes and
 * monitors use.
 */

const STOP = new Error('stop before starting');
const TOKEN = 'deploy-test-token-0123456789';

/** The args as the kubelet passes them: $(VAR) expanded from the container's env, files made real. */
function argsOf(c: IContainer, dir: string): string[] {
  const env: Record<string, string> = { NODE_NAME: 'node-a' };
  for (const e of c.env ?? []) if (e.value !== undefined) env[e.name] = e.value;
  const files: Record<string, string> = {
    tokens: `${TOKEN} \n`,
    'token-file': `${TOKEN}\n`,
  };
  const args = (c.args ?? []).map((a) =>
    a.replace(/\$\(([A-Z_]+)\)/g, (_, v: string) => env[v] ?? `$(${v})`),
  );
  return args.map((a, i) => {
    const name = args[i - 1]?.replace(/^--/, '');
    if (name && name in files) {
      const path = join(dir, name);
      writeFileSync(path, files[name]!, { mode: 0o400 });
      return path;
    }
    if (name === 'journal') return join(dir, 'journal.jsonl');
    return a;
  });
}

/** Runs a command's parsing to the telemetry start, returning what it asked telemetry for. */
async function parse(
  command: typeof hubCommand,
  args: string[],
): Promise<{ error: unknown; telemetry?: TelemetryStartOptions }> {
  let telemetry: TelemetryStartOptions | undefined;
  const quiet = () => {};
  const rt: Runtime = {
    logger: { debug: quiet, info: quiet, warn: quiet, error: quiet },
    print: quiet,
    terminal: { isTTY: false, write: quiet },
    untilSignal: () => new Promise(() => {}),
    startTelemetry: async (options) => {
      telemetry = options;
      throw STOP;
    },
  };
  try {
    await command(args, rt);
    return { error: undefined, telemetry };
  } catch (error) {
    return { error, telemetry };
  }
}

const hub = containers(named('Deployment', 'linkwatch-hub'))[0]!;
const worker = containers(named('DaemonSet', 'linkwatch-worker'))[0]!;
const commands = [
  ['hub', hub, hubCommand, named('Deployment', 'linkwatch-hub')],
  ['worker', worker, workerCommand, named('DaemonSet', 'linkwatch-worker')],
] as const;

describe.each(commands)('the %s container', (sub, container, command, workload: Json) => {
  it(`runs "linkwatch ${sub}" with flags the CLI accepts and values it parses`, async () => {
    const args = argsOf(container, tempDir());
    expect(args[0]).toBe(sub);
    const { error, telemetry } = await parse(command, args.slice(1));
    expect(error).toBe(STOP);
    expect(telemetry?.role).toBe(sub);
  });

  it('fails this check with a flag the CLI does not know (so the check above can fail)', async () => {
    const args = argsOf(container, tempDir());
    const { error } = await parse(command, [...args.slice(1), '--no-such-flag', 'x']);
    expect((error as NodeJS.ErrnoException).code).toBe('ERR_PARSE_ARGS_UNKNOWN_OPTION');
  });

  it('serves /metrics on the port named "metrics", on an address Prometheus can reach', async () => {
    const { telemetry } = await parse(command, argsOf(container, tempDir()).slice(1));
    expect(telemetry?.metricsListen).toEqual({ host: '0.0.0.0', port: containerPort(workload, 'metrics') });
  });
});

describe('ports in the args are the ports the pods declare and the probes use', () => {
  it('the hub listens on the port named "ws", which its probes and Service use', () => {
    const listen = parseHostPort('listen', flag(hub, 'listen')!);
    expect(listen).toEqual({ host: '0.0.0.0', port: PORT.hubWs });
    expect(containerPort(named('Deployment', 'linkwatch-hub'), 'ws')).toBe(listen.port);
    for (const probe of [hub.readinessProbe, hub.livenessProbe]) expect(probe?.httpGet?.port).toBe('ws');
  });

  it('the worker serves its probes on --health-listen, the port named "health"', () => {
    const health = parseHostPort('health-listen', flag(worker, 'health-listen')!);
    expect(health.host).toBe('0.0.0.0');
    expect(containerPort(named('DaemonSet', 'linkwatch-worker'), 'health')).toBe(health.port);
    for (const probe of [worker.readinessProbe, worker.livenessProbe])
      expect(probe?.httpGet?.port).toBe('health');
  });

  it('the worker dials the hub Service on its "ws" port, by its name in the namespace', () => {
    const url = new URL(flag(worker, 'hub')!);
    const service = named('Service', url.hostname);
    const port = service.spec.ports.find((p: Json) => p.port === Number(url.port));
    expect(url.protocol).toBe('ws:');
    expect(port?.targetPort).toBe('ws');
  });

  it('the worker id is its node name, stable across restarts', () => {
    expect(flag(worker, 'id')).toBe('$(NODE_NAME)');
    expect(worker.env?.find((e) => e.name === 'NODE_NAME')?.valueFrom?.fieldRef?.fieldPath).toBe(
      'spec.nodeName',
    );
  });
});
