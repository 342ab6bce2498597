/**
 * The reconciler's inputs, read without changing anything: what should run
 * (each service × environment with a current release) and what runs (the
 * containers of the project on every host that answers, each front door).
 */
import type { EnvironmentSpec } from '../config/model.js';
import type { RunContext } from '../runtime/context.js';
import { RUN_LABELS } from '../runtime/labels.js';
import { isHostUnreachable, reachHosts, reasonOf } from '../runtime/reach.js';
import { roleOf, slotName } from '../runtime/slots.js';
import { frontDoorStatus, memberRuns } from '../lb/front-door.js';
import { accepts } from '../ports.js';
import { doorPlaceOf } from '../rollout/door-place.js';
import { frontDoorSpecOf } from '../rollout/front-door.js';
import { describeHolder } from '../rollout/lease.js';
import { leaseOf } from '../store/leases.js';
import { hostHealth } from '../store/host-health.js';
import { lostHosts } from '../runtime/lost-hosts.js';
import { hostsTouched } from '../rollout/preflight.js';
import { targetHash } from '../rollout/rollout-context.js';
import { contextFor, replicasIn, serviceOfRelease } from '../rollout/executor.js';
import { slotsOf } from '../store/deployments.js';
import { currentRelease, frontDoorPort, openRollout, releaseOf, rolloutById } from '../store/releases.js';
import type { DesiredPair, ObservedState, SeenFrontDoor, SeenInstance } from './plan.js';

export interface Gathered {
  desired: DesiredPair[];
  observed: ObservedState;
}

export async function gatherState(run: RunContext): Promise<Gathered> {
  const { instances, unreachable } = await seeInstances(run);
  const silent = new Set(unreachable.map((u) => u.host));
  const desired: DesiredPair[] = [];
  const frontDoors: SeenFrontDoor[] = [];
  for (const environment of run.project.environments.values()) {
    for (const service of run.project.services.keys()) {
      const pair = await desiredPair(run, service, environment, silent);
      if (!pair) continue;
      desired.push(pair);
      if (pair.frontDoor) frontDoors.push(await seeFrontDoor(run, service, environment));
    }
  }
  const health = await hostHealth(run.db);
  const lost = [...(await lostHosts(run))].sort().map((host) => ({ host, since: health.get(host)!.since }));
  return { desired, observed: { instances, unreachable, frontDoors, ...(lost.length > 0 ? { lost } : {}) } };
}

/** One list call per host for the whole project: enough to plan without inspecting each container. */
async function seeInstances(run: RunContext): Promise<{ instances: SeenInstance[]; unreachable: { host: string; error: string }[] }> {
  const reached = await reachHosts(run.hosts, run.project.hosts.map((h) => h.name));
  const unreachable = reached.flatMap((r) => (r.reachable ? [] : [{ host: r.host, error: r.error }]));
  const perHost = await Promise.all(
    reached
      .filter((r) => r.reachable)
      .map(async ({ host }) => {
        try {
          // Instances only: the project's front doors are its containers too (seeFrontDoor looks at them).
          const found = await run.hosts.engine(host).containers.summaries([`${RUN_LABELS.project}=${run.project.name}`, RUN_LABELS.instance]);
          return found.map((c): SeenInstance => {
            const slot = c.labels[RUN_LABELS.instance] ?? '';
            return {
              service: c.labels[RUN_LABELS.service] ?? '',
              environment: c.labels[RUN_LABELS.environment] ?? '',
              slot,
              host,
              name: c.name,
              role: roleOf(run.project.name, slot, c.name),
              state: c.state,
              status: c.status,
              specHash: c.labels[RUN_LABELS.spec] ?? '',
            };
          });
        } catch (error) {
          // It answered a moment ago and stopped since: the same as not answering.
          if (!isHostUnreachable(error)) throw error;
          unreachable.push({ host, error: reasonOf(error) });
          return [];
        }
      }),
  );
  return { instances: perHost.flat().filter((i) => i.slot !== ''), unreachable: unreachable.sort((a, b) => a.host.localeCompare(b.host)) };
}

async function desiredPair(run: RunContext, service: string, environment: EnvironmentSpec, silent: ReadonlySet<string>): Promise<DesiredPair | undefined> {
  const number = await currentRelease(run.db, service, environment.name);
  const release = number === undefined ? undefined : await releaseOf(run.db, service, number);
  if (!release) return undefined;
  const spec = serviceOfRelease(release);
  const replicas = await replicasIn(run, spec, environment);
  const hosts = await hostsTouched(run, service, environment);
  const slotHosts = Object.fromEntries((await slotsOf(run.db, service, environment.name)).map((s) => [s.slot, s.host]));
  const door = await frontDoorPort(run.db, service, environment.name);
  const base: DesiredPair = { service, environment: environment.name, release: release.number, replicas, hosts, slotHosts, ...(door ? { frontDoor: door } : {}) };
  const busy = await busyWith(run, service, environment.name);
  if (busy !== undefined) return { ...base, busy };
  // The target's spec needs every host's engine (placement asks them): with one silent, the pair waits anyway.
  if (hosts.some((h) => silent.has(h))) return base;
  try {
    const ctx = await contextFor(run, release, environment, {}, false);
    const slots = Array.from({ length: replicas }, (_, i) => slotName(service, environment.name, i + 1));
    const specHashes = Object.fromEntries(await Promise.all(slots.map(async (slot) => [slot, await targetHash(ctx, slot)] as const)));
    return { ...base, specHashes };
  } catch (error) {
    return { ...base, specProblem: reasonOf(error) };
  }
}

/** The words for a rollout that holds the pair (its lock, or an open canary), if any. */
async function busyWith(run: RunContext, service: string, environment: string): Promise<string | undefined> {
  const lock = await leaseOf(run.db, service, environment);
  if (lock) return `a rollout holds it: ${describeHolder(lock, await rolloutById(run.db, lock.rollout))}`;
  const open = await openRollout(run.db, service, environment);
  if (open?.status === 'canary') return `a canary of release ${open.release} is open (rollout #${open.id}); promote or abort it`;
  if (open) return `rollout #${open.id} (${open.kind} of release ${open.release}) is still open`;
  return undefined;
}

/**
 * A door runs when every member does, with keepalived beside it where the door has a shared address; one down
 * (stopped, removed, its HAProxy gone, its keepalived gone) is restored by a front-door rollout.
 */
async function seeFrontDoor(run: RunContext, service: string, environment: EnvironmentSpec): Promise<SeenFrontDoor> {
  const spec = await frontDoorSpecOf(run, service, environment);
  const place = doorPlaceOf(run, environment);
  const status = await frontDoorStatus(spec, place);
  const at = { service, environment: environment.name };
  const running = status.members.every((m) => m.state === 'unknown' || memberRuns(m));
  if (running) return { ...at, running: true, portTaken: false, ...(status.problem !== undefined ? { problem: status.problem } : {}) };
  // Another process on the port is seen only where Berth can look: a door on this machine's engine.
  const local = place.members.some((m, i) => m.local && status.members[i]?.state !== 'running');
  return { ...at, running: false, portTaken: local && !status.running && (await accepts(loopbackFor(spec.bind.address), spec.bind.port)) };
}

function loopbackFor(address: string): string {
  if (address === '0.0.0.0') return '127.0.0.1';
  if (address === '::') return '::1';
  return address;
}
