/**
 * The whole plan of a rollout, from the snapshot `gather.ts` read (pure): what prepares it
 * (the network on hosts that lack it, containers under old names, stale addresses, the front
 * door, the new release's row, pulls on the hosts that launch and lack the image, a new replica
 * count), then the
 * request's instance steps. Nothing of it runs before the plan is journaled.
 */
import { asideName, containerName, PREVIOUS_SUFFIX, roleOf } from '../runtime/slots.js';
import type { PlannedRelease, Rename } from './prepare-step.js';
import type { RolloutPlan, RolloutStep } from './rollout-plan.js';

/** What a container needs to be recognised under an old name. */
export interface NamedContainer {
  host: string;
  id: string;
  name: string;
  slot: string;
  role: 'main' | 'aside' | 'stray';
}

export interface RolloutSnapshot {
  project: string;
  /** The environment's Docker network and the hosts whose engine lacks it. */
  network: { name: string; missingOn: string[] };
  /** The service's containers on every host that may hold one. */
  observed: readonly NamedContainer[];
  /** Addresses of a flat network that no container holds (past their grace), as IPAM would quarantine them now. */
  staleAddresses: string[];
  /** The rollout goes through the service's front door. */
  door: boolean;
  /** A new release to record, its number reserved; absent when the release exists. */
  record?: PlannedRelease;
  /** A scale: the replica count it records, once nothing else can fail before the instances change. */
  scale?: number;
  /** The request's plan of instance steps, made from the snapshot. */
  instances: RolloutPlan;
  /** Each slot the instance steps launch → its host. */
  slotHosts: Readonly<Record<string, string>>;
  /** Launching host → whether its engine has the release's image; absent when the image is never pulled (not pushed: only the build engine runs it). */
  imageOn?: Readonly<Record<string, boolean>>;
}

/** Every step of the rollout; none when the instance steps change nothing (nothing is journaled then). */
export function planRollout(s: RolloutSnapshot): RolloutPlan {
  const { instances } = s;
  if (instances.steps.length === 0) return instances;
  const prepare: RolloutStep[] = [];
  if (s.network.missingOn.length > 0) prepare.push({ op: 'networks', hosts: [...s.network.missingOn] });
  const renames = plannedRenames(s.project, s.observed);
  if (renames.length > 0) prepare.push({ op: 'adopt-names', renames });
  if (s.staleAddresses.length > 0) prepare.push({ op: 'addresses', network: s.network.name, stale: [...s.staleAddresses] });
  if (s.door) prepare.push({ op: 'front-door' });
  if (s.record) prepare.push({ op: 'record-release', release: s.record });
  const pulls = s.imageOn ? launchingHosts(instances.steps, s.slotHosts).filter((h) => s.imageOn![h] !== true) : [];
  if (pulls.length > 0) prepare.push({ op: 'pull', hosts: pulls });
  if (s.scale !== undefined) prepare.push({ op: 'scale', replicas: s.scale });
  // The front door comes up once, before the release is recorded: a port taken stops the rollout before anything else changes.
  const rest = s.door && instances.steps[0]?.op === 'front-door' ? instances.steps.slice(1) : instances.steps;
  return { ...instances, steps: [...prepare, ...rest] };
}

/** The slots the steps launch a container in. */
export function launchingSlots(steps: readonly RolloutStep[]): string[] {
  return [...new Set(steps.flatMap((s) => (s.op === 'create' || s.op === 'surge' || s.op === 'replace' || s.op === 'canary' ? s.slots : [])))];
}

/** The hosts that launch a container, in the order their slots come. */
export function launchingHosts(steps: readonly RolloutStep[], slotHosts: Readonly<Record<string, string>>): string[] {
  return [...new Set(launchingSlots(steps).flatMap((slot) => (slotHosts[slot] === undefined ? [] : [slotHosts[slot]!])))];
}

/** Containers made before names carried the project (`<slot>`, `<slot>-prev`) and today's name for each, unless that name is taken. */
export function plannedRenames(project: string, observed: readonly NamedContainer[]): Rename[] {
  const renames: Rename[] = [];
  for (const o of observed.filter((x) => x.role === 'stray')) {
    const to = o.name === o.slot ? containerName(project, o.slot) : o.name === `${o.slot}${PREVIOUS_SUFFIX}` ? asideName(project, o.slot) : undefined;
    if (to === undefined || observed.some((x) => x.name === to)) continue;
    renames.push({ host: o.host, id: o.id, from: o.name, to });
  }
  return renames;
}

/** The containers as they are once the renames ran: what the instance steps are planned from. */
export function afterRenames<T extends NamedContainer>(project: string, observed: readonly T[], renames: readonly Rename[]): T[] {
  return observed.map((o) => {
    const rename = renames.find((r) => r.id === o.id && r.host === o.host);
    return rename ? { ...o, name: rename.to, role: roleOf(project, o.slot, rename.to) } : o;
  });
}
