/**
 * The reconciler's decisions, as plain data from plain data: what should run
 * (each service × environment's current release, its scale and target spec
 * hashes, its front door) against what the engines and front doors run. It
 * fixes only what a rollout of the running release fixes safely: a slot whose
 * container is gone or exited, a front door whose process is gone. Everything
 * else is drift: reported, never touched.
 */
import { ordinalOf, slotName } from '../runtime/slots.js';

export interface DesiredPair {
  service: string;
  environment: string;
  /** The release the environment runs (its last rollout that succeeded). */
  release: number;
  replicas: number;
  /** Every host a rollout of it touches: the environment's and those its slots are recorded on. */
  hosts: string[];
  /** Slot → the host the store records it on. */
  slotHosts: Record<string, string>;
  /** Slot → the spec hash its container has when it runs the release; absent when it was not computed. */
  specHashes?: Record<string, string>;
  /** Why the target spec hashes could not be computed (a secret missing, …). */
  specProblem?: string;
  /** The front door recorded for it (a service run by `berth deploy` has none). */
  frontDoor?: { address: string; port: number };
  /** A rollout holds its lock or a canary is open: its words. Nothing is done to the pair then. */
  busy?: string;
}

/** A container of the project on a host that answered, as the engine's list reports it. */
export interface SeenInstance {
  service: string;
  environment: string;
  slot: string;
  host: string;
  name: string;
  role: 'main' | 'aside' | 'stray';
  /** The engine's state: created, running, restarting, exited, paused, dead, removing. */
  state: string;
  /** The engine's words, e.g. "Up 3 minutes (healthy)", "Exited (137) 2 seconds ago". */
  status: string;
  specHash: string;
}

export interface SeenFrontDoor {
  service: string;
  environment: string;
  running: boolean;
  /** Not running, and something else accepts connections on its port. */
  portTaken: boolean;
  /** Running, but its runtime API did not answer. */
  problem?: string;
}

export interface ObservedState {
  instances: SeenInstance[];
  unreachable: { host: string; error: string }[];
  frontDoors: SeenFrontDoor[];
  /** Hosts lost (down past their stop grace, runtime/lost-hosts.ts): their slots are the failover's, not the reconciler's. */
  lost?: { host: string; since: number }[];
}

export type ReconcileAction =
  | { action: 'recreate'; service: string; environment: string; slot: string; reason: 'missing' | 'exited'; message: string }
  | { action: 'restart-front-door'; service: string; environment: string; address: string; port: number; message: string };

export type DriftKind =
  | 'rollout-in-progress'
  | 'host-unreachable'
  | 'port-taken'
  | 'front-door-unresponsive'
  | 'spec-changed'
  | 'spec-unknown'
  | 'unhealthy'
  | 'restarting'
  | 'paused'
  | 'duplicate'
  | 'surplus'
  | 'leftover'
  /** What an action would fix (statusOf), or would once a host answers. */
  | 'missing'
  | 'exited'
  | 'front-door-down'
  /** A slot on a lost host: the failover recreates it elsewhere (or it waits for room). */
  | 'failing-over'
  /** An action the reconciler took failed. */
  | 'action-failed';

export interface Drift {
  kind: DriftKind;
  /** Absent for what concerns a host of the project rather than one service × environment. */
  service?: string;
  environment?: string;
  slot?: string;
  host?: string;
  message: string;
}

export interface ReconcilePlan {
  actions: ReconcileAction[];
  drift: Drift[];
}

/** States in which the engine will not run the container again by itself. */
const GONE_FOR_GOOD = new Set(['exited', 'dead', 'created']);

export function planReconcile(desired: readonly DesiredPair[], observed: ObservedState): ReconcilePlan {
  const actions: ReconcileAction[] = [];
  const drift: Drift[] = observed.unreachable.map((u) => ({ kind: 'host-unreachable', host: u.host, message: `host ${u.host} is unreachable: ${u.error}` }));
  const silent = new Map(observed.unreachable.map((u) => [u.host, u.error]));
  const lost = new Map((observed.lost ?? []).map((l) => [l.host, l.since]));
  for (const pair of [...desired].sort(byPair)) {
    const plan = planPair(pair, observed, silent, lost);
    actions.push(...plan.actions);
    drift.push(...plan.drift);
  }
  return { actions, drift };
}

function planPair(pair: DesiredPair, observed: ObservedState, silent: ReadonlyMap<string, string>, lost: ReadonlyMap<string, number>): ReconcilePlan {
  const { service, environment } = pair;
  const what = `${service} in ${environment}`;
  const at = { service, environment };
  if (pair.busy !== undefined) return { actions: [], drift: [{ kind: 'rollout-in-progress', ...at, message: `${what}: ${pair.busy}; the reconciler waits for it to end` }] };
  const drift: Drift[] = [];
  const wanted: ReconcileAction[] = [];
  const blockedBy = pair.hosts.filter((h) => silent.has(h)).sort();
  for (const host of blockedBy) drift.push({ kind: 'host-unreachable', ...at, host, message: `host ${host} of ${what} is unreachable: ${silent.get(host)}; the reconciler changes nothing of ${what} until it answers` });
  if (pair.specProblem !== undefined) drift.push({ kind: 'spec-unknown', ...at, message: `${what}: cannot compute what release ${pair.release} runs (${pair.specProblem}), so changed instances are not detected` });

  const mine = observed.instances.filter((i) => i.service === service && i.environment === environment);
  const mains = mine.filter((i) => i.role === 'main');
  for (let ordinal = 1; ordinal <= pair.replicas; ordinal++) {
    const slot = slotName(service, environment, ordinal);
    const recorded = pair.slotHosts[slot];
    const here = mains.filter((i) => i.slot === slot);
    const slotAt = { ...at, slot };
    if (here.length === 0 && recorded !== undefined && lost.has(recorded)) {
      const since = new Date(lost.get(recorded)!).toISOString();
      drift.push({ kind: 'failing-over', ...slotAt, host: recorded, message: `slot ${slot} was on ${recorded}, down since ${since}; the failover recreates it on another host of ${environment} with its address, as soon as one has room (its events: failover, failover-waiting)` });
      continue;
    }
    if (here.length === 0) {
      // A slot on a host that did not answer is unknown, not missing: its container may well run.
      if (recorded !== undefined && silent.has(recorded)) continue;
      wanted.push({ action: 'recreate', ...slotAt, reason: 'missing', message: `slot ${slot} has no container (removed by hand?)` });
      continue;
    }
    if (here.length > 1) {
      drift.push({ kind: 'duplicate', ...slotAt, message: `slot ${slot} has a container on each of ${here.map((i) => i.host).sort().join(', ')}; remove the one that should not run` });
      continue;
    }
    const instance = here[0]!;
    const on = { ...slotAt, host: instance.host };
    if (GONE_FOR_GOOD.has(instance.state)) {
      wanted.push({ action: 'recreate', ...slotAt, reason: 'exited', message: `slot ${slot} on ${instance.host} is ${instance.state} (${instance.status}) and its engine does not restart it` });
      continue;
    }
    if (instance.state === 'paused') drift.push({ kind: 'paused', ...on, message: `slot ${slot} on ${instance.host} is paused (by hand?); unpause it with docker unpause ${instance.name}` });
    if (instance.state === 'restarting') drift.push({ kind: 'restarting', ...on, message: `slot ${slot} on ${instance.host} keeps restarting (${instance.status}); see berth logs ${slot} --env ${environment}` });
    if (instance.state === 'running' && /\(unhealthy\)/.test(instance.status)) {
      drift.push({ kind: 'unhealthy', ...on, message: `slot ${slot} on ${instance.host} runs but fails its health check; see berth logs ${slot} --env ${environment}` });
    }
    const target = pair.specHashes?.[slot];
    if (target !== undefined && instance.specHash !== target) {
      drift.push({
        kind: 'spec-changed',
        ...on,
        message: `slot ${slot} on ${instance.host} does not run release ${pair.release} as Berth made it (changed by hand?); the reconciler leaves it: berth promote or rollback replaces it`,
      });
    }
  }
  for (const instance of mains.filter((i) => ordinalOf(i.slot) > pair.replicas).sort(bySlot)) {
    drift.push({ kind: 'surplus', ...at, slot: instance.slot, host: instance.host, message: `slot ${instance.slot} is above the replica count (${pair.replicas}); the next rollout of ${what} removes it` });
  }
  for (const instance of mine.filter((i) => i.role !== 'main').sort(bySlot)) {
    drift.push({ kind: 'leftover', ...at, slot: instance.slot, host: instance.host, message: `container ${instance.name} on ${instance.host} is left over from an interrupted rollout; the next rollout of ${what} removes it` });
  }

  if (pair.frontDoor) {
    const door = observed.frontDoors.find((d) => d.service === service && d.environment === environment);
    const where = `${pair.frontDoor.address}:${pair.frontDoor.port}`;
    if (door && !door.running && door.portTaken) {
      drift.push({ kind: 'port-taken', ...at, message: `the front door of ${what} is down and another process listens on its port ${where}; stop that process, or set another lb_port` });
    } else if (door && !door.running) {
      wanted.push({ action: 'restart-front-door', ...at, address: pair.frontDoor.address, port: pair.frontDoor.port, message: `the front door of ${what} (${where}) does not run` });
    } else if (door?.problem !== undefined) {
      drift.push({ kind: 'front-door-unresponsive', ...at, message: `the front door of ${what} (${where}) runs but does not answer on its admin socket: ${door.problem}` });
    }
  }

  if (blockedBy.length === 0) return { actions: wanted, drift };
  // A rollout needs every host it touches: what it would do waits, and is reported.
  const until = `once ${blockedBy.join(', ')} answer${blockedBy.length === 1 ? 's' : ''}`;
  return { actions: [], drift: [...drift, ...wanted.map((a) => { const d = actionAsDrift(a); return { ...d, message: `${d.message} ${until}` }; })] };
}

/** An action as status shows it: drift the reconciler fixes at its next pass. */
export function actionAsDrift(action: ReconcileAction): Drift {
  const at = { service: action.service, environment: action.environment };
  if (action.action === 'restart-front-door') return { kind: 'front-door-down', ...at, message: `${action.message}; the reconciler restarts it on the same port with the running instances` };
  return { kind: action.reason, ...at, slot: action.slot, message: `${action.message}; the reconciler recreates it on its slot and address` };
}

function byPair(a: DesiredPair, b: DesiredPair): number {
  return a.environment.localeCompare(b.environment) || a.service.localeCompare(b.service);
}

function bySlot(a: SeenInstance, b: SeenInstance): number {
  return a.slot.localeCompare(b.slot, 'en', { numeric: true }) || a.name.localeCompare(b.name);
}
