import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { UID } from '../../../deploy/generate/names.js';
import { looseTokenFileMode } from '../../../src/cli/args.js';
import { tempDir } from '../../helpers/cli.js';
import { allContainers, containers, type Json, named, podSpec, ROOT, workloads } from './objects.js';

/**
 * Every pod runs as a fixed non-root uid under the "restricted" Pod Security
 * Standard, with requests, limits and application probes; tokens reach the
 * processes as files only their owner can read.
 */

const name = (w: Json) => `${w.kind}/${w.metadata.name}`;
const each = workloads.map((w) => [name(w), w] as const);

/** Kubernetes quantities to bytes or cores. */
function quantity(q: string): number {
  const m = /^([0-9.]+)(m|Ki|Mi|Gi)?$/.exec(q);
  if (!m) throw new Error(`quantity ${q}`);
  const unit = { m: 1e-3, Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30 }[m[2] ?? ''] ?? 1;
  return Number(m[1]) * unit;
}

describe.each(each)('%s', (_n, w) => {
  it('runs as the fixed non-root uid with fsGroup and the RuntimeDefault seccomp profile', () => {
    expect(podSpec(w).securityContext).toEqual({
      runAsNonRoot: true,
      runAsUser: UID,
      runAsGroup: UID,
      fsGroup: UID,
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(podSpec(w).automountServiceAccountToken).toBe(false);
    // Service links would put LINKWATCH_OTEL_GATEWAY_PORT and the like into every container's env.
    expect(podSpec(w).enableServiceLinks).toBe(false);
    expect(podSpec(w).hostNetwork ?? false).toBe(false);
  });

  it('every container: read-only root, no privilege escalation, all capabilities dropped', () => {
    for (const c of allContainers(w)) {
      expect(c.securityContext, c.name).toEqual({
        allowPrivilegeEscalation: false,
        readOnlyRootFilesystem: true,
        runAsNonRoot: true,
        capabilities: { drop: ['ALL'] },
      });
    }
  });

  it('every container has CPU and memory requests and limits, requests within limits', () => {
    for (const c of allContainers(w)) {
      for (const r of ['cpu', 'memory']) {
        const req = c.resources?.requests?.[r];
        const lim = c.resources?.limits?.[r];
        expect(req, `${c.name} ${r} request`).toBeDefined();
        expect(lim, `${c.name} ${r} limit`).toBeDefined();
        expect(quantity(String(req))).toBeLessThanOrEqual(quantity(String(lim)));
      }
    }
  });

  it('probes the application over HTTP, never just the port', () => {
    for (const c of containers(w)) {
      for (const probe of [c.readinessProbe, c.livenessProbe]) {
        expect(probe?.httpGet, c.name).toBeDefined();
        expect(probe?.tcpSocket, c.name).toBeUndefined();
      }
    }
  });
});

describe('linkwatch probes', () => {
  it.each([
    ['Deployment', 'linkwatch-hub'],
    ['DaemonSet', 'linkwatch-worker'],
  ])(
    '%s %s: readiness on /readyz, liveness on /healthz, liveness slower to act than readiness',
    (kind, n) => {
      const [c] = containers(named(kind, n));
      expect(c!.readinessProbe!.httpGet!.path).toBe('/readyz');
      expect(c!.livenessProbe!.httpGet!.path).toBe('/healthz');
      const window = (p: Json) => (p.periodSeconds ?? 10) * (p.failureThreshold ?? 3);
      // A restart at 10,000 workers is a reconnect storm: liveness waits a minute of silence.
      expect(window(c!.livenessProbe)).toBeGreaterThanOrEqual(60);
      expect(window(c!.readinessProbe)).toBeLessThan(window(c!.livenessProbe));
    },
  );

  it.each([
    ['hub.yaml', 'hub'],
    ['worker.yaml', 'worker'],
  ])(
    '%s says above each probe what it catches and what it leaves to the watchdog and the rules',
    (file, c) => {
      const text = readFileSync(join(ROOT, 'deploy/base', file), 'utf8');
      for (const [probe, title] of [
        ['readinessProbe', 'Readiness, GET /readyz'],
        ['livenessProbe', 'Liveness, GET /healthz'],
      ] as const) {
        const comment = new RegExp(`# ${title}[^\\n]*\\n(?:\\s*#[^\\n]*\\n)*\\s*${probe}:`);
        expect(text, `${c}: ${probe}`).toMatch(comment);
        expect(text.match(comment)![0], `${c}: ${probe}`).toMatch(/watchdog|Linkwatch/);
      }
    },
  );
});

describe('the Collectors', () => {
  it.each([
    ['agent', 'DaemonSet', 'linkwatch-otel-agent'],
    ['gateway', 'Deployment', 'linkwatch-otel-gateway'],
  ])(
    '%s: the memory limit sits above memory_limiter, so the limiter refuses before the OOM killer acts',
    (role, kind, n) => {
      const config = parse(readFileSync(join(ROOT, 'collector-config', `${role}.yaml`), 'utf8'));
      const limitMib = config.processors.memory_limiter.limit_mib as number;
      const [c] = containers(named(kind, n));
      const limit = quantity(String(c!.resources!.limits!.memory)) / 2 ** 20;
      expect(limit).toBeGreaterThanOrEqual(limitMib * 1.2);
    },
  );
});

describe('tokens', () => {
  const withTokens = workloads.filter((w) => podSpec(w).volumes?.some((v) => v.secret));

  it('the hub and the workers, nobody else, get the Secret', () => {
    expect(withTokens.map((w) => w.metadata.name).sort()).toEqual(['linkwatch-hub', 'linkwatch-worker']);
  });

  it.each(withTokens.map((w) => [name(w), w] as const))(
    '%s: the Secret reaches only an init container, which leaves a 0400 copy on a memory volume',
    (_n, w) => {
      const secret = podSpec(w).volumes!.find((v) => v.secret)!;
      expect(secret.secret!.defaultMode).toBe(0o400);
      for (const item of secret.secret!.items ?? []) expect(item.mode).toBe(0o400);
      // The app containers never mount the Secret itself (fsGroup would make it 0440).
      for (const c of containers(w)) expect(c.volumeMounts!.map((m) => m.name)).not.toContain(secret.name);
      const [init] = podSpec(w).initContainers!;
      const script = init!.command!.join(' ');
      const copy = /cp "([^"]+)" "([^"]+)" && chmod 0400 "\2"$/.exec(script);
      expect(copy, script).not.toBeNull();
      const target = init!.volumeMounts!.find((m) => copy![2]!.startsWith(`${m.mountPath}/`))!;
      expect(podSpec(w).volumes!.find((v) => v.name === target.name)!.emptyDir?.medium).toBe('Memory');
      // The app reads the copy read-only, by the path its args name.
      const [c] = containers(w);
      const mount = c!.volumeMounts!.find((m) => m.name === target.name)!;
      expect(mount.readOnly).toBe(true);
      expect(c!.args).toContain(copy![2]);
      // The copy comes from the Secret's mount.
      const from = init!.volumeMounts!.find((m) => m.name === secret.name)!;
      expect(copy![1]!.startsWith(`${from.mountPath}/`)).toBe(true);
    },
  );
});

describe('the token copy, run as the init container runs it', () => {
  it.each(workloads.filter((w) => podSpec(w).initContainers?.length).map((w) => [name(w), w] as const))(
    '%s: leaves a 0400 copy the CLI reads without its "readable by others" warning',
    (_n, w) => {
      const [init] = podSpec(w).initContainers!;
      const root = tempDir('linkwatch-token-copy-');
      const secretMount = init!.volumeMounts!.find((m) => m.readOnly)!.mountPath;
      const key = /cp "[^"]*\/([^/"]+)"/.exec(init!.command!.join(' '))![1]!;
      // The Secret as the kubelet leaves it with fsGroup set: group-readable (kubernetes/kubernetes#57923).
      mkdirSync(join(root, secretMount), { recursive: true });
      for (const m of init!.volumeMounts!) mkdirSync(join(root, m.mountPath), { recursive: true });
      const source = join(root, secretMount, key);
      writeFileSync(source, 'a-token-for-the-copy-test\n', { mode: 0o440 });
      expect(looseTokenFileMode(source)).toBe('0440');
      const [shell, flag, script] = init!.command!;
      execFileSync(shell!, [flag!, script!.replaceAll('"/run/', `"${root}/run/`)]);
      const copy = join(root, /&& chmod 0400 "([^"]+)"/.exec(script!)![1]!);
      expect(statSync(copy).mode & 0o777).toBe(0o400);
      expect(readFileSync(copy, 'utf8')).toBe('a-token-for-the-copy-test\n');
      expect(looseTokenFileMode(copy)).toBeUndefined();
    },
  );
});
