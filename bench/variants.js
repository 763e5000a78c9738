/**
 * The transports the cross-process benchmarks compare, by name. Each runs
 * as a receiving and a sending process (bench/peer.js, bench/transports/).
 * `broker: true` marks those that also need the NATS server.
 */
export const VARIANTS = {
  ours: { transport: 'ours' },
  // Opt-in (--variants=): ours with RFC 6455's random masking keys instead of the default zero key.
  'ours-random-mask': { transport: 'ours', options: { workerOptions: { frameMask: 'random' } } },
  raw: { transport: 'raw' },
  'raw+acks': { transport: 'raw', options: { acks: true } },
  'socket.io': { transport: 'socketio' },
  'nats-core': { transport: 'nats', options: { jetstream: false }, broker: true },
  'nats-js': { transport: 'nats', options: { jetstream: true }, broker: true },
};

export function fmtRate(v) {
  if (!Number.isFinite(v)) return '–';
  return v >= 10_000 ? `${Math.round(v / 1000)}k` : `${(v / 1000).toFixed(1)}k`;
}

export function label(bytes) {
  return bytes >= 1024 ? `${bytes / 1024} KiB` : `${bytes} B`;
}

/** `**median** (min–max)` of a summarised ratio. */
export function ratioCell(s, digits = 2) {
  if (!s) return '–';
  return `**${s.median.toFixed(digits)}** (${s.min.toFixed(digits)}–${s.max.toFixed(digits)})`;
}

/** `median ±spread%` of a rate. */
export function rateCell(s) {
  if (!s) return '–';
  return `${fmtRate(s.median)} ±${Math.round(s.spreadPct / 2)}%`;
}

/** ✅ when the median meets the goal, ❌ when not. */
export function verdict(s, goal, atMost = false) {
  if (!s) return '';
  return (atMost ? s.median <= goal : s.median >= goal) ? '✅' : '❌';
}
