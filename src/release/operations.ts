/**
 * Release's operations, called by the CLI (and later the HTTP API): release,
 * promote (optionally as a canary), rollback, scale, canary promote/abort, history.
 */
import type { EnvironmentSpec } from '../config/model.js';
import type { RunContext } from '../runtime/context.js';
import { environmentOf, ipamOf, networkOf, serviceOf } from '../runtime/context.js';
import { resolveImage } from '../runtime/image.js';
import { conflict, forbidden, invalid, notFound } from '../errors.js';
import { currentRelease, hasRun, openRollout, releaseOf, releasesOf, replacePlan, rolloutById, rolloutsOf, scaleOf, setEvidence, setRolloutStatus, type Release, type Rollout } from '../store/releases.js';
import { slotsOf } from '../store/deployments.js';
import { acquireForDecision, leaseSettingsFor, type HeldLease } from '../rollout/lease.js';
import { capacityProblem, type CapacityInput } from './capacity.js';
import { checkPromotion } from './pipeline.js';
import { planCanary, planRolling, type RolloutPlan } from '../rollout/rollout-plan.js';
import { watchCanary } from './canary-watch.js';
import { requireHosts } from '../rollout/preflight.js';
import { actor, configOf, continueRollout, recoverInterrupted, replicasIn, requireRelease, rollout, serviceOfRelease, slotStates, type RolloutOptions, type RolloutResult } from '../rollout/executor.js';
import type { RolloutContext } from '../rollout/rollout-context.js';
import { contextFor } from '../rollout/executor.js';

/** A rolling update to the context's release, to `count` instances (default: the environment's replica count). */
function rolling(kind: 'forward' | 'rollback', count?: number) {
  return async (ctx: RolloutContext): Promise<RolloutPlan> => {
    const replicas = count ?? (await replicasIn(ctx.run, ctx.service, ctx.environment));
    return { target: ctx.release.number, phase: kind, steps: planRolling(ctx.service.name, ctx.environment.name, replicas, await slotStates(ctx), ctx.service.rollout) };
  };
}

/** The plan, unless it changes no instance: then the request is refused as `nothing to do`. */
function unlessEverySlotRuns(plan: (ctx: RolloutContext) => Promise<RolloutPlan>, message: string) {
  return async (ctx: RolloutContext): Promise<RolloutPlan> => {
    const planned = await plan(ctx);
    if (planned.steps.every((s) => s.op === 'front-door' || s.op === 'converge')) throw conflict(message, { fix: 'nothing to do' });
    return planned;
  };
}

/** An interrupted rollout that the command resumed, and that ended where the command itself wanted to go. */
function reached(resumed: RolloutResult | undefined, release: number): boolean {
  return resumed !== undefined && resumed.status === 'succeeded' && resumed.release === release;
}

function finishedInterrupted(resumed: RolloutResult): RolloutResult {
  return { ...resumed, message: `finished the interrupted rollout #${resumed.rollout}` };
}

/** A new release of the service's current build and settings, rolled out to `environment` (the pipeline's first stage). */
export async function releaseService(run: RunContext, serviceName: string, environmentName: string, options: RolloutOptions & { force?: boolean; image?: string } = {}): Promise<RolloutResult & { created: Release }> {
  const service = serviceOf(run.project, serviceName);
  const environment = environmentOf(run.project, environmentName);
  // Else a forced release would be a way around the approval a promotion there waits for.
  if (environment.protected && run.project.pipeline[0] !== environment.name) {
    throw forbidden(`${environment.name} is protected: a build gets there by a promotion that a second token approves, not by a release`, { fix: `release it to ${run.project.pipeline[0]} and promote it: berth promote ${service.name} --to ${environment.name}` });
  }
  await requireHosts(run, service.name, environment, `the release of ${service.name} to ${environment.name}`);
  const image = await resolveImage(run.project, run.hosts.buildEngine(), run.db, service, options.image);
  const draft = { service: service.name, number: 0, image: image.name, imageId: image.id, digest: image.digest, repository: image.repository, config: configOf(service) };
  const check = checkPromotion(run.project.pipeline, service.name, (await releasesOf(run.db, service.name)).length + 1, environment.name, () => false, options.force ?? false);
  // What the environment runs (the rollback target) is read once an interrupted rollout is finished.
  const resumed = await recoverInterrupted(run, service.name, environment.name, options);
  // An interrupted release of this very build and settings, now finished, is the release asked for: not a reason for another number.
  const same = resumed && (await rolloutById(run.db, resumed.rollout))?.kind === 'release' ? await releaseOf(run.db, service.name, resumed.release) : undefined;
  if (same && reached(resumed, same.number) && same.imageId === draft.imageId && same.digest === draft.digest && same.config === draft.config) return { ...finishedInterrupted(resumed!), created: same };
  const previous = await currentRelease(run.db, service.name, environment.name) ?? null;
  const release = { ...draft, createdAt: 0, createdBy: actor(run.env), ...(run.configVersion !== undefined ? { configVersion: run.configVersion } : {}) };
  const result = await rollout(run, environment.name, { kind: 'release', release, recordNew: true, previous, forced: check.missing.length > 0, plan: rolling('forward') }, options);
  return { ...result, created: await requireRelease(run, service.name, result.release) };
}

export interface PromoteOptions extends RolloutOptions {
  from?: string;
  force?: boolean;
  /** 0..1: start a canary with this share of the traffic instead of a rolling update. */
  canary?: number;
  /** With a canary: decide by its gates after the watch window (default), or leave it open for `berth canary promote|abort`. */
  manual?: boolean;
  watchMs?: number;
  onCanary?: (text: string) => void;
  /** The server runs a promotion to a protected environment only once a second token approved it. */
  approved?: boolean;
}

/** Moves the release `from` runs (its digest and settings) to `to`, rolling or as a canary. */
export async function promoteService(run: RunContext, serviceName: string, to: string, options: PromoteOptions = {}): Promise<RolloutResult> {
  serviceOf(run.project, serviceName);
  const target = environmentOf(run.project, to);
  if (target.protected && options.approved !== true) throw needsApproval(target.name);
  const pipeline = run.project.pipeline;
  const earlier = pipeline.slice(0, Math.max(0, pipeline.indexOf(target.name)));
  if (options.from === undefined && earlier.length === 0) throw invalid(`${to} is the first stage of the pipeline (${pipeline.join(' → ')}): nothing to promote from`, { fix: `release a new build there: berth release ${serviceName} --env ${to}` });
  // By default, the nearest earlier stage that runs a release: the pipeline check then names any stage it skipped.
  let from = options.from;
  for (const e of [...earlier].reverse()) if (from === undefined && (await currentRelease(run.db, serviceName, e)) !== undefined) from = e;
  from ??= earlier.at(-1)!;
  environmentOf(run.project, from);
  const number = await currentRelease(run.db, serviceName, from);
  if (number === undefined) throw notFound(`no release of ${serviceName} runs in ${from}`, { fix: `release one first: berth release ${serviceName} --env ${pipeline[0]}` });
  const release = await requireRelease(run, serviceName, number);
  const ranIn = new Set<string>();
  for (const e of pipeline) if (await hasRun(run.db, serviceName, e, number)) ranIn.add(e);
  const check = checkPromotion(pipeline, serviceName, number, target.name, (e) => ranIn.has(e), options.force ?? false);
  const resumed = await recoverInterrupted(run, serviceName, target.name, options);
  if (options.canary === undefined && reached(resumed, number)) return finishedInterrupted(resumed!);
  const previous = await currentRelease(run.db, serviceName, target.name) ?? null;
  if (options.canary === undefined) {
    // "Nothing to do" only when every slot runs the release: a container removed by hand is recreated.
    const plan = previous === number ? unlessEverySlotRuns(rolling('forward'), `${to} already runs release ${number} of ${serviceName} in every slot`) : rolling('forward');
    return rollout(run, target.name, { kind: 'promote', release, previous, forced: check.missing.length > 0, plan }, options);
  }
  if (previous === null) throw invalid(`a canary needs a release already running in ${to} to compare with`, { fix: `promote without --canary first: berth promote ${serviceName} --to ${to}` });
  const share = options.canary;
  const opened = await rollout(
    run,
    target.name,
    {
      kind: 'canary',
      release,
      previous,
      forced: check.missing.length > 0,
      endsOpen: true,
      plan: async (ctx) => ({ target: number, phase: 'forward', steps: planCanary(serviceName, to, await replicasIn(run, ctx.service, ctx.environment), await slotStates(ctx), share) }),
    },
    options,
  );
  if (options.manual) return opened;
  return decideByGates(run, serviceName, to, release, options);
}

function needsApproval(environment: string) {
  return forbidden(`${environment} is protected: a promotion there needs an approval, which only a Berth server can ask for`, {
    fix: `promote through the server (BERTH_SERVER, BERTH_TOKEN), or remove environments.${environment}.protected`,
  });
}

/** Watches the open canary's gates (canary-gate.ts) and promotes or aborts it, recording the decision and its evidence. */
async function decideByGates(run: RunContext, service: string, environment: string, release: Release, options: PromoteOptions): Promise<RolloutResult> {
  const ctx = await contextFor(run, release, environmentOf(run.project, environment), options);
  const verdict = await watchCanary(ctx, await canarySlots(run, service, environment), options.watchMs);
  await options.onCanary?.(`canary ${verdict.decision}: ${verdict.reason}`);
  return verdict.decision === 'promote' ? canaryPromote(run, service, environment, options, verdict.evidence) : canaryAbort(run, service, environment, options, verdict.reason, verdict.evidence);
}

async function openCanary(run: RunContext, service: string, environment: string): Promise<Rollout> {
  environmentOf(run.project, environment);
  const open = await openRollout(run.db, service, environment);
  if (!open || open.status !== 'canary') throw notFound(`no canary of ${service} is open in ${environment}`, { fix: `start one: berth promote ${service} --to ${environment} --canary 10%` });
  return open;
}

async function canarySlots(run: RunContext, service: string, environment: string): Promise<string[]> {
  const open = await openCanary(run, service, environment);
  const plan = JSON.parse(open.plan) as RolloutPlan;
  return plan.steps.flatMap((s) => (s.op === 'canary' ? s.slots : []));
}

/** The canary's release rolls to 100%: every instance replaced in batches, the canary instances removed. */
export async function canaryPromote(run: RunContext, service: string, environment: string, options: RolloutOptions = {}, evidence: object = byHand('promote', run)): Promise<RolloutResult> {
  const open = await openCanary(run, service, environment);
  const lease = await acquireForDecision(run.db, open, leaseSettingsFor(run));
  const plan = await underLease(lease, async () => {
    await setEvidence(run.db, open.id, evidence, lease);
    const release = await requireRelease(run, service, open.release);
    const ctx = await contextFor(run, release, environmentOf(run.project, environment), options);
    const planned = await rolling('forward')({ ...ctx, lease });
    await replacePlan(run.db, open.id, JSON.stringify(planned), lease);
    await setRolloutStatus(run.db, open.id, 'running', lease);
    return planned;
  });
  return continueRollout(run, open.id, plan, options, { lease });
}

/** The decision's first writes: on a failure the canary stays open, its lease left for whoever decides next. */
async function underLease<T>(lease: HeldLease, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    lease.stop();
    throw error;
  }
}

/** The canary instances are drained and removed; the front door's weights go back to normal. */
export async function canaryAbort(run: RunContext, service: string, environment: string, options: RolloutOptions = {}, reason = 'aborted by hand', evidence: object = byHand('abort', run)): Promise<RolloutResult> {
  const open = await openCanary(run, service, environment);
  const lease = await acquireForDecision(run.db, open, leaseSettingsFor(run));
  const plan = await underLease(lease, async () => {
    await setEvidence(run.db, open.id, evidence, lease);
    const slots = await canarySlots(run, service, environment);
    const previous = open.previous!;
    const prevRelease = await requireRelease(run, service, previous);
    const replicas = await replicasIn(run, serviceOfRelease(prevRelease), environmentOf(run.project, environment));
    const planned: RolloutPlan = { target: previous, phase: 'rollback', reason: `canary aborted: ${reason}`, steps: [{ op: 'remove', slots }, { op: 'converge', replicas }] };
    await replacePlan(run.db, open.id, JSON.stringify(planned), lease);
    await setRolloutStatus(run.db, open.id, 'running', lease);
    return planned;
  });
  const message = `canary aborted: ${reason}`;
  const result = await continueRollout(run, open.id, plan, options, { lease, ending: { status: 'aborted', message } });
  return { ...result, release: open.release, status: 'aborted', message };
}

/** The evidence of a canary decided with `berth canary promote|abort`. */
function byHand(decision: 'promote' | 'abort', run: RunContext): object {
  return { gate: 'manual', decision, reason: `${decision === 'promote' ? 'promoted' : 'aborted'} by hand`, by: actor(run.env) };
}

/**
 * Rolls the environment back to the release it ran before the current one, or
 * to `to`: only a release that environment ran to success before, unless forced
 * (recorded as such).
 */
export async function rollbackService(run: RunContext, serviceName: string, environmentName: string, options: RolloutOptions & { to?: number; force?: boolean } = {}): Promise<RolloutResult> {
  serviceOf(run.project, serviceName);
  const environment = environmentOf(run.project, environmentName);
  const forced = options.to !== undefined && !await hasRun(run.db, serviceName, environment.name, options.to);
  if (options.to !== undefined) {
    await requireRelease(run, serviceName, options.to);
    if (forced && !options.force) throw await neverRanHere(run, serviceName, environment.name, options.to);
  }
  const resumed = await recoverInterrupted(run, serviceName, environment.name, options);
  // Without --to, an interrupted rollback that now finished is the rollback asked for (not a reason to go back once more).
  const wanted = options.to ?? (resumed && (await rolloutById(run.db, resumed.rollout))?.kind === 'rollback' ? resumed.release : undefined);
  if (wanted !== undefined && reached(resumed, wanted)) return finishedInterrupted(resumed!);
  const current = await currentRelease(run.db, serviceName, environment.name);
  if (current === undefined) throw notFound(`no release of ${serviceName} runs in ${environment.name}`, { fix: `release one first: berth release ${serviceName} --env ${run.project.pipeline[0]}` });
  let target = options.to;
  if (target === undefined) {
    target = (await rolloutsOf(run.db, serviceName, environment.name)).find((r) => r.status === 'succeeded' && r.release !== current)?.release;
    if (target === undefined) throw notFound(`${environment.name} has run no release of ${serviceName} before release ${current}: nothing to roll back to`, { fix: `see berth history ${serviceName} --env ${environment.name}` });
  }
  if (target === current) throw conflict(`${environment.name} already runs release ${target} of ${serviceName}`, { fix: 'name another release with --to' });
  const release = await requireRelease(run, serviceName, target);
  return rollout(run, environment.name, { kind: 'rollback', release, previous: current, forced, plan: rolling('forward') }, options);
}

async function neverRanHere(run: RunContext, service: string, environment: string, release: number) {
  const ranIn = [...new Set((await rolloutsOf(run.db, service)).filter((r) => r.status === 'succeeded' && r.release === release).map((r) => r.environment))];
  const from = ranIn.find((e) => e !== environment);
  return conflict(
    `release ${release} of ${service} has never run in ${environment}${ranIn.length > 0 ? ` (it ran in ${ranIn.join(', ')})` : ''}: a rollback goes only to a release the environment ran before`,
    {
      fix: `${from ? `promote it instead (berth promote ${service} --to ${environment} --from ${from}), or ` : ''}pass --force to roll back to it anyway (recorded in the history); berth history ${service} --env ${environment} lists what ran there`,
    },
  );
}

/**
 * Sets the replica count of the service in the environment; existing instances
 * keep their slots and addresses. Checked against the environment's capacity
 * first; scaling to 0 (every instance removed) needs `force`.
 */
export async function scaleService(run: RunContext, serviceName: string, environmentName: string, replicas: number, options: RolloutOptions & { force?: boolean } = {}): Promise<RolloutResult> {
  serviceOf(run.project, serviceName);
  const environment = environmentOf(run.project, environmentName);
  if (!Number.isInteger(replicas) || replicas < 0) throw invalid(`the replica count must be a whole number of 0 or more, got ${replicas}`, { fix: `e.g. berth scale ${serviceName}=3 --env ${environmentName}` });
  if (replicas === 0 && !options.force) {
    throw invalid(`scaling ${serviceName} to 0 in ${environment.name} removes every instance of it there`, { fix: `if that is what you want, pass --force: berth scale ${serviceName}=0 --env ${environment.name} --force` });
  }
  const problem = capacityProblem(await capacityOf(run, serviceName, environment, replicas));
  if (problem) throw problem;
  const resumed = await recoverInterrupted(run, serviceName, environment.name, options);
  if (resumed && (await rolloutById(run.db, resumed.rollout))?.kind === 'scale' && reached(resumed, resumed.release) && await scaleOf(run.db, serviceName, environment.name) === replicas) return finishedInterrupted(resumed);
  const current = await currentRelease(run.db, serviceName, environment.name);
  if (current === undefined) throw notFound(`no release of ${serviceName} runs in ${environment.name}, so there is nothing to scale`, { fix: `release one first: berth release ${serviceName} --env ${run.project.pipeline[0]}` });
  const release = await requireRelease(run, serviceName, current);
  const before = await replicasIn(run, serviceOfRelease(release), environment);
  // The new count is recorded by the rollout's `scale` step, once nothing before the instances failed; a failure after it rolls it back.
  const plan = async (ctx: RolloutContext): Promise<RolloutPlan> => ({ ...(await rolling('forward', replicas)(ctx)), replicasBefore: before });
  return rollout(run, environment.name, { kind: 'scale', release, previous: current, forced: false, replicas, plan }, options);
}

/** What `capacityProblem` needs: the network, the hosts and, on a flat network, the addresses free and those the service's slots hold. */
async function capacityOf(run: RunContext, service: string, environment: EnvironmentSpec, replicas: number): Promise<CapacityInput> {
  const network = networkOf(run.project, environment);
  const base = { service, environment: environment.name, replicas, network: { name: network.name, mode: network.mode }, hosts: environment.hosts.length };
  if (network.mode !== 'flat') return base;
  const ipam = ipamOf(run);
  const usage = await ipam.usage(network.name);
  const slots = new Set((await slotsOf(run.db, service, environment.name)).map((s) => s.slot));
  const now = Date.now();
  // A slot's own address is its again, quarantined or not; one whose quarantine is over already counts as free.
  const held = (await ipam.allocations(network.name)).filter((a) => a.slot !== null && slots.has(a.slot) && (a.state !== 'quarantined' || (ipam.quarantineEndsAt(a) ?? 0) > now)).length;
  return { ...base, pool: { free: usage.free, held } };
}

/**
 * Recreates the slots of a released service whose containers are gone (removed
 * by hand), each on its slot and address, as a rollout of the release the
 * environment runs (the plan also replaces any instance that drifted from it).
 */
export async function recreateMissing(run: RunContext, serviceName: string, environmentName: string, options: RolloutOptions = {}): Promise<RolloutResult> {
  serviceOf(run.project, serviceName);
  const environment = environmentOf(run.project, environmentName);
  await recoverInterrupted(run, serviceName, environment.name, options);
  const current = await currentRelease(run.db, serviceName, environment.name);
  if (current === undefined) throw notFound(`no release of ${serviceName} runs in ${environment.name}`, { fix: `recreate its instances with: berth deploy ${serviceName} --env ${environment.name}` });
  const release = await requireRelease(run, serviceName, current);
  return rollout(run, environment.name, { kind: 'scale', release, previous: current, forced: false, plan: rolling('forward') }, options);
}

export interface HistoryEntry {
  rollout: number;
  environment: string;
  release: number;
  digest: string;
  kind: Rollout['kind'];
  forced: boolean;
  status: Rollout['status'];
  message: string;
  by: string;
  startedAt: string;
  finishedAt: string | null;
  /** The evidence of the rollout's gate decisions (a canary's: decision, window, rates, probes), {} when none. */
  evidence: Record<string, unknown>;
}

export async function history(run: RunContext, serviceName: string, environment?: string): Promise<{ releases: Release[]; rollouts: HistoryEntry[] }> {
  serviceOf(run.project, serviceName);
  if (environment !== undefined) environmentOf(run.project, environment);
  const releases = await releasesOf(run.db, serviceName);
  const digests = new Map(releases.map((r) => [r.number, r.digest]));
  const rollouts = (await rolloutsOf(run.db, serviceName, environment)).map((r) => ({
    rollout: r.id,
    environment: r.environment,
    release: r.release,
    digest: digests.get(r.release) ?? '',
    kind: r.kind,
    forced: r.forced,
    status: r.status,
    message: r.message,
    by: r.actor,
    startedAt: new Date(r.startedAt).toISOString(),
    finishedAt: r.finishedAt === null ? null : new Date(r.finishedAt).toISOString(),
    evidence: evidenceOf(r.evidence),
  }));
  return { releases, rollouts };
}

function evidenceOf(text: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

export { releaseOf };
