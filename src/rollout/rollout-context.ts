/** What every step of a rollout works with: the target release's service settings and image, its environment, and the front door. */
import type { EnvironmentSpec, ServiceSpec } from '../config/model.js';
import type { ContainerState } from '../engine/containers.js';
import type { RunContext } from '../runtime/context.js';
import { slotBody } from '../runtime/instance-spec.js';
import { observeService, type Observed } from '../runtime/observe.js';
import { ordinalOf, type Placement } from '../runtime/slots.js';
import type { ServiceTarget } from '../runtime/target.js';
import type { ImageDistribution } from '../runtime/distribute.js';
import { fenced } from '../store/leases.js';
import type { Release } from '../store/releases.js';
import type { Door } from './door.js';
import type { HeldLease } from './lease.js';

export { ordinalOf };

export type RolloutEvent =
  | { type: 'step'; index: number; total: number; text: string }
  | { type: 'instance'; slot: string; text: string }
  | { type: 'note'; text: string };

/** The executor's instance events as data, for a caller that reports each instance its own way (`berth deploy`). */
export type InstanceEvent =
  | { type: 'launch'; slot: string; action: 'create' | 'replace' }
  | { type: 'ready'; slot: string; host: string; id: string; state: ContainerState; ms: number }
  | { type: 'failed'; slot: string; reason: string }
  | { type: 'undo'; slot: string; what: string }
  | { type: 'removed'; slot: string; reason: string };

export interface RolloutContext {
  run: RunContext;
  service: ServiceSpec;
  environment: EnvironmentSpec;
  release: Release;
  target: ServiceTarget;
  /** The release's image on each host: pulled by digest once per host per rollout. */
  images: ImageDistribution;
  door: Door;
  /** The rollout's id once it is journaled (0 before): the berth.deployment label of what it launches. */
  rollout: number;
  /** Per instance, until healthy. */
  timeoutMs: number;
  /** Slots of one step launched at once, when the command asked for a number; without it each host's engine latency sets it (steps.ts). */
  concurrency?: number;
  emit: (event: RolloutEvent) => void | Promise<void>;
  report: (event: InstanceEvent) => void;
  /**
   * Slot → the host it moves to, from the journaled step (`replace.to`): it wins over the placement, so a resumed
   * move goes where it was going (a fresh move's `to` is what the placement planned with `moves`/`leave`).
   */
  moves?: ReadonlyMap<string, string>;
  /** Aborted by `berth rollout cancel`: checked between steps. */
  signal?: AbortSignal;
  /** The lease the rollout runs under (none while only watching, e.g. a canary's gates): its token fences every write. */
  lease?: HeldLease;
  /** What the engines ran when the rollout was gathered (gather.ts): a plan is made from it; the steps leave it unset and observe the engines. */
  observed?: readonly Observed[];
}

/** A context that holds its service's lease: what runs and journals a rollout. */
export type LeasedContext = RolloutContext & { lease: HeldLease };

/** A write the rollout makes in the store, refused (a conflict) once its lease has another holder. */
export function journaled<T>(ctx: RolloutContext, write: () => Promise<T>): Promise<T> {
  return ctx.lease ? fenced(ctx.run.db, ctx.lease, ctx.rollout, () => write()) : write();
}

/** Where a slot runs: where a move takes it, else as the rollout's placement planned it (runtime/placement.ts; slots beyond the plan placed on demand). */
export function placementOf(ctx: RolloutContext, slot: string): Placement {
  const moved = ctx.moves?.get(slot);
  if (moved !== undefined) return { slot, ordinal: ordinalOf(slot), host: moved };
  return ctx.target.placer.placement(slot);
}

/** The spec hash a slot's container has when it runs the target release. */
export async function targetHash(ctx: RolloutContext, slot: string): Promise<string> {
  return slotBody(await ctx.target.input(placementOf(ctx, slot))).specHash;
}

export async function observe(ctx: RolloutContext): Promise<Observed[]> {
  if (ctx.observed) return [...ctx.observed];
  return observeService(ctx.run.hosts, ctx.target.hostNames, ctx.run.project.name, ctx.service.name, ctx.environment.name);
}
