/**
 * Runs a rollout plan step by step, journaling each step in the store as it
 * completes. A failed forward rollout rolls back to the previous release; a
 * rollout whose process was killed is resumed by the next command on that
 * service and environment. It runs under the service's lease (lease.ts): a
 * write refused because the lease went to another process stops it where it
 * is, undoing nothing (the new holder owns the rollout now).
 */
import { inTransaction } from '../store/db.js';
import { userInfo } from 'node:os';
import { canonicalJson } from '../imaging/plan.js';
import type { EnvironmentSpec, ServiceSpec } from '../config/model.js';
import { environmentOf, type RunContext } from '../runtime/context.js';
import { LaunchError, failure } from './launch.js';
import { prepareTarget } from '../runtime/target.js';
import { distributionFor, requireDistributable } from '../runtime/distribute.js';
import { BerthError, conflict, isBerthError, failed, notFound, rolledBack } from '../errors.js';
import { allRefs, protectDigest, releaseDigest } from '../store/refs.js';
import {
  currentRelease,
  frontDoorPort,
  markDone,
  nextReleaseNumber,
  releaseOf,
  replacePlan,
  rolloutById,
  rolloutsOf,
  scaleOf,
  setRolloutStatus,
  startRollout,
  type Release,
  type Rollout,
  isOperation,
  type RolloutKind,
  type RolloutStatus,
} from '../store/releases.js';
import { applyOperation, operationContext, operationCourse, type ApplyStep, type LeasedOperation, type OperationRequest, type OperationResult } from './operation.js';
import type { Course, Executing } from './course.js';
import { isLostLease, leaseOf } from '../store/leases.js';
import { NO_DOOR, type Door } from './door.js';
import { requireHosts } from './preflight.js';
import { frontDoorFor } from './front-door.js';
import { checkpoint } from '../fault.js';
import { acquire, describeHolder, leaseSettingsFor, type HeldLease, type LeaseSettings, type RepairWait } from './lease.js';
import { planRolling, type RolloutPlan, type SlotState } from './rollout-plan.js';
import { observe, ordinalOf, targetHash, type InstanceEvent, type LeasedContext, type RolloutContext, type RolloutEvent } from './rollout-context.js';
import { runStep } from './steps.js';
import { gatherRollout } from './gather.js';
import { planRollout } from './prepare-plan.js';
import { PREPARE_OPS, type PlannedRelease } from './prepare-step.js';

export interface RolloutOptions {
  timeoutMs?: number;
  /** Slots of one step launched at once; by default as many on each host as its engine keeps up with (latency-limit.ts). */
  concurrency?: number;
  /** Progress. A sink that returns a promise holds the rollout at a step boundary until it settles (a test acts between two steps). */
  emit?: (event: RolloutEvent) => void | Promise<void>;
  report?: (event: InstanceEvent) => void;
  /** Slot → host it is asked to move to (`berth move --to`). */
  moves?: ReadonlyMap<string, string>;
  /** Hosts whose slots must move off (`berth host drain`). */
  leave?: ReadonlySet<string>;
  /** Called once the rollout is journaled (or resumed), with its id: the server answers the request then. */
  onJournaled?: (rollout: number) => void;
  /** Aborted: a forward rollout stops before its next step and rolls back (`berth rollout cancel`). */
  signal?: AbortSignal;
  /**
   * false: a held lock is a conflict, even one whose holder is gone or is this very process (the
   * reconciler, which never resumes or joins another rollout; a server runs several in one process).
   */
  resume?: false;
  /** The service's front door: Berth's HAProxy one (front-door.ts) unless a test gives its own (testing/fake-door.ts). */
  door?: Door;
  /** The lease's TTL, clock and holder: from the environment, the wall clock and this process unless a test plays another process. */
  lease?: LeaseSettings;
}

export interface RolloutResult {
  rollout: number;
  service: string;
  environment: string;
  release: number;
  status: Rollout['status'];
  message: string;
  frontDoor: { address: string; port: number };
}

const DEFAULT_TIMEOUT_MS = 120_000;

/** The service's settings as the release recorded them. */
export function serviceOfRelease(release: Release): ServiceSpec {
  return JSON.parse(release.config) as ServiceSpec;
}

export function configOf(service: ServiceSpec): string {
  return canonicalJson(service);
}

export async function replicasIn(run: RunContext, service: ServiceSpec, environment: EnvironmentSpec): Promise<number> {
  return await scaleOf(run.db, service.name, environment.name) ?? environment.services[service.name]?.replicas ?? service.replicas;
}

/** The context of a rollout to `release`; a deploy (`withDoor: false`) runs its instances without a front door. `replicas`: a scale's new count, placed as one. */
export async function contextFor(run: RunContext, release: Release, environment: EnvironmentSpec, options: RolloutOptions, withDoor = true, replicas?: number): Promise<RolloutContext> {
  const service = serviceOfRelease(release);
  const emit = options.emit ?? (() => {});
  const images = await distributionFor(run, release, (p) => emit({ type: 'note', text: `${p.host}: pulled ${images.source.ref} (${p.downloaded} layer(s) downloaded)` }));
  const placement = { replicas: replicas ?? (await replicasIn(run, service, environment)), ...(options.moves ? { moves: options.moves } : {}), ...(options.leave ? { leave: options.leave } : {}) };
  const target = await prepareTarget(run, service, environment, { id: release.imageId, digest: release.digest, ref: images.source.ref }, placement);
  const door = withDoor ? (options.door ?? (await frontDoorFor(run, service, environment))) : NO_DOOR;
  return {
    run,
    service,
    environment,
    release,
    target,
    images,
    door,
    rollout: 0,
    timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    ...(options.concurrency !== undefined ? { concurrency: options.concurrency } : {}),
    emit,
    report: options.report ?? (() => {}),
    ...(options.signal ? { signal: options.signal } : {}),
  };
}

/** Before any engine is asked or anything changes: the release's image can reach every host of the environment. */
async function requireImageReach(run: RunContext, release: Release, environment: EnvironmentSpec): Promise<void> {
  requireDistributable(run, release, await distributionFor(run, release), environment.hosts);
}

/** Each main slot of the service, and whether it already runs the context's release. */
export async function slotStates(ctx: RolloutContext): Promise<SlotState[]> {
  const main = (await observe(ctx)).filter((o) => o.role === 'main');
  return Promise.all(main.map(async (o) => ({ slot: o.slot, ordinal: ordinalOf(o.slot), current: o.running && o.specHash === (await targetHash(ctx, o.slot)) })));
}

export interface RolloutRequest {
  kind: RolloutKind;
  /**
   * The release to roll out. With `recordNew`, a release not recorded yet (its number is not used): the plan reserves
   * the next number for it and its `record-release` step records it, after the front door came up and before any pull.
   */
  release: Release;
  recordNew?: boolean;
  /** A scale: the replica count its `scale` step records (the last before any instance changes); its plan is made for that count. */
  replicas?: number;
  /** The release the environment ran before; a failure rolls back to it. */
  previous: number | null;
  forced: boolean;
  /** Builds the plan once the lock is held and any interrupted rollout is finished. */
  plan: (ctx: RolloutContext) => Promise<RolloutPlan>;
  /** A canary ends open: the lock stays with it until it is promoted or aborted. */
  endsOpen?: boolean;
}

/**
 * Whether a rollout goes through the service's front door: a deploy never does; a release,
 * promote or canary always does; a scale, move or rollback (also `berth restart` recreating a
 * missing instance) does where the service has a front door there, so a service run by
 * `berth deploy` stays without one.
 */
export async function usesFrontDoor(run: RunContext, kind: RolloutKind, service: string, environment: string): Promise<boolean> {
  if (kind === 'deploy') return false;
  // The reconciler brings back what there was: a front door only where one was recorded.
  if (kind === 'reconcile') return await frontDoorPort(run.db, service, environment) !== undefined;
  if (kind === 'scale' || kind === 'rollback' || kind === 'move' || kind === 'failover') return await frontDoorPort(run.db, service, environment) !== undefined || !await lastRanByDeploy(run, service, environment);
  return true;
}

async function lastRanByDeploy(run: RunContext, service: string, environment: string): Promise<boolean> {
  // A reconcile repeats what ran before it, so the rollout before it decides.
  return (await rolloutsOf(run.db, service, environment)).find((r) => r.status === 'succeeded' && r.kind !== 'reconcile' && !isOperation(r.kind))?.kind === 'deploy';
}

/** Takes the service's lease (finishing an interrupted rollout first), then runs the request's plan. */
export async function rollout(run: RunContext, environmentName: string, request: RolloutRequest, options: RolloutOptions = {}): Promise<RolloutResult> {
  const environment = environmentOf(run.project, environmentName);
  const service = request.release.service;
  await requireHosts(run, service, environment, `the ${request.kind} of ${service} to ${environment.name}`);
  // An interrupted rollout resumes as journaled (a move to its `replace.to`), not as this command plans.
  const { moves: _moves, leave: _leave, ...resume } = options;
  await recoverInterrupted(run, service, environment.name, resume);
  if (options.resume === false) await requireUnlocked(run, service, environment.name);
  const { lease, interrupted } = await acquire(run.db, service, environment.name, 0, options.lease ?? leaseSettingsFor(run), repairWait(options));
  if (interrupted) {
    lease.stop();
    throw failed(`rollout #${interrupted.id} of ${service} in ${environment.name} was interrupted again; run the command again`);
  }
  let ctx: LeasedContext;
  let plan: RolloutPlan;
  let record: PlannedRelease | undefined;
  try {
    // Read once, plan purely: nothing is written (store, engines, front door) before the plan is journaled.
    const door = await usesFrontDoor(run, request.kind, service, environment.name);
    await requireImageReach(run, request.release, environment);
    const release = request.recordNew ? { ...request.release, number: await nextReleaseNumber(run.db, service) } : request.release;
    record = request.recordNew ? plannedRelease(release) : undefined;
    ctx = { ...(await contextFor(run, release, environment, options, door, request.replicas)), lease };
    plan = planRollout(await gatherRollout(ctx, { plan: request.plan, door, ...(record ? { record } : {}), ...(request.replicas !== undefined ? { scale: request.replicas } : {}) }));
  } catch (error) {
    await lease.release();
    throw error;
  }
  if (plan.steps.length === 0) {
    // Nothing to change (a deploy whose every slot is up to date): nothing is journaled, and a new release is not recorded.
    await lease.release();
    const last = (await rolloutsOf(run.db, service, environment.name)).find((r) => r.status === 'succeeded' && !isOperation(r.kind));
    const done = result(ctx, last?.id ?? 0, 'succeeded', 'nothing to do: every instance is up to date');
    return record && last ? { ...done, release: last.release } : done;
  }
  let id: number;
  try {
    id = await startRollout(
      run.db,
      { service, environment: environment.name, release: ctx.release.number, previous: request.previous, kind: request.kind, forced: request.forced, actor: actor(run.env), plan: JSON.stringify(plan) },
      lease,
      Date.now(),
      record !== undefined,
    );
  } catch (error) {
    // Nothing journaled: the lease goes (one another process took over stays its).
    await lease.release();
    throw error;
  }
  options.onJournaled?.(id);
  return execute(ctx, id, plan, 0, rolloutCourse(request.endsOpen ?? false));
}

/** How an open rollout goes on: under the lease its caller holds (naming it), from a step, and how it is recorded at its end. */
export interface Continuation {
  lease: HeldLease;
  /** Steps of the plan already done. */
  from?: number;
  /** The status it ends with instead of the plan's (a canary abort: `aborted`). */
  ending?: { status: RolloutStatus; message: string };
}

/** Continues an open rollout's journal from where it stopped (used by canary promote/abort and recovery). */
export async function continueRollout(run: RunContext, rolloutId: number, plan: RolloutPlan, options: RolloutOptions, continuation: Continuation): Promise<RolloutResult> {
  const { lease } = continuation;
  let ctx: LeasedContext;
  let record: Rollout;
  try {
    record = (await rolloutById(run.db, rolloutId))!;
    const environment = environmentOf(run.project, record.environment);
    await requireHosts(run, record.service, environment, `rollout #${rolloutId} (${record.kind} of ${record.service} to ${record.environment})`);
    const target = await targetOf(run, record.service, plan);
    await requireImageReach(run, target, environment);
    // The plan prepares what it needs in its own steps (networks, addresses, the release row, pulls): a resume runs those left.
    ctx = { ...(await contextFor(run, target, environment, options, await usesFrontDoor(run, record.kind, record.service, record.environment))), lease };
    options.onJournaled?.(rolloutId);
  } catch (error) {
    // The rollout stays open under the lease, for the next command to resume.
    lease.stop();
    throw error;
  }
  // A canary's plan ends open (waiting for promote or abort), also when it is resumed after a crash.
  return execute(ctx, rolloutId, plan, continuation.from ?? 0, rolloutCourse(plan.phase === 'forward' && plan.steps.some((s) => s.op === 'canary'), continuation.ending));
}

/** If a killed berth left a rollout of this service running, finish it first, and say what happens and why. */
export async function recoverInterrupted(run: RunContext, service: string, environment: string, options: RolloutOptions, what = `a rollout of ${service} to ${environment}`): Promise<RolloutResult | undefined> {
  // Every operation that rolls out starts here: a host it needs that does not answer stops it before anything changes.
  await requireHosts(run, service, environmentOf(run.project, environment), what);
  // A lease taken by another rollout between the check and the take is refused by the take (its holder is alive).
  if (options.resume === false) await requireUnlocked(run, service, environment);
  const { lease, interrupted } = await acquire(run.db, service, environment, 0, options.lease ?? leaseSettingsFor(run), repairWait(options));
  if (!interrupted) {
    await lease.release();
    return undefined;
  }
  const plan = JSON.parse(interrupted.plan) as RolloutPlan;
  const emit = options.emit ?? (() => {});
  if (isOperation(interrupted.kind)) return await resumeOperation(run, interrupted, plan, lease, options);
  emit({
    type: 'note',
    text:
      `rollout #${interrupted.id} (${interrupted.kind}, release ${interrupted.release}) was interrupted after step ${interrupted.done} of ${plan.steps.length}: the berth process running it is gone. ` +
      (plan.phase === 'rollback'
        ? `It was rolling back to release ${plan.target} (${plan.reason ?? 'a failure'}); the rollback resumes.`
        : 'Every step is safe to repeat, and an instance found running counts only once it passes its health check again, so it resumes forward; a failure from here rolls back.'),
  });
  return continueRollout(run, interrupted.id, plan, options, { lease, from: interrupted.done });
}

/** An interrupted restart, stop, rm or abandon goes on from its journal: its steps are safe to repeat, and none rolls back. */
async function resumeOperation(run: RunContext, record: Rollout, plan: RolloutPlan, lease: HeldLease, options: RolloutOptions): Promise<RolloutResult> {
  const emit = options.emit ?? (() => {});
  emit({ type: 'note', text: `rollout #${record.id} (${record.kind}) was interrupted after step ${record.done} of ${plan.steps.length}: the berth process running it is gone. Its steps are safe to repeat; it goes on.` });
  const settings = { emit, timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS };
  let ended: OperationResult;
  if (record.kind === 'abandon') {
    // An abandon converges on what runs through the front door of the rollout it abandons.
    let ctx: LeasedContext;
    try {
      const abandoned = await rolloutById(run.db, plan.abandons ?? 0);
      const door = await usesFrontDoor(run, abandoned?.kind ?? 'release', record.service, record.environment);
      ctx = { ...(await contextFor(run, await requireRelease(run, record.service, plan.target), environmentOf(run.project, record.environment), options, door)), lease };
    } catch (error) {
      lease.stop();
      throw error;
    }
    options.onJournaled?.(record.id);
    const { ctx: counted, course } = operationCourse(ctx, runStep);
    ended = await execute(counted, record.id, plan, record.done, course);
  } else {
    let ctx: LeasedOperation;
    try {
      ctx = await operationContext(run, record.service, record.environment, lease, settings);
    } catch (error) {
      // The operation stays open under the lease, for the next command to resume.
      lease.stop();
      throw error;
    }
    options.onJournaled?.(record.id);
    const { ctx: counted, course } = operationCourse(ctx, applyOperation);
    ended = await execute(counted, record.id, plan, record.done, course);
  }
  return { rollout: record.id, service: record.service, environment: record.environment, release: record.release, status: ended.status, message: ended.message, frontDoor: { address: '', port: 0 } };
}

/**
 * The one loop every rollout runs in, whatever its kind: from step `from`, each step under the lease (a
 * renewal that found it taken stops it before the next change), journaled once done, a checkpoint before
 * each; then the kind's course records how it ended. The lease is released at the end, left as it is for an
 * open canary, a lost lease (the new holder's now) or an unexpected failure (the next command resumes it).
 */
async function execute<C extends Executing, R>(context: C, id: number, plan: RolloutPlan, from: number, course: Course<C, R>): Promise<R> {
  // A cancel stops only a forward plan: a rollback runs to its end.
  const { signal, ...rest } = context;
  const ctx = { ...rest, rollout: id, ...(signal && plan.phase === 'forward' ? { signal } : {}) } as C;
  const record = (await rolloutById(ctx.run.db, id))!;
  const at = { step: from };
  try {
    try {
      await runSteps(ctx, id, plan, from, at, course);
    } catch (error) {
      if (isLostLease(error)) throw error;
      return await course.failed(ctx, record, plan, at.step, error);
    }
    return await course.ended(ctx, record, plan);
  } finally {
    ctx.lease.stop();
  }
}

/** `at.step`: the index of the step it is at, for the caller to know where a failure happened. */
async function runSteps<C extends Executing>(ctx: C, id: number, plan: RolloutPlan, from: number, at: { step: number }, course: Course<C, unknown>): Promise<void> {
  for (let index = from; index < plan.steps.length; index++) {
    at.step = index;
    const step = plan.steps[index]!;
    // A cancel stops a forward rollout between steps (it then rolls back); a rollback always runs to its end.
    if (course.cancels && plan.phase === 'forward' && ctx.signal?.aborted) throw ctx.signal.reason instanceof Error ? ctx.signal.reason : failed('cancelled');
    // A renewal that found the lease taken stops the rollout before it changes another instance.
    await ctx.lease.ensureHeld(id);
    if (course.announce) await ctx.emit({ type: 'step', index: index + 1, total: plan.steps.length, text: describeStep(step) });
    await checkpoint('step');
    await course.apply(ctx, step);
    await markDone(ctx.run.db, id, index + 1, ctx.lease);
  }
}

/**
 * A release's, promote's, scale's, move's… course: an open canary keeps the lease; a forward plan that
 * succeeded protects the digests it ran; a failure rolls back (or stops a move where it is).
 */
function rolloutCourse(endsOpen: boolean, ending?: Continuation['ending']): Course<LeasedContext, RolloutResult> {
  return {
    apply: runStep,
    announce: true,
    cancels: true,
    async ended(ctx, record, plan) {
      const { db } = ctx.run;
      const { lease } = ctx;
      if (endsOpen) {
        await setRolloutStatus(db, record.id, 'canary', lease);
        return result(ctx, record.id, 'canary', 'canary running; promote or abort it');
      }
      const status = ending?.status ?? (plan.phase === 'forward' ? 'succeeded' : record.previous === null ? 'failed' : 'rolled-back');
      const message = ending?.message ?? (plan.phase === 'rollback' ? `rolled back to release ${plan.target}: ${plan.reason ?? ''}` : '');
      await lease.ensureHeld(record.id);
      if (plan.phase === 'forward') await recordProtected(ctx, record);
      await setRolloutStatus(db, record.id, status, lease, message);
      await lease.release();
      return result(ctx, record.id, status, message);
    },
    async failed(ctx, record, plan, at, error) {
      if (plan.phase === 'forward' && beforeAnyInstance(plan, at)) return await stopPrepared(ctx, record, error);
      if (plan.phase === 'rollback') {
        await setRolloutStatus(ctx.run.db, record.id, 'failed', ctx.lease, `rollback to release ${plan.target} failed: ${(error as Error).message}`);
        await ctx.lease.release();
        throw rollbackFailed(record, plan, error);
      }
      if (record.kind === 'move' || record.kind === 'reconcile' || record.kind === 'failover') return await stopMove(ctx, record, error);
      return await rollBack(ctx, record, plan, error);
    },
  };
}

/** Journals an operation's plan (restart, stop, rm, abandon) under the context's lease, then runs it. Nothing to do: nothing journaled, the lease let go. */
export async function runOperation<C extends LeasedOperation>(ctx: C, request: OperationRequest, apply: ApplyStep<C>): Promise<OperationResult> {
  const { lease } = ctx;
  if (request.plan.steps.length === 0) {
    await lease.release();
    return { rollout: 0, status: 'succeeded', message: 'nothing to do' };
  }
  let id: number;
  try {
    id = await startRollout(ctx.run.db, { service: ctx.service.name, environment: ctx.environment.name, release: request.release, previous: request.release || null, kind: request.kind, forced: false, actor: request.actor, plan: JSON.stringify(request.plan) }, lease);
  } catch (error) {
    await lease.release();
    throw error;
  }
  request.onJournaled?.(id);
  if (request.journaled) {
    try {
      await request.journaled({ ...ctx, rollout: id });
    } catch (error) {
      // Nothing changed yet: the operation ends failed, and the lease goes (one another process took over stays its).
      await setRolloutStatus(ctx.run.db, id, 'failed', ctx.lease, (error as Error).message).catch(() => {});
      await ctx.lease.release().catch(() => {});
      throw error;
    }
  }
  const { ctx: counted, course } = operationCourse(ctx, apply);
  return execute(counted, id, request.plan, 0, course);
}

/** The rollback itself failed: a Berth error (never a bare launch error, which would read as a bug), saying what runs is unknown. */
function rollbackFailed(record: Rollout, plan: RolloutPlan, error: unknown): BerthError {
  const detail = error instanceof LaunchError ? failure(`rollback of ${record.service} in ${record.environment} to release ${plan.target}`, error) : isBerthError(error) ? error : failed(String(error));
  return failed(`${record.kind} of ${record.service} release ${record.release} to ${record.environment} failed, and so did its rollback to release ${plan.target}`, {
    lines: [detail.message, ...detail.lines],
    fix: `see what runs with: berth ps --env ${record.environment} --service ${record.service}; then roll out a release that works (berth rollback ${record.service} --env ${record.environment} --to N)`,
  });
}

/** Whether the steps up to `index` only prepared the rollout (networks, names, addresses, front door, release row, pulls): no instance changed. */
function beforeAnyInstance(plan: RolloutPlan, index: number): boolean {
  return plan.steps.slice(0, index + 1).every((s) => s.op === 'front-door' || PREPARE_OPS.has(s.op));
}

/**
 * A rollout that failed before it changed any instance (a front door's port taken, a pull or a network refused) ends
 * `failed` with nothing to roll back, and its caller gets the error as it was (what a command said before those steps
 * were journaled). What its steps did stays: a release it recorded is kept, as a front door it started.
 */
async function stopPrepared(ctx: LeasedContext, record: Rollout, error: unknown): Promise<never> {
  await ctx.lease.ensureHeld(record.id);
  const reason = error instanceof Error ? error.message : String(error);
  await setRolloutStatus(ctx.run.db, record.id, 'failed', ctx.lease, `failed before changing any instance: ${reason}`);
  await ctx.lease.release();
  throw error;
}

/**
 * A move that failed is not rolled back: the instance whose launch failed was put back where it
 * ran (replace restores it), the ones already moved stay moved, and running the move again continues.
 * A reconcile neither: it only recreated slots of the release that runs, so there is nothing to go back to.
 */
async function stopMove(ctx: LeasedContext, record: Rollout, error: unknown): Promise<never> {
  const { db } = ctx.run;
  const reason = error instanceof LaunchError ? `instance ${error.slot}: ${error.reason}` : (error as Error).message;
  await ctx.lease.ensureHeld(record.id);
  // Slots drained before the failure serve again.
  await runStep(ctx, { op: 'front-door' }).catch(() => {});
  await setRolloutStatus(db, record.id, 'failed', ctx.lease, `${record.kind} stopped: ${reason}`);
  await ctx.lease.release();
  const what = `${record.kind} of ${record.service} in ${record.environment}`;
  if (error instanceof LaunchError) throw failure(what, error);
  throw isBerthError(error) ? error : failed(`${what} failed: ${reason}`);
}

/** A failed forward rollout goes back to the release the environment ran before (or removes what it started, if none). */
async function rollBack(ctx: LeasedContext, record: Rollout, forward: RolloutPlan, error: unknown): Promise<never> {
  const { db } = ctx.run;
  await ctx.lease.ensureHeld(record.id);
  const reason = error instanceof LaunchError ? `instance ${error.slot}: ${error.reason}` : (error as Error).message;
  const what = record.kind === 'deploy' ? `deploy of ${record.service} to ${record.environment}` : `${record.kind} of ${record.service} release ${record.release} to ${record.environment}`;
  const cause = error instanceof LaunchError ? failure(what, error) : error;
  const previous = record.previous === null ? undefined : await releaseOf(db, record.service, record.previous);
  ctx.emit({ type: 'note', text: previous ? `rolling back to release ${previous.number}: ${reason}` : `removing what the rollout started: ${reason}` });
  let plan: RolloutPlan;
  let back = ctx;
  if (previous) {
    back = { ...(await contextFor(ctx.run, previous, ctx.environment, { timeoutMs: ctx.timeoutMs, emit: ctx.emit, report: ctx.report, ...(ctx.concurrency !== undefined ? { concurrency: ctx.concurrency } : {}) }, false)), door: ctx.door, lease: ctx.lease };
    // A scale goes back to the count it started from, kept in its journaled plan (so also after a crash): its rollback's first step records it.
    const replicas = forward.replicasBefore ?? await replicasIn(ctx.run, serviceOfRelease(previous), ctx.environment);
    const steps = planRolling(record.service, record.environment, replicas, await slotStates(back), { batchSize: replicas, maxUnavailable: replicas, maxSurge: 0 });
    plan = { target: previous.number, phase: 'rollback', reason, steps: forward.replicasBefore !== undefined ? [{ op: 'scale', replicas: forward.replicasBefore }, ...steps] : steps };
  } else {
    plan = { target: record.release, phase: 'rollback', reason, steps: [{ op: 'converge', replicas: 0 }] };
  }
  await replacePlan(db, record.id, JSON.stringify(plan), ctx.lease);
  await execute(back, record.id, plan, 0, rolloutCourse(false));
  // A front door that never served a release (a first release failed) goes with the instances, so nothing claims the service.
  if (!previous && await currentRelease(db, record.service, record.environment) === undefined) await ctx.door.close();
  const detail = isBerthError(cause) ? cause : failed(cause instanceof Error ? cause.message : String(cause));
  // A deploy's error keeps its category (an exhausted pool stays "unavailable") and reads as before the executors were one;
  // an instance that was not healthy and was rolled back is "rolled-back", like any rollout.
  if (record.kind === 'deploy') {
    const kind = previous && detail.kind === 'failed' ? 'rolled-back' : detail.kind;
    throw new BerthError(kind, detail.message, {
      lines: [...detail.lines, previous ? `rolled back to release ${previous.number}` : 'the instances it started were removed'],
      ...(detail.fix ? { fix: detail.fix } : {}),
    });
  }
  throw (previous ? rolledBack : failed)(
    previous
      ? `${record.kind} of ${record.service} release ${record.release} to ${record.environment} failed and was rolled back to release ${previous.number}`
      : `${record.kind} of ${record.service} release ${record.release} to ${record.environment} failed; its instances were removed`,
    { lines: [detail.message, ...detail.lines], fix: detail.fix ?? `see what happened with: berth history ${record.service} --env ${record.environment}, and berth logs ${record.service} --env ${record.environment}` },
  );
}

/** The digest the environment runs, and the releases it ran before (the last N) for rollback, are protected from registry GC. */
async function recordProtected(ctx: RolloutContext, record: Rollout): Promise<void> {
  const { db } = ctx.run;
  const keep = ctx.run.project.retention.keepReleases;
  const ran = [...new Set((await rolloutsOf(db, record.service, record.environment)).filter((r) => r.status === 'succeeded' || r.id === record.id).map((r) => r.release))];
  const rollbackKept = ran.filter((n) => n !== record.release).slice(0, keep);
  await inTransaction(db, async () => {
    for (const ref of await allRefs(db)) {
      if (ref.service === record.service && ref.environment === record.environment && (ref.kind === 'deployed' || ref.kind === 'rollback')) await releaseDigest(db, ref);
    }
    const current = (await releaseOf(db, record.service, record.release))!;
    if (current.repository) await protectDigest(db, { repository: current.repository, digest: current.digest, kind: 'deployed', environment: record.environment, service: record.service, note: `release ${current.number}` });
    for (const n of rollbackKept) {
      const r = await releaseOf(db, record.service, n);
      if (r?.repository) await protectDigest(db, { repository: r.repository, digest: r.digest, kind: 'rollback', environment: record.environment, service: record.service, note: `release ${n}, kept for rollback` });
    }
  });
}

function result(ctx: RolloutContext, id: number, status: Rollout['status'], message: string): RolloutResult {
  return { rollout: id, service: ctx.service.name, environment: ctx.environment.name, release: ctx.release.number, status, message, frontDoor: { address: ctx.door.address, port: ctx.door.port } };
}

function describeStep(step: RolloutPlan['steps'][number]): string {
  switch (step.op) {
    case 'front-door':
      return 'front door up with the running instances';
    case 'networks':
      return `network on ${step.hosts.join(', ')}`;
    case 'adopt-names':
      return `rename ${step.renames.map((r) => r.from).join(', ')}`;
    case 'addresses':
      return `addresses no container holds into quarantine (${step.stale.join(', ')})`;
    case 'record-release':
      return `record release ${step.release.number}`;
    case 'pull':
      return `pull the image on ${step.hosts.join(', ')}`;
    case 'scale':
      return `scale to ${step.replicas} instance(s)`;
    case 'converge':
      return `converge on ${step.replicas} instance(s)`;
    case 'canary':
      return `canary ${step.slots.join(', ')} with ${Math.round(step.share * 100)}% of the traffic`;
    case 'retire':
      return 'front door and digest references of the service ended';
    case 'tidy':
      return 'leftovers removed, the front door holding the running instances';
    default:
      return `${step.op} ${step.slots.join(', ')}`;
  }
}

/**
 * A command waits for a repair by the reconciler (up to its timeout) instead of
 * failing at once; the reconciler itself (resume false) never waits for anyone.
 */
export function repairWait(options: Pick<RolloutOptions, 'resume' | 'timeoutMs' | 'signal'> & { note?: (text: string) => void; emit?: RolloutOptions['emit'] }): RepairWait | undefined {
  if (options.resume === false) return undefined;
  const note = options.note ?? ((text: string) => void options.emit?.({ type: 'note', text }));
  return { forMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS, onWait: note, ...(options.signal ? { signal: options.signal } : {}) };
}

/** A lock held by anyone (alive, gone, or this process) refuses a rollout that must not resume or join another. */
async function requireUnlocked(run: RunContext, service: string, environment: string): Promise<void> {
  const held = await leaseOf(run.db, service, environment);
  if (!held) return;
  throw conflict(`a rollout of ${service} in ${environment} is in progress: ${describeHolder(held, await rolloutById(run.db, held.rollout))}`, {
    fix: 'wait for it to finish (berth rollout ls shows it)',
  });
}

export function actor(env: NodeJS.ProcessEnv): string {
  return env.BERTH_ACTOR ?? env.SUDO_USER ?? env.USER ?? userInfo().username;
}

/** A new release as its rollout's `record-release` step records it. */
function plannedRelease(r: Release): PlannedRelease {
  return { service: r.service, number: r.number, image: r.image, imageId: r.imageId, digest: r.digest, repository: r.repository, config: r.config, createdBy: r.createdBy, ...(r.configVersion !== undefined ? { configVersion: r.configVersion } : {}) };
}

/** The release a journaled plan rolls out to: recorded, or (killed before its `record-release` step ran) as the plan holds it. */
export async function targetOf(run: RunContext, service: string, plan: RolloutPlan): Promise<Release> {
  const recorded = await releaseOf(run.db, service, plan.target);
  if (recorded) return recorded;
  const planned = plan.steps.find((s) => s.op === 'record-release' && s.release.number === plan.target);
  if (planned?.op === 'record-release') return { ...planned.release, createdAt: 0 };
  return requireRelease(run, service, plan.target);
}

export async function requireRelease(run: RunContext, service: string, number: number): Promise<Release> {
  const release = await releaseOf(run.db, service, number);
  if (!release) throw notFound(`release ${number} of ${service} does not exist`, { fix: `list releases with: berth history ${service}` });
  return release;
}
