import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { DASHBOARD_FILES, RULE_FILES } from '../../../deploy/generate/sources.js';
import { containers, type Json, named, ofKind, ROOT } from './objects.js';

/**
 * What deploy/ carries from prometheus/, grafana/ and collector-config/ is
 * those files, unchanged: parsed and compared, and byte for byte where the
 * object holds text. The comparisons read the committed sources, not the
 * generator's copy of them.
 */

const read = (...p: string[]) => readFileSync(join(ROOT, ...p), 'utf8');

describe('PrometheusRule', () => {
  const rule = named('PrometheusRule', 'linkwatch');

  it('holds every group of the rule files, in order and unchanged', () => {
    const expected = RULE_FILES.flatMap((f) => (parse(read('prometheus', f)) as { groups: Json[] }).groups);
    expect(rule.spec.groups).toEqual(expected);
  });

  it('lists every rule file prometheus/ ships', () => {
    // Everything there but the example Prometheus and Alertmanager configs is a rule file.
    const shipped = readdirSync(join(ROOT, 'prometheus')).filter(
      (f) => f.endsWith('.yml') && f !== 'prometheus.yml' && f !== 'alertmanager.yml',
    );
    expect([...RULE_FILES].sort()).toEqual(shipped.sort());
  });

  it('keeps the always-firing LinkwatchWatchdog, which proves the alerting path end to end', () => {
    const watchdog = rule.spec.groups
      .flatMap((g: Json) => g.rules)
      .find((r: Json) => r.alert === 'LinkwatchWatchdog');
    expect(watchdog?.expr.trim()).toBe('vector(1)');
  });

  it('has every alert once, the Collector alerts included', () => {
    const alerts = rule.spec.groups
      .flatMap((g: Json) => g.rules)
      .flatMap((r: Json) => (r.alert ? [r.alert] : []));
    expect(new Set(alerts).size).toBe(alerts.length);
    expect(alerts).toEqual(
      expect.arrayContaining([
        'LinkwatchCollectorExportFailing',
        'LinkwatchCollectorQueueFull',
        'LinkwatchCollectorRefusingData',
      ]),
    );
  });
});

describe('dashboard ConfigMaps', () => {
  const maps = ofKind('ConfigMap').filter((c) => c.metadata.labels?.grafana_dashboard === '1');

  it('one per dashboard in grafana/dashboards, with the Grafana sidecar label', () => {
    expect(maps.flatMap((m) => Object.keys(m.data)).sort()).toEqual([...DASHBOARD_FILES].sort());
  });

  it.each(DASHBOARD_FILES)('%s is the committed JSON, byte for byte', (file) => {
    const map = maps.find((m) => file in m.data);
    const text = read('grafana', 'dashboards', file);
    expect(map.data[file]).toBe(text);
    expect(JSON.parse(map.data[file])).toEqual(JSON.parse(text));
    // A ConfigMap holds at most 1 MiB, and `kubectl apply` copies it into an annotation of 256 KiB.
    expect(Buffer.byteLength(map.data[file])).toBeLessThan(200 * 1024);
  });
});

describe('Collector ConfigMaps', () => {
  it.each([
    ['agent', 'DaemonSet', 'linkwatch-otel-agent'],
    ['gateway', 'Deployment', 'linkwatch-otel-gateway'],
  ])(
    'the %s runs collector-config/%s.yaml, byte for byte, from the path its --config names',
    (role, kind, name) => {
      const workload = named(kind, name);
      const volume = workload.spec.template.spec.volumes.find((v: Json) => v.configMap);
      const map = named('ConfigMap', volume.configMap.name);
      const file = `${role}.yaml`;
      const text = read('collector-config', file);
      expect(map.data).toEqual({ [file]: text });
      expect(parse(map.data[file])).toEqual(parse(text));
      const [c] = containers(workload);
      const mount = c!.volumeMounts!.find((m) => m.name === volume.name)!;
      expect(c!.args).toEqual([`--config=${mount.mountPath}/${file}`]);
    },
  );

  it('the environment sets every variable the configs need and none they do not read', () => {
    for (const [role, kind, name] of [
      ['agent', 'DaemonSet', 'linkwatch-otel-agent'],
      ['gateway', 'Deployment', 'linkwatch-otel-gateway'],
    ] as const) {
      const text = read('collector-config', `${role}.yaml`);
      const used = new Set([...text.matchAll(/\$\{env:([A-Z_]+)/g)].map((m) => m[1]!));
      const required = new Set([...text.matchAll(/\$\{env:([A-Z_]+)\}/g)].map((m) => m[1]!));
      const set = containers(named(kind, name))[0]!.env!.map((e) => e.name);
      for (const v of set) expect(used, `${role}: ${v}`).toContain(v);
      for (const v of required) expect(set, `${role} needs ${v}`).toContain(v);
      // The pod's probes and Prometheus reach these only off loopback.
      expect(set).toEqual(
        expect.arrayContaining(['LINKWATCH_OTLP_LISTEN_HOST', 'LINKWATCH_ADMIN_LISTEN_HOST']),
      );
    }
  });

  it('the ports the pods declare are the ones the configs listen on', () => {
    for (const role of ['agent', 'gateway']) {
      const text = read('collector-config', `${role}.yaml`);
      const config = parse(text);
      const workload =
        role === 'agent'
          ? named('DaemonSet', 'linkwatch-otel-agent')
          : named('Deployment', 'linkwatch-otel-gateway');
      const ports = Object.fromEntries(containers(workload)[0]!.ports!.map((p) => [p.name, p.containerPort]));
      const port = (endpoint: string) => Number(endpoint.split(':').at(-1));
      expect(port(config.receivers.otlp.protocols.grpc.endpoint)).toBe(ports['otlp-grpc']);
      expect(port(config.receivers.otlp.protocols.http.endpoint)).toBe(ports['otlp-http']);
      expect(port(config.extensions.health_check.endpoint)).toBe(ports.health);
      expect(config.service.telemetry.metrics.readers[0].pull.exporter.prometheus.port).toBe(ports.telemetry);
    }
  });
});
