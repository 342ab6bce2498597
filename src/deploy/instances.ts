/** The instances that run, as `berth ps` shows them: the engines' containers with Berth's labels, inspected. */
import type { ContainerState } from '../engine/containers.js';
import type { RunContext } from './context.js';
import { RUN_LABELS } from './labels.js';

export interface InstanceStatus {
  slot: string;
  service: string;
  environment: string;
  host: string;
  network: string;
  id: string;
  ip: string | null;
  mac: string | null;
  /** "8080/tcp" → host port. */
  ports: Record<string, number>;
  digest: string;
  deployment: number | null;
  state: string;
  /** healthy, unhealthy, starting, or none (no health check). */
  health: string;
  startedAt: string | null;
  uptimeSeconds: number | null;
  restarts: number;
}

export interface InstanceFilter {
  environment?: string;
  service?: string;
}

export async function listInstances(context: RunContext, filter: InstanceFilter = {}, now = Date.now()): Promise<InstanceStatus[]> {
  const labels = [
    `${RUN_LABELS.project}=${context.project.name}`,
    ...(filter.environment ? [`${RUN_LABELS.environment}=${filter.environment}`] : []),
    ...(filter.service ? [`${RUN_LABELS.service}=${filter.service}`] : []),
  ];
  const perHost = await Promise.all(
    context.project.hosts.map(async (host) => {
      const engine = context.hosts.engine(host.name);
      const ids = await engine.containers.list(labels);
      const states = await Promise.all(ids.map((id) => engine.containers.inspect(id)));
      return states.filter((s): s is ContainerState => s !== undefined).map((s) => toStatus(host.name, s, now));
    }),
  );
  return perHost.flat().sort((a, b) => a.environment.localeCompare(b.environment) || a.slot.localeCompare(b.slot, 'en', { numeric: true }));
}

function toStatus(host: string, s: ContainerState, now: number): InstanceStatus {
  const endpoint = Object.values(s.networks)[0];
  const started = s.running && s.startedAt ? Date.parse(s.startedAt) : NaN;
  return {
    slot: s.labels[RUN_LABELS.instance] ?? s.name,
    service: s.labels[RUN_LABELS.service] ?? '',
    environment: s.labels[RUN_LABELS.environment] ?? '',
    host,
    network: s.labels[RUN_LABELS.network] ?? '',
    id: s.id,
    ip: endpoint?.ip || null,
    mac: endpoint?.mac || null,
    ports: s.ports,
    digest: s.labels[RUN_LABELS.digest] ?? '',
    deployment: s.labels[RUN_LABELS.deployment] ? Number(s.labels[RUN_LABELS.deployment]) : null,
    state: s.status,
    health: s.health ?? 'none',
    startedAt: s.running ? s.startedAt : null,
    uptimeSeconds: Number.isNaN(started) ? null : Math.max(0, Math.round((now - started) / 1000)),
    restarts: s.restartCount,
  };
}
