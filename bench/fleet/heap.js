/**
 * Heap snapshot arithmetic: self size and count per (node type, name), and
 * the difference between two snapshots divided by the links added, so the
 * table reads "bytes per link by constructor".
 */
import { readFileSync } from 'node:fs';

export function aggregateSnapshot(file) {
  const snap = JSON.parse(readFileSync(file, 'utf8'));
  const { node_fields: fields, node_types: types } = snap.snapshot.meta;
  const width = fields.length;
  const iType = fields.indexOf('type');
  const iName = fields.indexOf('name');
  const iSize = fields.indexOf('self_size');
  const typeNames = types[iType];
  const { nodes, strings } = snap;
  const byKey = new Map();
  for (let i = 0; i < nodes.length; i += width) {
    const type = typeNames[nodes[i + iType]];
    let name = strings[nodes[i + iName]];
    // Strings and numbers are named by their value: group them by type only.
    if (type === 'string' || type === 'concatenated string' || type === 'sliced string' || type === 'number')
      name = '';
    if (type === 'code') name = '';
    if (name.length > 60) name = `${name.slice(0, 57)}...`;
    const key = `${type}:${name}`;
    const e = byKey.get(key) ?? { count: 0, bytes: 0 };
    e.count++;
    e.bytes += nodes[i + iSize];
    byKey.set(key, e);
  }
  return byKey;
}

/** Per-link growth by (type, name), biggest first. */
export function perLinkGrowth(before, after, links, top = 25) {
  const rows = [];
  for (const [key, a] of after) {
    const b = before.get(key) ?? { count: 0, bytes: 0 };
    const bytes = a.bytes - b.bytes;
    const count = a.count - b.count;
    if (bytes <= 0) continue;
    rows.push({ key, bytesPerLink: bytes / links, countPerLink: count / links });
  }
  rows.sort((x, y) => y.bytesPerLink - x.bytesPerLink);
  const total = rows.reduce((s, r) => s + r.bytesPerLink, 0);
  return { total, rows: rows.slice(0, top) };
}
