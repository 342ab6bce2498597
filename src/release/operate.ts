/** Day-to-day operations on a deployed service: logs, exec, restart, stop, rm. */
import { notFound } from '../errors.js';
import { stopFrontDoor } from '../lb/front-door.js';
import { frontDoorDir } from '../lb/paths.js';
import { allRefs, releaseDigest } from '../store/refs.js';
import { environmentOf, ipamOf, networkOf, serviceOf, type RunContext } from '../runtime/context.js';
import { waitHealthy } from '../health/gate.js';
import { listFleet, listInstances, type InstanceStatus } from '../runtime/instances.js';
import { unreachableError } from '../runtime/reach.js';
import { removeInstance } from '../rollout/remove.js';

/** A service's instances in an environment, or one instance when `name` is a slot. */
export async function selectInstances(context: RunContext, name: string, environment: string, options: { withMissing?: boolean } = {}): Promise<InstanceStatus[]> {
  environmentOf(context.project, environment);
  const isSlot = !context.project.services.has(name);
  if (!isSlot) serviceOf(context.project, name);
  const listing = await listFleet(context, { environment, withMissing: true });
  const all = listing.instances.filter((i) => options.withMissing || i.state !== 'missing');
  const chosen = all.filter((i) => (isSlot ? i.slot === name : i.service === name));
  // Instances on hosts that answer are enough; one recorded on a host that does not (or none found while one does not) is not.
  const silent = new Set(chosen.filter((i) => i.state === 'unknown').map((i) => i.host));
  const needed = listing.unreachable.filter((u) => silent.has(u.host) || chosen.length === 0);
  if (needed.length > 0) throw unreachableError(needed, `${name} in ${environment}`);
  if (chosen.length === 0) {
    if (isSlot && !all.some((i) => i.slot === name) && ![...context.project.services.keys()].some((s) => name.startsWith(`${s}-`))) serviceOf(context.project, name);
    throw notFound(`no instances of ${name} in ${environment}`, { fix: `deploy it first: berth deploy ${isSlot ? '<service>' : name} --env ${environment}` });
  }
  return chosen;
}

export interface LogOptions {
  follow?: boolean;
  /** Seconds since the epoch. */
  since?: number;
  tail?: number;
  onLine: (slot: string, line: string) => void;
}

/** Each instance's lines prefixed by its slot; with `follow`, merged as they come until every stream ends. */
export async function instanceLogs(context: RunContext, instances: InstanceStatus[], options: LogOptions): Promise<void> {
  const width = Math.max(...instances.map((i) => i.slot.length));
  const emitLines = (slot: string, text: string, pending: { rest: string }) => {
    const lines = (pending.rest + text).split('\n');
    pending.rest = lines.pop() ?? '';
    for (const line of lines) options.onLine(slot.padEnd(width), line);
  };
  await Promise.all(
    instances.map(async (instance) => {
      const engine = context.hosts.engine(instance.host);
      const pending = { rest: '' };
      const query = { ...(options.since !== undefined ? { since: options.since } : {}), ...(options.tail !== undefined ? { tail: options.tail } : {}) };
      if (options.follow) await engine.containers.follow(instance.id, query, (text) => emitLines(instance.slot, text, pending));
      else emitLines(instance.slot, await engine.containers.logs(instance.id, query), pending);
      if (pending.rest) options.onLine(instance.slot.padEnd(width), pending.rest);
    }),
  );
}

export async function execIn(context: RunContext, instance: InstanceStatus, command: string[]): Promise<{ exitCode: number; output: string }> {
  return context.hosts.engine(instance.host).exec(instance.id, command);
}

/** Restarts one instance at a time and waits until each is healthy again, so the service never goes fully down. */
export async function restartInstances(context: RunContext, instances: InstanceStatus[], onDone: (slot: string, healthy: boolean, reason?: string) => void, timeoutMs = 120_000): Promise<boolean> {
  let allHealthy = true;
  for (const instance of instances) {
    const service = serviceOf(context.project, instance.service);
    const engine = context.hosts.engine(instance.host);
    await engine.containers.restart(instance.id, service.stopGraceSeconds);
    const state = await engine.containers.inspect(instance.id);
    const restartsBefore = state?.restartCount ?? 0;
    const gate = await waitHealthy(
      engine,
      instance.id,
      service.health,
      {
        address: (port) =>
          instance.ip ? { host: instance.ip, port } : instance.ports[`${port}/tcp`] ? { host: context.hosts.address(instance.host), port: instance.ports[`${port}/tcp`]! } : { host: context.hosts.address(instance.host), port },
      },
      timeoutMs,
      restartsBefore,
    );
    onDone(instance.slot, gate.healthy, gate.healthy ? undefined : gate.reason);
    if (!gate.healthy) allHealthy = false;
  }
  return allHealthy;
}

export async function stopInstances(context: RunContext, instances: InstanceStatus[]): Promise<void> {
  await Promise.all(instances.map((i) => context.hosts.engine(i.host).containers.stop(i.id, serviceOf(context.project, i.service).stopGraceSeconds)));
}

/** Removes the instances, releases their addresses into quarantine and ends the deployed-digest references of what is gone. */
export async function removeInstances(context: RunContext, instances: InstanceStatus[], environment: string): Promise<string[]> {
  const ipam = ipamOf(context);
  const network = networkOf(context.project, environmentOf(context.project, environment));
  const ips = await Promise.all(
    instances.map((i) => {
      const grace = context.project.services.get(i.service)?.stopGraceSeconds ?? 10;
      return removeInstance(context, ipam, { host: i.host, id: i.id, slot: i.slot, environment, network: { mode: network.mode, name: i.network || network.name }, graceSeconds: grace });
    }),
  );
  const released = ips.filter((ip): ip is string => ip !== undefined);
  const left = await listInstances(context, { environment });
  const services = new Set(instances.map((i) => i.service));
  for (const service of services) {
    if (left.some((i) => i.service === service)) continue;
    // Nothing of the service runs here any more: its front door goes too (its port stays reserved for it).
    await stopFrontDoor(frontDoorDir(context.project.stateDir, service, environment));
    for (const ref of await allRefs(context.db)) {
      if (ref.kind === 'deployed' && ref.service === service && ref.environment === environment) await releaseDigest(context.db, ref);
    }
  }
  return released;
}
