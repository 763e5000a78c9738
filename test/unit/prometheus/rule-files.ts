import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';

/** The shapes of prometheus/*.yml and prometheus/tests/*.yml that the rule tests read. */

export const ROOT = join(import.meta.dirname, '../../..');
export const PROM = join(ROOT, 'prometheus');
export const TESTS = join(PROM, 'tests');

export interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
export interface RuleFile {
  groups: { name: string; rules: Rule[] }[];
}
export interface AlertTestCase {
  eval_time: string;
  alertname: string;
  exp_alerts?: { exp_labels?: Record<string, string>; exp_annotations?: Record<string, string> }[];
}
export interface TestFile {
  rule_files: string[];
  tests: {
    name?: string;
    input_series?: { series: string; values: string }[];
    alert_rule_test?: AlertTestCase[];
  }[];
}

export const load = <T>(path: string): T => parse(readFileSync(path, 'utf8')) as T;
export const rulesOf = (file: RuleFile): Rule[] => file.groups.flatMap((g) => g.rules);
