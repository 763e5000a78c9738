import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { findBinary } from '../../helpers/binaries.js';

const DIR = join(import.meta.dirname, '../../../collector-config');
const FILES = readdirSync(DIR)
  .filter((f) => f.endsWith('.yaml'))
  .sort();

interface TelemetryReader {
  pull?: { exporter?: { prometheus?: { host?: string; port?: number } } };
}
type Section = Record<string, Record<string, unknown> | null>;
interface Pipeline {
  receivers?: string[];
  processors?: string[];
  exporters?: string[];
}
interface CollectorConfig {
  receivers?: Section;
  processors?: Section;
  exporters?: Section;
  extensions?: Section;
  connectors?: Section;
  service: {
    extensions?: string[];
    pipelines: Record<string, Pipeline>;
    telemetry?: { metrics?: { level?: string; readers?: TelemetryReader[] } };
  };
}

/** Expands `${env:NAME:-default}` as the Collector does with an empty environment. */
function withDefaults(text: string): string {
  return text.replace(/\$\{env:([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g, (_, _name, def) => def ?? '');
}

function load(file: string): { raw: string; config: CollectorConfig; resolved: CollectorConfig } {
  const raw = readFileSync(join(DIR, file), 'utf8');
  return { raw, config: parse(raw), resolved: parse(withDefaults(raw)) };
}

/** Every `endpoint` value under a section, with its path for messages. */
function endpoints(node: unknown, path: string, out: [string, string][] = []): [string, string][] {
  if (node && typeof node === 'object') {
    for (const [k, v] of Object.entries(node)) {
      if (k === 'endpoint' && typeof v === 'string') out.push([`${path}.${k}`, v]);
      else endpoints(v, `${path}.${k}`, out);
    }
  }
  return out;
}

/** A Collector `${env:...}` reference (not a JS template), as the configs spell it. */
const ADMIN_HOST = ['$', '{env:LINKWATCH_ADMIN_LISTEN_HOST:-127.0.0.1}'].join('');

const componentType = (id: string) => id.split('/')[0]!;

describe('collector configs', () => {
  it('ships agent, gateway and single-node configs', () => {
    expect(FILES).toEqual(['agent.yaml', 'gateway.yaml', 'single-node.yaml']);
  });

  describe.each(FILES)('%s', (file) => {
    const { raw, config, resolved } = load(file);
    const pipelines = Object.entries(config.service.pipelines);

    it('has metrics and traces pipelines of known signal types', () => {
      expect(pipelines.length).toBeGreaterThan(0);
      for (const [id] of pipelines) expect(['metrics', 'traces', 'logs']).toContain(componentType(id));
      expect(pipelines.map(([id]) => componentType(id))).toEqual(
        expect.arrayContaining(['metrics', 'traces']),
      );
    });

    it('every pipeline references defined components', () => {
      for (const [id, p] of pipelines) {
        expect(p.receivers?.length, `${id} receivers`).toBeGreaterThan(0);
        expect(p.exporters?.length, `${id} exporters`).toBeGreaterThan(0);
        for (const kind of ['receivers', 'processors', 'exporters'] as const) {
          for (const name of p[kind] ?? []) {
            expect(Object.keys(config[kind] ?? {}), `${id}.${kind}: ${name}`).toContain(name);
          }
        }
      }
      for (const ext of config.service.extensions ?? []) {
        expect(Object.keys(config.extensions ?? {})).toContain(ext);
      }
    });

    it('every defined component is used', () => {
      for (const kind of ['receivers', 'processors', 'exporters'] as const) {
        const used = new Set(pipelines.flatMap(([, p]) => p[kind] ?? []));
        for (const name of Object.keys(config[kind] ?? {})) expect(used, `${kind}.${name}`).toContain(name);
      }
      const usedExt = new Set(config.service.extensions ?? []);
      for (const name of Object.keys(config.extensions ?? {}))
        expect(usedExt, `extension ${name}`).toContain(name);
      expect(config.connectors, 'no connectors expected').toBeUndefined();
    });

    it('memory_limiter is first and batch is last in every pipeline', () => {
      for (const [id, p] of pipelines) {
        const procs = (p.processors ?? []).map(componentType);
        expect(procs[0], id).toBe('memory_limiter');
        expect(procs.at(-1), id).toBe('batch');
        expect(
          procs.filter((t) => t === 'memory_limiter' || t === 'batch'),
          id,
        ).toHaveLength(2);
      }
      const limiter = config.processors?.memory_limiter as Record<string, unknown>;
      expect(limiter.check_interval).toBeTruthy();
      expect(limiter.limit_mib ?? limiter.limit_percentage).toBeGreaterThan(0);
    });

    it('the otlp receiver listens on gRPC and HTTP', () => {
      const otlp = config.receivers?.otlp as { protocols: Record<string, { endpoint: string }> };
      expect(Object.keys(otlp.protocols).sort()).toEqual(['grpc', 'http']);
      expect(otlp.protocols.grpc!.endpoint).toMatch(/:4317$/);
      expect(otlp.protocols.http!.endpoint).toMatch(/:4318$/);
    });

    it('binds every listener to 127.0.0.1 when no environment is set', () => {
      const listeners = [
        ...endpoints(resolved.receivers, 'receivers'),
        ...endpoints(resolved.extensions, 'extensions'),
        ...endpoints(
          Object.fromEntries(
            Object.entries(resolved.exporters ?? {}).filter(([id]) => componentType(id) === 'prometheus'),
          ),
          'exporters',
        ),
      ];
      for (const reader of resolved.service.telemetry?.metrics?.readers ?? []) {
        const prom = reader.pull?.exporter?.prometheus;
        listeners.push(['service.telemetry.metrics', `${prom?.host}:${prom?.port}`]);
      }
      expect(listeners.length).toBeGreaterThan(0);
      for (const [path, endpoint] of listeners) expect(endpoint, path).toMatch(/^127\.0\.0\.1:\d+$/);
    });

    // The gateway watches itself: prometheus/collector-alerts.yml reads these (otelcol_exporter_*,
    // otelcol_receiver_refused_*), and deploy/ scrapes them on :8888 with the probes on :13133.
    it("serves the Collector's own metrics for Prometheus on :8888, health on :13133, both on one host setting", () => {
      const readers = config.service.telemetry?.metrics?.readers ?? [];
      expect(readers).toEqual([
        {
          pull: {
            exporter: { prometheus: { host: ADMIN_HOST, port: 8888 } },
          },
        },
      ]);
      // Queue size and capacity, sends and refusals are all at `normal` (the default, spelled out).
      expect(config.service.telemetry?.metrics?.level).toBe('normal');
      const health = config.extensions?.health_check as { endpoint: string };
      expect(health.endpoint).toBe(`${ADMIN_HOST}:13133`);
    });

    it('takes remote endpoints from the environment, with TLS on by default', () => {
      for (const [id, exporter] of Object.entries(config.exporters ?? {})) {
        const type = componentType(id);
        if (type !== 'otlp_grpc' && type !== 'otlp' && type !== 'otlphttp' && type !== 'otlp_http') continue;
        const e = exporter as { endpoint: string; tls?: { insecure?: unknown } };
        expect(e.endpoint, id).toMatch(/^\$\{env:LINKWATCH_[A-Z_]+\}$/);
        const insecure = (resolved.exporters![id] as { tls?: { insecure?: unknown } }).tls?.insecure;
        expect(insecure ?? false, `${id} tls.insecure default`).toBe(false);
      }
    });

    it('leaves the debug exporter off', () => {
      for (const [id, p] of pipelines) {
        expect((p.exporters ?? []).map(componentType), id).not.toContain('debug');
      }
    });

    it('holds no secrets', () => {
      const secretKey = /(pass(word)?|secret|token|api[_-]?key|authorization|bearer|credential)/i;
      const check = (node: unknown, path: string) => {
        if (!node || typeof node !== 'object') return;
        for (const [k, v] of Object.entries(node)) {
          if (secretKey.test(k) && typeof v === 'string') {
            expect(v, `${path}.${k} must come from the environment`).toMatch(
              /^\$\{env:[A-Za-z_][A-Za-z0-9_]*\}$/,
            );
          }
          check(v, `${path}.${k}`);
        }
      };
      check(config, file);
      // Also in comments: credentials in URLs, bearer tokens, private keys, long random-looking strings.
      expect(raw).not.toMatch(/:\/\/[^/\s:@]+:[^/\s@]+@/);
      expect(raw).not.toMatch(/bearer\s+[A-Za-z0-9._~+/-]{8,}/i);
      expect(raw).not.toMatch(/-----BEGIN [A-Z ]*PRIVATE KEY-----/);
      const randomLooking = (raw.match(/[A-Za-z0-9+/=_-]{24,}/g) ?? []).filter(
        (t) => /\d/.test(t) && /[a-z]/.test(t) && /[A-Z]/.test(t),
      );
      expect(randomLooking).toEqual([]);
      expect(raw).not.toMatch(/\b[0-9a-f]{32,}\b/i);
    });

    it('uses only components shipped in otelcol-contrib', () => {
      // The kinds these configs use; extend when a config needs another contrib component.
      const known: Record<string, string[]> = {
        receivers: ['otlp'],
        processors: ['memory_limiter', 'batch', 'resource', 'tail_sampling'],
        exporters: ['otlp_grpc', 'prometheus', 'debug'],
        extensions: ['health_check'],
      };
      for (const [kind, allowed] of Object.entries(known)) {
        const section = config[kind as keyof CollectorConfig] as Section | undefined;
        for (const id of Object.keys(section ?? {}))
          expect(allowed, `${kind}.${id}`).toContain(componentType(id));
      }
    });
  });

  describe('prometheus exporter', () => {
    const withProm = FILES.filter((f) => 'prometheus' in (load(f).config.exporters ?? {}));

    it('is in gateway and single-node, not in the agent', () => {
      expect(withProm).toEqual(['gateway.yaml', 'single-node.yaml']);
    });

    it.each(withProm)('%s: keeps metric suffixes and keeps resource attributes out of labels', (file) => {
      const { config } = load(file);
      const prom = config.exporters?.prometheus as Record<string, unknown>;
      // The catalog's naming rule (src/telemetry/prometheus-names.ts) holds only with suffixes on.
      expect(prom.add_metric_suffixes).toBe(true);
      if ('translation_strategy' in prom)
        expect(prom.translation_strategy).toBe('UnderscoreEscapingWithSuffixes');
      // Labels must equal the direct-scrape path: no resource attributes as labels.
      expect(prom.resource_to_telemetry_conversion).toEqual({ enabled: false });
      expect(prom).not.toHaveProperty('resource_constant_labels');
      expect(prom).not.toHaveProperty('namespace');
      expect(prom).not.toHaveProperty('const_labels');
      expect(prom.endpoint).toBe('127.0.0.1:8889');
      // Only in metrics pipelines.
      for (const [id, p] of Object.entries(config.service.pipelines)) {
        if (p.exporters?.includes('prometheus')) expect(componentType(id)).toBe('metrics');
      }
    });
  });

  describe('otelcol validate', () => {
    const bin = findBinary('otelcol-contrib') ?? findBinary('otelcol');
    if (!bin) {
      it.skip('skipped: neither otelcol-contrib nor otelcol is on PATH (structural checks only)', () => {});
      return;
    }
    it.each(FILES)(`${bin} validate --config %s`, (file) => {
      const env = {
        ...process.env,
        LINKWATCH_GATEWAY_ENDPOINT: '127.0.0.1:14317',
        LINKWATCH_TRACES_ENDPOINT: '127.0.0.1:24317',
      };
      expect(() =>
        execFileSync(bin, ['validate', '--config', join(DIR, file)], {
          env,
          encoding: 'utf8',
          stdio: 'pipe',
        }),
      ).not.toThrow();
    });
  });
});
