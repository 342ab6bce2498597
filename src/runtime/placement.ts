/**
 * A rollout's placement: the inventory of the environment's hosts gathered
 * once (their engines asked in parallel, their operator states, what the
 * project's other slots reserve), then every slot's host decided by the pure
 * planner (placement/plan.ts). Slots beyond the planned ones (surge, canaries)
 * are placed on demand against the same inventory and everything planned.
 */
import type { EnvironmentSpec, HostSpec, ServiceSpec } from '../config/model.js';
import { conflict, isBerthError, type BerthError } from '../errors.js';
import { labelText, planPlacement, type PlacementHost, type PlacementProblem, type Reservation, type SlotPlacement, type SlotRequest } from '../placement/plan.js';
import { allSlots, type SlotRecord } from '../store/deployments.js';
import { hostStates } from '../store/hosts.js';
import { lostHosts, returningHosts } from './lost-hosts.js';
import type { RunContext } from './context.js';
import { ordinalOf, slotName, type Placement } from './slots.js';

export interface PlacementOptions {
  /** Slots 1..replicas are planned up front. */
  replicas: number;
  /** Slot → the host it is asked to move to (`berth move --to`). */
  moves?: ReadonlyMap<string, string>;
  /** Hosts whose slots must move off (`berth host drain`). */
  leave?: ReadonlySet<string>;
}

export interface Inventory {
  hosts: PlacementHost[];
  reserved: Reservation[];
  /** Host → its engine's API version; missing for an unreachable one. */
  apiVersions: Map<string, string>;
}

/**
 * The environment's hosts as the planner sees them. A host whose engine cannot
 * be reached is `unreachable` (nothing new goes there); when none can be, the
 * first engine's error is thrown, as a rollout did before there were fleets.
 * Capacity is asked of the engines only when something reserves CPU or memory.
 */
export async function gatherInventory(context: RunContext, service: ServiceSpec, environment: EnvironmentSpec): Promise<Inventory> {
  const { db, hosts } = context;
  const reserved = await reservationsOf(context, service, environment);
  const needsCapacity = reservesAny(service) || reserved.some((r) => r.cpus > 0 || r.memoryBytes > 0);
  const states = await hostStates(db);
  const lost = await lostHosts(context);
  const returning = await returningHosts(context);
  const asked = await Promise.all(
    environment.hosts.filter((name) => !lost.has(name)).map(async (name) => {
      const engine = hosts.engine(name);
      const [version, info] = await Promise.allSettled([engine.apiVersion(), needsCapacity ? engine.info() : Promise.resolve(undefined)]);
      return { name, version, info };
    }),
  );
  const unreachable = (r: PromiseSettledResult<unknown>): BerthError | undefined => (r.status === 'rejected' && isBerthError(r.reason) && r.reason.kind === 'unavailable' ? r.reason : undefined);
  for (const a of asked) {
    for (const r of [a.version, a.info]) if (r.status === 'rejected' && !unreachable(r)) throw r.reason;
  }
  if (asked.length > 0 && asked.every((a) => unreachable(a.version) ?? unreachable(a.info))) throw unreachable(asked[0]!.version) ?? unreachable(asked[0]!.info);
  const apiVersions = new Map<string, string>();
  const inventory: PlacementHost[] = asked.map((a) => {
    const spec = hosts.spec(a.name);
    const down = unreachable(a.version) ?? unreachable(a.info);
    if (a.version.status === 'fulfilled') apiVersions.set(a.name, a.version.value);
    const info = a.info.status === 'fulfilled' ? a.info.value : undefined;
    return {
      name: a.name,
      cpus: info?.cpus ?? 0,
      memoryBytes: info?.memoryBytes ?? 0,
      labels: hostLabels(spec),
      state: down ? 'unreachable' : states.has(a.name) || returning.has(a.name) ? 'draining' : 'ready',
      ...(down ? { reason: down.message } : {}),
    };
  });
  // Not asked: its engine does not answer, and its slots must leave it (prepareTarget's `leave`).
  for (const name of environment.hosts.filter((h) => lost.has(h))) inventory.push({ name, cpus: 0, memoryBytes: 0, labels: hostLabels(hosts.spec(name)), state: 'unreachable', reason: 'down (failed over)' });
  return { hosts: inventory, reserved, apiVersions };
}

function hostLabels(spec: HostSpec): Record<string, string> {
  return spec.labels;
}

function reservesAny(service: ServiceSpec): boolean {
  return (service.resources.cpus ?? 0) > 0 || (service.resources.memoryBytes ?? 0) > 0;
}

/** What the project's other slots hold, by their services' resources as berth.yaml sets them now. */
async function reservationsOf(context: RunContext, service: ServiceSpec, environment: EnvironmentSpec): Promise<Reservation[]> {
  const here = new Set(environment.hosts);
  return (await allSlots(context.db))
    .filter((r) => here.has(r.host) && !(r.service === service.name && r.environment === environment.name))
    .map((r) => {
      const resources = context.project.services.get(r.service)?.resources ?? {};
      return { host: r.host, service: r.service, environment: r.environment, cpus: resources.cpus ?? 0, memoryBytes: resources.memoryBytes ?? 0 };
    });
}

/** Host labels a service's hosts must carry in an environment: the service's, with the environment's override on top. */
export function placementLabels(service: ServiceSpec, environment: EnvironmentSpec): Record<string, string> {
  return { ...service.placement?.labels, ...environment.services[service.name]?.placement?.labels };
}

/**
 * What the planner is asked for the service's slots in one rollout: each slot's request (its current
 * host, pin and leave from `options`), and the slots planned up front (1..replicas, then pinned ones).
 * A drain or move checks the same requests before it starts (fleet/move-check.ts).
 */
export function slotRequests(service: ServiceSpec, environment: EnvironmentSpec, saved: ReadonlyMap<string, SlotRecord>, options: PlacementOptions): { request: (slot: string) => SlotRequest; planned: string[] } {
  const labels = placementLabels(service, environment);
  const cpus = service.resources.cpus ?? 0;
  const memoryBytes = service.resources.memoryBytes ?? 0;
  const request = (slot: string): SlotRequest => {
    const current = saved.get(slot)?.host;
    const pin = options.moves?.get(slot);
    return {
      slot,
      service: service.name,
      environment: environment.name,
      cpus,
      memoryBytes,
      hosts: environment.hosts,
      labels,
      ...(current !== undefined ? { current } : {}),
      ...(pin !== undefined ? { pin } : {}),
      ...(current !== undefined && options.leave?.has(current) ? { leave: true } : {}),
    };
  };
  const wanted = Array.from({ length: options.replicas }, (_, i) => slotName(service.name, environment.name, i + 1));
  const extra = [...(options.moves?.keys() ?? [])].filter((s) => !wanted.includes(s)).sort((a, b) => ordinalOf(a) - ordinalOf(b));
  return { request, planned: [...wanted, ...extra] };
}

/** Every slot's host for one rollout: planned at once for the known slots, on demand (and then kept) for others. */
export class SlotPlacer {
  readonly #planned = new Map<string, SlotPlacement>();
  readonly #inventory: Inventory;
  readonly #request: (slot: string) => SlotRequest;

  constructor(inventory: Inventory, service: ServiceSpec, environment: EnvironmentSpec, saved: ReadonlyMap<string, SlotRecord>, options: PlacementOptions) {
    this.#inventory = inventory;
    const { request, planned } = slotRequests(service, environment, saved, options);
    this.#request = request;
    this.#place(planned);
  }

  /** Where the slot runs; throws a conflict naming what is short when no host can take it. */
  placement(slot: string): Placement {
    if (!this.#planned.has(slot)) this.#place([slot]);
    const p = this.#planned.get(slot)!;
    return { slot, ordinal: ordinalOf(slot), host: p.host };
  }

  /** Why each planned slot is where it is. */
  get decisions(): SlotPlacement[] {
    return [...this.#planned.values()];
  }

  #place(slots: string[]): void {
    const reserved = [...this.#inventory.reserved, ...[...this.#planned.values()].map((p) => this.#held(p))];
    const plan = planPlacement({ hosts: this.#inventory.hosts, reserved, slots: slots.map(this.#request) });
    if (plan.problems.length > 0) throw exhausted(plan.problems, this.#request(slots[0]!));
    for (const p of plan.placements) this.#planned.set(p.slot, p);
  }

  #held(p: SlotPlacement): Reservation {
    const r = this.#request(p.slot);
    return { host: p.host, service: r.service, environment: r.environment, cpus: r.cpus, memoryBytes: r.memoryBytes };
  }
}

/** An exhausted fleet, before anything changed: each problem a line, with what the user can do. */
function exhausted(problems: readonly PlacementProblem[], r: SlotRequest): BerthError {
  const [first, ...rest] = problems;
  const constrained = Object.keys(r.labels).length > 0 ? `, relax services.${r.service}.placement.labels (${labelText(r.labels)})` : '';
  return conflict(first!.message, {
    lines: rest.map((p) => p.message),
    fix: `add hosts to environments.${r.environment}.hosts, free room on them (berth ps shows what runs where), lower services.${r.service}.resources${constrained}, or ask for fewer instances`,
  });
}
