import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { DATASOURCE } from '../../../grafana/src/panels.js';

const DIR = join(import.meta.dirname, '../../../grafana/provisioning');
const load = (file: string) => parse(readFileSync(join(DIR, file), 'utf8'));

describe('Grafana provisioning', () => {
  it('provisions a Prometheus data source on 127.0.0.1:9090', () => {
    const { apiVersion, datasources } = load('datasources/prometheus.yaml');
    expect(apiVersion).toBe(1);
    expect(datasources).toHaveLength(1);
    const [ds] = datasources;
    expect(ds).toMatchObject({
      type: DATASOURCE.type,
      access: 'proxy',
      url: 'http://127.0.0.1:9090',
      isDefault: true,
    });
    expect(ds.jsonData.timeInterval).toMatch(/^\d+s$/);
  });

  it('provisions the dashboards from files into a Linkwatch folder', () => {
    const { apiVersion, providers } = load('dashboards/linkwatch.yaml');
    expect(apiVersion).toBe(1);
    expect(providers).toHaveLength(1);
    expect(providers[0]).toMatchObject({ type: 'file', folder: 'Linkwatch', allowUiUpdates: false });
    expect(providers[0].options.path).toMatch(/^\//);
  });
});
