/**
 * The instances, as `berth ps` shows them: the engines' containers with Berth's
 * labels, inspected; a container set aside by an interrupted rollout as such;
 * and a slot the store records without any container as `missing`. A host
 * whose engine does not answer is reported as such, and its recorded slots
 * as `unknown`.
 */
import type { ContainerState } from '../engine/containers.js';
import { ipamOf, networkOf, type RunContext } from './context.js';
import { allSlots, type SlotRecord } from '../store/deployments.js';
import { RUN_LABELS } from './labels.js';
import { PREVIOUS_SUFFIX } from './slots.js';
import { isHostUnreachable, reachHosts, reasonOf, unreachableError, type UnreachableHost } from './reach.js';

export interface InstanceStatus {
  slot: string;
  /** The container's name: the slot's, or the slot's with PREVIOUS_SUFFIX while a rollout has it set aside; '' when missing. */
  name: string;
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
  /**
   * The engine's state (running, exited, …); `set-aside` for a container an interrupted rollout renamed aside; `missing` for a slot
   * without a container; `unknown` for a recorded slot on a host that did not answer.
   */
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
  /** Also the slots the store records without a container, as state `missing` (berth ps). */
  withMissing?: boolean;
}

export interface FleetListing {
  instances: InstanceStatus[];
  /** Hosts whose engine did not answer: their recorded slots are listed with state `unknown`. */
  unreachable: UnreachableHost[];
}

/** Every instance, when every host that may hold one answers; one that does not fails the call, naming it (commands that act on what they list). */
export async function listInstances(context: RunContext, filter: InstanceFilter = {}, now = Date.now()): Promise<InstanceStatus[]> {
  const listing = await listFleet(context, filter, now);
  const needed: UnreachableHost[] = [];
  for (const u of listing.unreachable) if (await mayHold(context, u.host, filter)) needed.push(u);
  if (needed.length > 0) throw unreachableError(needed, filter.environment ? `this command on ${filter.environment}` : 'this command');
  return listing.instances.filter((i) => i.state !== 'unknown');
}

/** Whether a host may run instances the filter asks for: it is one of the environment's hosts, or the store places a slot there. */
async function mayHold(context: RunContext, host: string, filter: InstanceFilter): Promise<boolean> {
  if (filter.environment === undefined) return true;
  if (context.project.environments.get(filter.environment)?.hosts.includes(host)) return true;
  return (await allSlots(context.db, filter.environment)).some((s) => s.host === host && (filter.service === undefined || s.service === filter.service));
}

/** What the hosts that answer run, and which hosts did not answer and why (berth ps, berth lb). */
export async function listFleet(context: RunContext, filter: InstanceFilter = {}, now = Date.now()): Promise<FleetListing> {
  const labels = [
    `${RUN_LABELS.project}=${context.project.name}`,
    // Instances only: a project's front doors are containers of it too.
    RUN_LABELS.instance,
    ...(filter.environment ? [`${RUN_LABELS.environment}=${filter.environment}`] : []),
    ...(filter.service ? [`${RUN_LABELS.service}=${filter.service}`] : []),
  ];
  const reached = await reachHosts(context.hosts, context.project.hosts.map((h) => h.name));
  const unreachable: UnreachableHost[] = reached.filter((r) => !r.reachable).map((r) => ({ host: r.host, engine: r.engine, error: r.reachable ? '' : r.error }));
  const perHost = await Promise.all(
    reached
      .filter((r) => r.reachable)
      .map(async ({ host, engine: endpoint }) => {
        try {
          const engine = context.hosts.engine(host);
          const ids = await engine.containers.list(labels);
          const states = await Promise.all(ids.map((id) => engine.containers.inspect(id)));
          return states.filter((s): s is ContainerState => s !== undefined).map((s) => toStatus(host, s, now));
        } catch (error) {
          // It answered the version call a moment ago and stopped since: the same as not answering.
          if (!isHostUnreachable(error)) throw error;
          unreachable.push({ host, engine: endpoint, error: reasonOf(error) });
          return [];
        }
      }),
  );
  const found = perHost.flat();
  const silent = new Set(unreachable.map((u) => u.host));
  const missing = filter.withMissing ? await missingSlots(context, found, filter, silent) : [];
  const instances = [...found, ...missing].sort(
    (a, b) => a.environment.localeCompare(b.environment) || a.slot.localeCompare(b.slot, 'en', { numeric: true }) || a.name.localeCompare(b.name),
  );
  return { instances, unreachable: unreachable.sort((a, b) => a.host.localeCompare(b.host)) };
}

/**
 * Slots the store records whose container no engine has (removed by hand, say): the next rollout recreates them.
 * A slot on a host that did not answer is `unknown`, not missing: its container may well run.
 */
async function missingSlots(context: RunContext, found: readonly InstanceStatus[], filter: InstanceFilter, silent: ReadonlySet<string>): Promise<InstanceStatus[]> {
  const present = new Set(found.map((i) => `${i.environment}\0${i.slot}`));
  const wanted = (s: SlotRecord) => (filter.service === undefined || s.service === filter.service) && !present.has(`${s.environment}\0${s.slot}`);
  const records = (await allSlots(context.db, filter.environment)).filter(wanted);
  if (records.length === 0) return [];
  const addresses = new Map((await ipamOf(context).allocations()).filter((a) => a.slot !== null).map((a) => [`${a.network}\0${a.slot}`, a]));
  return records.map((s) => {
    const environment = context.project.environments.get(s.environment);
    const own = environment && networkOf(context.project, environment)?.mode === 'flat' ? addresses.get(`${s.network}\0${s.slot}`) : undefined;
    return {
      slot: s.slot,
      name: '',
      service: s.service,
      environment: s.environment,
      host: s.host,
      network: s.network,
      id: '',
      ip: own?.ip ?? null,
      mac: own?.mac ?? null,
      ports: s.hostPorts,
      digest: '',
      deployment: null,
      state: silent.has(s.host) ? 'unknown' : 'missing',
      health: silent.has(s.host) ? 'unknown' : 'none',
      startedAt: null,
      uptimeSeconds: null,
      restarts: 0,
    };
  });
}

function toStatus(host: string, s: ContainerState, now: number): InstanceStatus {
  const endpoint = Object.values(s.networks)[0];
  const started = s.running && s.startedAt ? Date.parse(s.startedAt) : NaN;
  const slot = s.labels[RUN_LABELS.instance] ?? s.name;
  return {
    slot,
    name: s.name,
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
    state: s.name.endsWith(PREVIOUS_SUFFIX) ? 'set-aside' : s.status,
    health: s.health ?? 'none',
    startedAt: s.running ? s.startedAt : null,
    uptimeSeconds: Number.isNaN(started) ? null : Math.max(0, Math.round((now - started) / 1000)),
    restarts: s.restartCount,
  };
}
