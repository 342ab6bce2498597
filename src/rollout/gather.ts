/**
 * A rollout's one read of the world, under its lease and before anything is journaled: what
 * the engines run, whether the network exists on each host, the addresses IPAM would
 * quarantine, the request's instance steps (planned from that same snapshot), where the slots
 * they launch go and whether those hosts have the image. It changes nothing; `prepare-plan.ts`
 * turns the snapshot into every step, which only the executor applies.
 */
import { hostsWithoutNetwork, staleAddresses } from '../runtime/target.js';
import type { PlannedRelease } from './prepare-step.js';
import { afterRenames, launchingSlots, plannedRenames, type RolloutSnapshot } from './prepare-plan.js';
import type { RolloutPlan } from './rollout-plan.js';
import { observe, placementOf, type RolloutContext } from './rollout-context.js';

export interface GatherInput {
  /** The request's instance plan, made from a context that answers `observe` from the snapshot. */
  plan: (ctx: RolloutContext) => Promise<RolloutPlan>;
  /** The new release the rollout records, its number reserved. */
  record?: PlannedRelease;
  door: boolean;
  /** A scale's new replica count. */
  scale?: number;
}

export async function gatherRollout(ctx: RolloutContext, input: GatherInput): Promise<RolloutSnapshot> {
  const project = ctx.run.project.name;
  const [observed, missingOn, stale] = await Promise.all([observe(ctx), hostsWithoutNetwork(ctx.target), staleAddresses(ctx.target)]);
  const view: RolloutContext = { ...ctx, observed: afterRenames(project, observed, plannedRenames(project, observed)) };
  const instances = await input.plan(view);
  const slotHosts = Object.fromEntries(launchingSlots(instances.steps).map((slot) => [slot, placementOf(view, slot).host]));
  const hosts = [...new Set(Object.values(slotHosts))];
  const imageOn = ctx.images.source.pull ? Object.fromEntries(await Promise.all(hosts.map(async (h) => [h, await ctx.images.has(h)] as const))) : undefined;
  return {
    project,
    network: { name: ctx.target.network.name, missingOn },
    observed,
    staleAddresses: stale,
    door: input.door,
    ...(input.record ? { record: input.record } : {}),
    ...(input.scale !== undefined ? { scale: input.scale } : {}),
    instances,
    slotHosts,
    ...(imageOn ? { imageOn } : {}),
  };
}
