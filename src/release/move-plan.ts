/**
 * Moving instances to other hosts as a rollout plan (pure): where the placement
 * planner takes each slot that must move, the refusal when it cannot, and the
 * batches that take them there through the front door.
 */
import { conflict, type BerthError } from '../errors.js';
import { planPlacement, type PlacementHost, type PlacementProblem, type Reservation, type SlotRequest } from '../placement/plan.js';
import type { RolloutStep } from '../rollout/rollout-plan.js';

export interface SlotOnHost {
  slot: string;
  ordinal: number;
  host: string;
}

export interface MoveSettings {
  batchSize: number;
  maxUnavailable: number;
}

/** Slot → its planned host, for each of `slots` the planner puts somewhere else than where it runs, in slot order. */
export function movesOff(slots: readonly SlotOnHost[], planned: (slot: string) => string): Map<string, string> {
  const moves = new Map<string, string>();
  for (const s of [...slots].sort((a, b) => a.ordinal - b.ordinal)) {
    const to = planned(s.slot);
    if (to !== s.host) moves.set(s.slot, to);
  }
  return moves;
}

export interface MovesAcross {
  /** Per group, in the groups' order: slot → the host it moves to. */
  moves: Map<string, string>[];
  problems: PlacementProblem[];
}

/**
 * Where a drain or move takes the slots of each group (one service × environment, its
 * requests as its rollout asks the planner: `leave` or `pin` on those that must move),
 * planned one group after the other as the rollouts run: each sees the groups before it
 * where they moved and the ones after it where they run. `others`: what every other slot
 * holds. A group with a problem moves nothing.
 */
export function planMovesAcross(hosts: readonly PlacementHost[], others: readonly Reservation[], groups: readonly (readonly SlotRequest[])[]): MovesAcross {
  const where = groups.map((g) => new Map(g.flatMap((r) => (r.current === undefined ? [] : [[r.slot, r.current] as const]))));
  const moves: Map<string, string>[] = [];
  const problems: PlacementProblem[] = [];
  groups.forEach((requests, k) => {
    const reserved = [...others, ...groups.flatMap((g, j) => (j === k ? [] : g.flatMap((r) => held(r, where[j]!.get(r.slot)))))];
    const plan = planPlacement({ hosts, reserved, slots: requests });
    problems.push(...plan.problems);
    const placed = new Map(plan.placements.map((p) => [p.slot, p.host]));
    const moving = plan.problems.length > 0 ? new Map<string, string>() : movedSlots(requests, placed);
    for (const [slot, host] of moving) where[k]!.set(slot, host);
    moves.push(moving);
  });
  return { moves, problems };
}

/** The slots asked to leave their host or pinned elsewhere that the plan puts on another host. */
function movedSlots(requests: readonly SlotRequest[], placed: ReadonlyMap<string, string>): Map<string, string> {
  const moves = new Map<string, string>();
  for (const r of requests) {
    const to = placed.get(r.slot);
    if (r.current !== undefined && (r.leave || r.pin !== undefined) && to !== undefined && to !== r.current) moves.set(r.slot, to);
  }
  return moves;
}

function held(r: SlotRequest, host: string | undefined): Reservation[] {
  return host === undefined ? [] : [{ host, service: r.service, environment: r.environment, cpus: r.cpus, memoryBytes: r.memoryBytes }];
}

/** A drain the fleet cannot take, refused before anything moved; the host stays draining. */
export function drainRefused(host: string, problems: readonly PlacementProblem[]): BerthError {
  const [first, ...rest] = problems;
  return conflict(`cannot drain ${host}: ${first!.message}`, {
    lines: [...rest.map((p) => p.message), `nothing moved; ${host} stays draining, so it gets no new instances`],
    fix: `make room (add hosts to the environment, free room on its hosts, or lower the services' resources) and run berth host drain ${host} again, or undo the drain: berth host undrain ${host}`,
  });
}

/** `berth move --to` onto a host the planner refuses (no room, labels missing), before anything changed. */
export function moveRefused(problem: PlacementProblem, to: string): BerthError {
  return conflict(problem.message, {
    fix: `move it to another host of ${problem.environment} (berth hosts shows each host's labels and state), or make room on ${to} (berth ps --env ${problem.environment} shows what runs where)`,
  });
}

/**
 * The steps that move `moves` (slot → new host): the front door first, then batches of
 * drain + replace-on-the-new-host, then converge on `replicas`. A moved slot keeps its
 * address, so it cannot run in two places at once: there is no surge, and a batch is
 * at most max_unavailable (at least 1) and the batch size.
 */
export function planMoves(moves: ReadonlyMap<string, string>, replicas: number, settings: MoveSettings, ordinalOf: (slot: string) => number): RolloutStep[] {
  if (moves.size === 0) return [];
  const slots = [...moves.keys()].sort((a, b) => ordinalOf(a) - ordinalOf(b));
  const batch = Math.max(1, Math.min(settings.batchSize, settings.maxUnavailable));
  const steps: RolloutStep[] = [{ op: 'front-door' }];
  for (let i = 0; i < slots.length; i += batch) {
    const slice = slots.slice(i, i + batch);
    steps.push({ op: 'drain', slots: slice }, { op: 'replace', slots: slice, to: Object.fromEntries(slice.map((s) => [s, moves.get(s)!])) });
  }
  steps.push({ op: 'converge', replicas });
  return steps;
}
