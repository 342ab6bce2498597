/**
 * Rollouts that act on what runs (`berth restart`, `stop`, `rm`, `rollout abandon`): the executor
 * (executor.ts `runOperation`) journals their plan under the service's lease before the first change
 * and runs it in its one loop, and a killed one is resumed by the next command on the service
 * (recoverInterrupted). What is theirs is here: their context, their steps, how they end.
 *
 * None rolls back: there is no release to go back to. A step that fails stops the operation where
 * it is, recorded as failed with what it had done; running the command again continues.
 */
import { networkOf, ipamOf, serviceOf, environmentOf, type RunContext } from '../runtime/context.js';
import { dockerNetworkName } from '../network/docker-network.js';
import { failed } from '../errors.js';
import { slotsOf } from '../store/deployments.js';
import { isLostLease } from '../store/leases.js';
import { rolloutById, setRolloutStatus, setScale, type OperationKind, type Rollout, type RolloutStatus } from '../store/releases.js';
import { observeService } from '../runtime/observe.js';
import type { Course, Executing } from './course.js';
import type { HeldLease } from './lease.js';
import { runOperationStep, type OperationContext, type SlotOutcome } from './ops-steps.js';
import type { OperationStep, RolloutPlan, RolloutStep } from './rollout-plan.js';

export type LeasedOperation = Executing;

export interface OperationRequest {
  kind: OperationKind;
  /** The release the environment runs (0: none recorded); an operation does not change it. */
  release: number;
  actor: string;
  plan: RolloutPlan;
  /** Called once the plan is journaled, with its id. */
  onJournaled?: (rollout: number) => void;
  /** A write under the lease once the plan is journaled, before the first step (an abandon ends the rollout it abandons). */
  journaled?: (ctx: LeasedOperation) => Promise<void>;
}

export interface OperationResult {
  rollout: number;
  status: RolloutStatus;
  message: string;
}

/** Runs one step in a context; a full rollout context (an abandon's) runs every kind, the operation context only the operations' own. */
export type ApplyStep<C extends LeasedOperation> = (ctx: C, step: RolloutStep) => Promise<void>;

/** The context of an operation on a service's instances: its settings, its network, the hosts it may run on. */
export async function operationContext(run: RunContext, serviceName: string, environmentName: string, lease: HeldLease, options: Pick<OperationContext, 'emit' | 'outcome' | 'timeoutMs' | 'signal'>): Promise<LeasedOperation> {
  const service = serviceOf(run.project, serviceName);
  const environment = environmentOf(run.project, environmentName);
  const network = networkOf(run.project, environment);
  const saved = await slotsOf(run.db, service.name, environment.name);
  return {
    run,
    service,
    environment,
    target: { ipam: ipamOf(run), network, dockerName: dockerNetworkName(run.project.name, network), hostNames: new Set([...environment.hosts, ...saved.map((s) => s.host)]) },
    rollout: 0,
    lease,
    ...options,
  };
}

export async function applyOperation(ctx: LeasedOperation, step: RolloutStep): Promise<void> {
  if (!isOperationStep(step) || step.op === 'tidy') throw failed(`step ${step.op} is not one of an operation on the instances that run`);
  await runOperationStep(ctx, step);
}

const OPERATION_OPS = new Set<string>(['restart', 'stop', 'rm', 'retire', 'restore', 'tidy']);
const isOperationStep = (step: RolloutStep): step is OperationStep => OPERATION_OPS.has(step.op);

/**
 * How an operation goes through the executor's loop: its slots' outcomes are collected (and passed on to
 * the command that asked, or told as instance lines); at its end a restart that left an instance unhealthy
 * is failed and an abandon ends the rollout it abandons; a failed step is recorded where it stopped and
 * thrown, undoing nothing.
 */
export function operationCourse<C extends LeasedOperation>(context: C, apply: ApplyStep<C>): { ctx: C; course: Course<C, OperationResult> } {
  const outcomes: SlotOutcome[] = [];
  const outcome = (o: SlotOutcome) => {
    outcomes.push(o);
    if (context.outcome) context.outcome(o);
    else void context.emit({ type: 'instance', slot: o.slot, text: describeOutcome(o) });
  };
  const course: Course<C, OperationResult> = {
    apply,
    announce: false,
    cancels: false,
    async ended(ctx, record, plan) {
      try {
        const { status, message } = await ending(ctx, record, plan, outcomes);
        await ctx.lease.ensureHeld(record.id);
        await setRolloutStatus(ctx.run.db, record.id, status, ctx.lease, message);
        await ctx.lease.release();
        return { rollout: record.id, status, message };
      } catch (error) {
        if (isLostLease(error)) throw error;
        return await course.failed(ctx, record, plan, plan.steps.length, error);
      }
    },
    async failed(ctx, record, plan, at, error) {
      const reason = error instanceof Error ? error.message : String(error);
      await setRolloutStatus(ctx.run.db, record.id, 'failed', ctx.lease, `${record.kind} stopped at step ${at + 1} of ${plan.steps.length}: ${reason}`).catch(() => {});
      await ctx.lease.release().catch(() => {});
      throw error;
    },
  };
  return { ctx: { ...context, outcome }, course };
}

export function describeOutcome(o: SlotOutcome): string {
  switch (o.op) {
    case 'restart':
      return o.healthy ? 'restarted, healthy' : `restarted, not healthy: ${o.reason ?? 'not healthy'}`;
    case 'stop':
      return 'stopped';
    case 'rm':
      return o.ip ? `removed, ${o.ip} released into quarantine` : 'removed';
    case 'restore':
      return 'put the set-aside container back';
  }
}

/** How the operation is recorded: a restart that left an instance unhealthy failed; an abandon ends the rollout it abandons. */
async function ending(ctx: LeasedOperation, record: Rollout, plan: RolloutPlan, outcomes: SlotOutcome[]): Promise<{ status: RolloutStatus; message: string }> {
  if (record.kind === 'abandon' && plan.abandons !== undefined) return await endAbandoned(ctx, record, plan.abandons, outcomes);
  const unhealthy = outcomes.filter((o): o is Extract<SlotOutcome, { op: 'restart' }> => o.op === 'restart' && !o.healthy);
  if (unhealthy.length > 0) return { status: 'failed', message: unhealthy.map((o) => `${o.slot} not healthy after its restart: ${o.reason ?? 'not healthy'}`).join('; ') };
  return { status: 'succeeded', message: '' };
}

/**
 * Once an abandon is journaled, the rollout it abandons is abandoned (no two rollouts of the service running,
 * also if the abandon is killed); the abandon's end says what runs then.
 */
export async function markAbandoned(ctx: LeasedOperation, abandonedId: number): Promise<void> {
  const abandoned = (await rolloutById(ctx.run.db, abandonedId))!;
  const stopped = `stopped after step ${abandoned.done} of ${(JSON.parse(abandoned.plan) as RolloutPlan).steps.length}`;
  await setRolloutStatus(ctx.run.db, abandonedId, 'abandoned', ctx.lease, `abandoned: ${stopped}; rollout #${ctx.rollout} converges on what runs`);
}

/** The abandoned rollout ends as abandoned, saying where it stopped and what runs now. */
async function endAbandoned(ctx: LeasedOperation, record: Rollout, abandonedId: number, outcomes: SlotOutcome[]): Promise<{ status: RolloutStatus; message: string }> {
  const { db } = ctx.run;
  const abandoned = (await rolloutById(db, abandonedId))!;
  const observed = await observeService(ctx.run.hosts, ctx.target.hostNames, ctx.run.project.name, ctx.service.name, ctx.environment.name);
  const running = observed.filter((o) => o.role !== 'aside' && o.running);
  const restored = outcomes.filter((o) => o.op === 'restore').map((o) => o.slot);
  // An interrupted scale asked for more (or fewer) than runs now: what runs is the scale from here on.
  if (abandoned.kind === 'scale') await setScale(db, abandoned.service, abandoned.environment, running.length);
  const stopped = `stopped after step ${abandoned.done} of ${(JSON.parse(abandoned.plan) as RolloutPlan).steps.length}`;
  const message = `abandoned by ${record.actor}: ${stopped}; converged on what runs (${running.length} instance(s)${restored.length > 0 ? `, ${restored.join(', ')} put back` : ''})`;
  await setRolloutStatus(db, abandoned.id, 'abandoned', ctx.lease, message);
  return { status: 'succeeded', message: `ended rollout #${abandoned.id}` };
}
