/**
 * Where the instances of lost hosts go (pure): each slot recorded on a lost host is placed by
 * the placement planner (capacity, spread, labels; a lost, draining or returning host gets
 * nothing) on another host of its environment, keeping its slot (and so its IP and MAC on a
 * flat network). Unlike a drain, a fleet without room for all of them moves those that fit:
 * the others wait, with the shortage in words, and are placed by a later pass once there is
 * room. Groups are planned one after the other, each seeing where the ones before it went.
 */
import { planPlacement, type PlacementHost, type Reservation, type SlotRequest } from '../placement/plan.js';

export interface FailoverGroup {
  service: string;
  environment: string;
  /** Every slot of the service × environment as its rollout asks the planner, those on lost hosts with `leave`. */
  requests: SlotRequest[];
}

export interface FailoverInput {
  /** Every host the groups' environments name, lost ones `unreachable`. */
  hosts: readonly PlacementHost[];
  /** What the slots of other services hold. */
  reserved: readonly Reservation[];
  groups: readonly FailoverGroup[];
  lost: ReadonlySet<string>;
}

export interface WaitingSlot {
  slot: string;
  /** The lost host it was on. */
  host: string;
}

export interface PairFailover {
  service: string;
  environment: string;
  /** Slot → the host it is recreated on, in slot order. */
  moves: Map<string, string>;
  /** Slots of lost hosts that found no room. */
  waiting: WaitingSlot[];
  /** What is short, where (the planner's words); set when some wait. */
  shortage?: string;
}

export function planFailover(input: FailoverInput): PairFailover[] {
  const where = input.groups.map((g) => new Map(g.requests.flatMap((r) => (r.current === undefined ? [] : [[r.slot, r.current] as const]))));
  const plans: PairFailover[] = [];
  input.groups.forEach((group, k) => {
    const stranded = group.requests.filter((r) => r.current !== undefined && input.lost.has(r.current));
    if (stranded.length === 0) return;
    const reserved = [...input.reserved, ...input.groups.flatMap((g, j) => (j === k ? [] : g.requests.flatMap((r) => held(r, where[j]!.get(r.slot)))))];
    const plan = planPlacement({ hosts: input.hosts, reserved, slots: group.requests.map((r) => (input.lost.has(r.current ?? '') ? { ...r, leave: true } : r)) });
    const placed = new Map(plan.placements.map((p) => [p.slot, p.host]));
    const moves = new Map<string, string>();
    const waiting: WaitingSlot[] = [];
    for (const r of stranded) {
      const to = placed.get(r.slot);
      if (to !== undefined && !input.lost.has(to)) {
        moves.set(r.slot, to);
        where[k]!.set(r.slot, to);
      } else waiting.push({ slot: r.slot, host: r.current! });
    }
    const shortage = plan.problems.map((p) => p.message).join('; ');
    plans.push({ service: group.service, environment: group.environment, moves, waiting, ...(waiting.length > 0 && shortage ? { shortage } : {}) });
  });
  return plans;
}

function held(r: SlotRequest, host: string | undefined): Reservation[] {
  return host === undefined ? [] : [{ host, service: r.service, environment: r.environment, cpus: r.cpus, memoryBytes: r.memoryBytes }];
}
