import { describe, expect, it } from 'vitest';
import { ATTR, METRICS, type MetricSpec } from '../../../src/telemetry/catalog.js';
import { collectorName, jsExporterName, labelName } from '../../../src/telemetry/prometheus-names.js';

const specs = Object.values(METRICS) as MetricSpec[];

describe('metric names come out the same on both paths', () => {
  for (const spec of specs) {
    it(`${spec.name} (${spec.instrument}, ${spec.unit})`, () => {
      expect(collectorName(spec)).toBe(jsExporterName(spec));
    });
  }

  it('the rule sets really differ where the naming rule matters', () => {
    // A name without its unit word would split: the Collector appends it, the JS exporter does not.
    const bad = { name: 'linkwatch.heartbeat.rtt', instrument: 'histogram', unit: 's' } as const;
    expect(collectorName(bad)).toBe('linkwatch_heartbeat_rtt_seconds');
    expect(jsExporterName(bad)).toBe('linkwatch_heartbeat_rtt');
    const ratio = { name: 'linkwatch.queue.fill', instrument: 'gauge', unit: '1' } as const;
    expect(collectorName(ratio)).not.toBe(jsExporterName(ratio));
    const counter = { name: 'linkwatch.sent.bytes', instrument: 'counter', unit: 'By' } as const;
    expect(collectorName(counter)).toBe('linkwatch_sent_bytes_total');
  });

  it('no metric name ends in total or ratio, and seconds/bytes metrics carry the unit word', () => {
    for (const spec of specs) {
      expect(spec.name).not.toMatch(/\.(total|ratio)$/);
      if (spec.unit === 's') expect(spec.name).toMatch(/\.seconds$/);
      if (spec.unit === 'By') expect(spec.name).toMatch(/\.bytes$/);
      expect(spec.unit).not.toBe('1');
    }
  });

  it('worker identity is the same label on both paths', () => {
    expect(labelName(ATTR.workerId)).toBe('linkwatch_worker_id');
    expect(labelName(ATTR.errorType)).toBe('error_type');
  });
});
