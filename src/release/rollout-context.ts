/** What every step of a rollout works with: the target release's service settings and image, its environment, and the front door. */
import type { EnvironmentSpec, ServiceSpec } from '../config/model.js';
import type { RunContext } from '../deploy/context.js';
import { slotBody } from '../deploy/instance-spec.js';
import { observeService, type Observed } from '../deploy/observe.js';
import { placeSlots, type Placement } from '../deploy/slots.js';
import type { ServiceTarget } from '../deploy/target.js';
import type { Release } from '../store/releases.js';
import type { Door } from './door.js';

export type RolloutEvent =
  | { type: 'step'; index: number; total: number; text: string }
  | { type: 'instance'; slot: string; text: string }
  | { type: 'note'; text: string };

export interface RolloutContext {
  run: RunContext;
  service: ServiceSpec;
  environment: EnvironmentSpec;
  release: Release;
  target: ServiceTarget;
  door: Door;
  /** Per instance, until healthy. */
  timeoutMs: number;
  emit: (event: RolloutEvent) => void;
}

/** `hello-node-production-3` → 3. */
export function ordinalOf(slot: string): number {
  return Number(slot.slice(slot.lastIndexOf('-') + 1));
}

/** Where a slot runs: where it ran before while that host is in the environment, else the least loaded host. */
export function placementOf(ctx: RolloutContext, slot: string): Placement {
  const ordinal = ordinalOf(slot);
  const previous = new Map([...ctx.target.saved].map(([s, r]) => [s, r.host]));
  return placeSlots(ctx.service.name, ctx.environment.name, ordinal, ctx.environment.hosts, previous).at(-1)!;
}

/** The spec hash a slot's container has when it runs the target release. */
export function targetHash(ctx: RolloutContext, slot: string): string {
  return slotBody(ctx.target.input(placementOf(ctx, slot))).specHash;
}

export function observe(ctx: RolloutContext): Promise<Observed[]> {
  return observeService(ctx.run.hosts, ctx.target.hostNames, ctx.run.project.name, ctx.service.name, ctx.environment.name);
}
