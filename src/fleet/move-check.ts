/**
 * Before a drain or a move changes anything: the placement planner is asked
 * where every slot that must move goes, with the same requests each move
 * rollout will make (runtime/placement.ts slotRequests) against one inventory of
 * the hosts involved. A fleet that cannot take them refuses the command here,
 * naming what is short where, so it does not stop half way.
 */
import { environmentOf, type RunContext } from '../runtime/context.js';
import { gatherInventory, slotRequests, type PlacementOptions } from '../runtime/placement.js';
import type { PlacementHost, Reservation, SlotRequest } from '../placement/plan.js';
import { drainRefused, moveRefused, planMovesAcross } from '../release/move-plan.js';
import { ordinalOf } from '../rollout/rollout-context.js';
import { replicasIn, requireRelease, serviceOfRelease } from '../rollout/executor.js';
import { allSlots, slotsOf } from '../store/deployments.js';
import { currentRelease } from '../store/releases.js';

export interface Pair {
  service: string;
  environment: string;
}

/** Throws a conflict (nothing moved, the host stays draining) when the slots on `host` find no room elsewhere. */
export async function checkDrain(run: RunContext, host: string, pairs: readonly Pair[]): Promise<void> {
  const { problems } = await planAcross(run, pairs, () => ({ leave: new Set([host]) }), host);
  if (problems.length > 0) throw drainRefused(host, problems);
}

/** Throws the planner's refusal (a conflict) when `slot` cannot go to `to`: not ready, without the labels, or without room. */
export async function checkMove(run: RunContext, pair: Pair, slot: string, to: string): Promise<void> {
  const { problems } = await planAcross(run, [pair], () => ({ moves: new Map([[slot, to]]) }));
  if (problems.length > 0) throw moveRefused(problems[0]!, to);
}

async function planAcross(run: RunContext, pairs: readonly Pair[], asked: (pair: Pair) => Omit<PlacementOptions, 'replicas'>, leaving?: string) {
  const groups: { requests: SlotRequest[]; hosts: PlacementHost[] }[] = [];
  for (const pair of pairs) {
    const current = await currentRelease(run.db, pair.service, pair.environment);
    // Without a release there is nothing to move it with; its move says so.
    if (current === undefined) continue;
    const service = serviceOfRelease(await requireRelease(run, pair.service, current));
    const environment = environmentOf(run.project, pair.environment);
    const saved = new Map((await slotsOf(run.db, pair.service, pair.environment)).map((s) => [s.slot, s]));
    const { request, planned } = slotRequests(service, environment, saved, { replicas: await replicasIn(run, service, environment), ...asked(pair) });
    // Slots above the replica count on the drained host are placed on demand by the rollout: asked for here too.
    const extra = [...saved.values()].filter((s) => s.host === leaving && !planned.includes(s.slot)).map((s) => s.slot);
    const slots = [...planned, ...extra.sort((a, b) => ordinalOf(a) - ordinalOf(b))];
    const inventory = await gatherInventory(run, service, environment);
    groups.push({ requests: slots.map(request), hosts: inventory.hosts });
  }
  return planMovesAcross(mergeHosts(groups.flatMap((g) => g.hosts)), await othersOf(run, pairs), groups.map((g) => g.requests));
}

/** One entry per host seen by several environments' inventories: unreachable if any says so, capacity where one knows it. */
function mergeHosts(hosts: readonly PlacementHost[]): PlacementHost[] {
  const merged = new Map<string, PlacementHost>();
  for (const h of hosts) {
    const seen = merged.get(h.name);
    if (!seen) merged.set(h.name, h);
    else merged.set(h.name, { ...(seen.state === 'unreachable' ? seen : h), cpus: Math.max(seen.cpus, h.cpus), memoryBytes: Math.max(seen.memoryBytes, h.memoryBytes) });
  }
  return [...merged.values()];
}

/** What the slots of the services not moving hold, by their resources as berth.yaml sets them now (as a rollout reserves them). */
async function othersOf(run: RunContext, pairs: readonly Pair[]): Promise<Reservation[]> {
  const moving = new Set(pairs.map((p) => `${p.service}\u0000${p.environment}`));
  return (await allSlots(run.db))
    .filter((s) => !moving.has(`${s.service}\u0000${s.environment}`))
    .map((s) => {
      const resources = run.project.services.get(s.service)?.resources ?? {};
      return { host: s.host, service: s.service, environment: s.environment, cpus: resources.cpus ?? 0, memoryBytes: resources.memoryBytes ?? 0 };
    });
}
