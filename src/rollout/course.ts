/**
 * What the executor's one loop (executor.ts `execute`) needs to know of a rollout's kind: how it applies a
 * step, whether each step is a progress line, and how it ends — after its last step, or when a step failed
 * (a release rolls back, a move stops where it is, an operation is recorded as stopped). The loop itself
 * journals, checkpoints, checks the lease and resumes the same way for every kind.
 */
import type { Rollout } from '../store/releases.js';
import type { HeldLease } from './lease.js';
import type { OperationContext } from './ops-steps.js';
import type { RolloutPlan, RolloutStep } from './rollout-plan.js';

/** The least a plan runs with: a service's settings, network and hosts, and its lease. A full rollout context is one too. */
export type Executing = OperationContext & { lease: HeldLease };

export interface Course<C extends Executing, R> {
  apply(ctx: C, step: RolloutStep): Promise<void>;
  /** Each step a progress line; an operation tells each instance's outcome instead. */
  announce: boolean;
  /** A cancel (`berth rollout cancel`) stops a forward plan between steps; an operation's cancel reaches only its health gates. */
  cancels: boolean;
  /** After the last step, the lease still held: records how the rollout ended and lets the lease go (an open canary keeps it). */
  ended(ctx: C, record: Rollout, plan: RolloutPlan): Promise<R>;
  /** Step `at` (0-based) failed and the lease is still held: records it, undoes what the kind undoes, then answers or throws. */
  failed(ctx: C, record: Rollout, plan: RolloutPlan, at: number, error: unknown): Promise<R>;
}
