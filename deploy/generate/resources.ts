import type { IResourceRequirements } from 'kubernetes-models/v1/ResourceRequirements';

/**
 * Requests and limits, sized from measurements, each number cited.
 *
 * Hub: first sized from bench/results/fleet-10k-final.md, the numbers below;
 * the final build measures less (bench/results/fleet-final.md: 1,000 workers
 * 7 % of a core and 172 MB, 10,000 workers 46-66 % and 410 MB), so these keep
 * headroom. README "Capacity" and fleet-10k-final.md (the CLI hub
 * with the Prometheus exporter scraped every 15 s, the watchdog and
 * --journal, heartbeat 1 s, 1 msg/s of 256 B per worker): per 1,000 workers
 * 8-9 % of a core (80-114 µs per link-second) and 60-100 MB of RSS on top
 * of an empty hub's ~105 MB; at 10,000 workers 84 % of a core and 695 MB.
 * The base is sized for up to 1,000 workers (one per node: a 1,000-node
 * cluster): request the upper end, 115m and 205 MB -> 256Mi. Limits leave
 * room for a reconnect storm (0.8 ms of hub CPU per connect: 1,000 workers
 * reconnecting cost 0.8 CPU-seconds, so 1 CPU lets them in within about a
 * second) and for a /metrics scrape (~1.5 MB per 1,000 workers). Per 1,000
 * workers more, add ~115m and ~100Mi to both (at 10,000: 1 CPU, 1Gi);
 * deploy/README.md says how to patch it.
 *
 * Worker: one `linkwatch worker --rate 1 --size 256` (what the DaemonSet
 * runs) against a CLI hub, both with /metrics scraped every 10 s, measured
 * over 60 s after 30 s of warm-up (deploy/README.md, "Sizing"; load average
 * 4.6 on 2 shared cores): 0.68 CPU-seconds a minute (1.1 % of a core) and
 * 112 MB of RSS (peak 112 MB), most of it Node and the OpenTelemetry SDK.
 * Request 20m and 128Mi; the limits leave twice that for bursts.
 *
 * Collectors: their memory limits sit 25 % above the memory_limiter's
 * limit_mib in collector-config/ (256 on the agent, 1024 on the gateway), as
 * the Collector's docs advise, so the limiter refuses data before the kernel
 * kills the pod. Their CPU is not measured here: the requests are small
 * starting points, to be tuned on otelcol_process_cpu_seconds.
 */
export const HUB_RESOURCES: IResourceRequirements = {
  requests: { cpu: '150m', memory: '256Mi' },
  limits: { cpu: '1', memory: '512Mi' },
};

export const WORKER_RESOURCES: IResourceRequirements = {
  requests: { cpu: '20m', memory: '128Mi' },
  limits: { cpu: '250m', memory: '256Mi' },
};

export const AGENT_RESOURCES: IResourceRequirements = {
  requests: { cpu: '50m', memory: '128Mi' },
  limits: { cpu: '500m', memory: '320Mi' },
};

export const GATEWAY_RESOURCES: IResourceRequirements = {
  requests: { cpu: '200m', memory: '512Mi' },
  limits: { cpu: '2', memory: '1280Mi' },
};
