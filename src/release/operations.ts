/**
 * Release's operations, called by the CLI (and later the HTTP API): release,
 * promote (optionally as a canary), rollback, scale, canary promote/abort, history.
 */
import type { RunContext } from '../deploy/context.js';
import { environmentOf, serviceOf } from '../deploy/context.js';
import { resolveImage } from '../deploy/image.js';
import { listInstances } from '../deploy/instances.js';
import { conflict, invalid, notFound } from '../errors.js';
import { createRelease, currentRelease, hasRun, openRollout, releaseOf, releasesOf, replacePlan, rolloutsOf, setEvidence, setRolloutStatus, setScale, type Release, type Rollout } from '../store/releases.js';
import { checkPromotion } from './pipeline.js';
import { planCanary, planRolling, type RolloutPlan } from './rollout-plan.js';
import { watchCanary } from './canary-watch.js';
import { actor, configOf, continueRollout, recoverInterrupted, replicasIn, requireRelease, rollout, serviceOfRelease, slotStates, type RolloutOptions, type RolloutResult } from './rollout.js';
import type { RolloutContext } from './rollout-context.js';
import { contextFor } from './rollout.js';

/** A rolling update to the context's release. */
function rolling(kind: 'forward' | 'rollback') {
  return async (ctx: RolloutContext): Promise<RolloutPlan> => {
    const replicas = replicasIn(ctx.run, ctx.service, ctx.environment);
    return { target: ctx.release.number, phase: kind, steps: planRolling(ctx.service.name, ctx.environment.name, replicas, await slotStates(ctx), ctx.service.rollout) };
  };
}

/** A new release of the service's current build and settings, rolled out to `environment` (the pipeline's first stage). */
export async function releaseService(run: RunContext, serviceName: string, environmentName: string, options: RolloutOptions & { force?: boolean; image?: string } = {}): Promise<RolloutResult & { created: Release }> {
  const service = serviceOf(run.project, serviceName);
  const environment = environmentOf(run.project, environmentName);
  const image = await resolveImage(run.project, run.hosts.engine(environment.hosts[0]!), run.db, service, options.image);
  const draft = { service: service.name, number: 0, image: image.name, imageId: image.id, digest: image.digest, repository: image.repository, config: configOf(service) };
  const check = checkPromotion(run.project.pipeline, service.name, releasesOf(run.db, service.name).length + 1, environment.name, () => false, options.force ?? false);
  // What the environment runs (the rollback target) is read once an interrupted rollout is finished.
  await recoverInterrupted(run, service.name, environment.name, options);
  const previous = currentRelease(run.db, service.name, environment.name) ?? null;
  let created: Release | undefined;
  const create = () => (created = createRelease(run.db, { ...draft, createdBy: actor(run.env) }));
  const result = await rollout(run, environment.name, { kind: 'release', release: { ...draft, createdAt: 0, createdBy: '' }, create, previous, forced: check.missing.length > 0, plan: rolling('forward') }, options);
  return { ...result, created: created! };
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
}

/** Moves the release `from` runs (its digest and settings) to `to`, rolling or as a canary. */
export async function promoteService(run: RunContext, serviceName: string, to: string, options: PromoteOptions = {}): Promise<RolloutResult> {
  serviceOf(run.project, serviceName);
  const target = environmentOf(run.project, to);
  const pipeline = run.project.pipeline;
  const earlier = pipeline.slice(0, Math.max(0, pipeline.indexOf(target.name)));
  if (options.from === undefined && earlier.length === 0) throw invalid(`${to} is the first stage of the pipeline (${pipeline.join(' → ')}): nothing to promote from`, { fix: `release a new build there: berth release ${serviceName} --env ${to}` });
  // By default, the nearest earlier stage that runs a release: the pipeline check then names any stage it skipped.
  const from = options.from ?? [...earlier].reverse().find((e) => currentRelease(run.db, serviceName, e) !== undefined) ?? earlier.at(-1)!;
  environmentOf(run.project, from);
  const number = currentRelease(run.db, serviceName, from);
  if (number === undefined) throw notFound(`no release of ${serviceName} runs in ${from}`, { fix: `release one first: berth release ${serviceName} --env ${pipeline[0]}` });
  const release = requireRelease(run, serviceName, number);
  const check = checkPromotion(pipeline, serviceName, number, target.name, (e) => hasRun(run.db, serviceName, e, number), options.force ?? false);
  await recoverInterrupted(run, serviceName, target.name, options);
  const previous = currentRelease(run.db, serviceName, target.name) ?? null;
  const running = (await listInstances(run, { environment: target.name, service: serviceName })).length > 0;
  // After `berth rm` the record still names the release, but nothing runs: promoting it again brings it back.
  if (previous === number && options.canary === undefined && running) throw conflict(`${to} already runs release ${number} of ${serviceName}`, { fix: 'nothing to do' });
  if (options.canary === undefined) {
    return rollout(run, target.name, { kind: 'promote', release, previous, forced: check.missing.length > 0, plan: rolling('forward') }, options);
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
      plan: async (ctx) => ({ target: number, phase: 'forward', steps: planCanary(serviceName, to, replicasIn(run, ctx.service, ctx.environment), await slotStates(ctx), share) }),
    },
    options,
  );
  if (options.manual) return opened;
  return decideByGates(run, serviceName, to, release, options);
}

/** Watches the open canary's gates (canary-gate.ts) and promotes or aborts it, recording the decision and its evidence. */
async function decideByGates(run: RunContext, service: string, environment: string, release: Release, options: PromoteOptions): Promise<RolloutResult> {
  const ctx = await contextFor(run, release, environmentOf(run.project, environment), options);
  const verdict = await watchCanary(ctx, await canarySlots(run, service, environment), options.watchMs);
  options.onCanary?.(`canary ${verdict.decision}: ${verdict.reason}`);
  return verdict.decision === 'promote' ? canaryPromote(run, service, environment, options, verdict.evidence) : canaryAbort(run, service, environment, options, verdict.reason, verdict.evidence);
}

function openCanary(run: RunContext, service: string, environment: string): Rollout {
  environmentOf(run.project, environment);
  const open = openRollout(run.db, service, environment);
  if (!open || open.status !== 'canary') throw notFound(`no canary of ${service} is open in ${environment}`, { fix: `start one: berth promote ${service} --to ${environment} --canary 10%` });
  return open;
}

async function canarySlots(run: RunContext, service: string, environment: string): Promise<string[]> {
  const open = openCanary(run, service, environment);
  const plan = JSON.parse(open.plan) as RolloutPlan;
  return plan.steps.flatMap((s) => (s.op === 'canary' ? s.slots : []));
}

/** The canary's release rolls to 100%: every instance replaced in batches, the canary instances removed. */
export async function canaryPromote(run: RunContext, service: string, environment: string, options: RolloutOptions = {}, evidence: object = byHand('promote', run)): Promise<RolloutResult> {
  const open = openCanary(run, service, environment);
  setEvidence(run.db, open.id, evidence);
  const release = requireRelease(run, service, open.release);
  const ctx = await contextFor(run, release, environmentOf(run.project, environment), options);
  const plan = await rolling('forward')(ctx);
  replacePlan(run.db, open.id, JSON.stringify(plan));
  setRolloutStatus(run.db, open.id, 'running');
  return continueRollout(run, open.id, plan, options);
}

/** The canary instances are drained and removed; the front door's weights go back to normal. */
export async function canaryAbort(run: RunContext, service: string, environment: string, options: RolloutOptions = {}, reason = 'aborted by hand', evidence: object = byHand('abort', run)): Promise<RolloutResult> {
  const open = openCanary(run, service, environment);
  setEvidence(run.db, open.id, evidence);
  const slots = await canarySlots(run, service, environment);
  const previous = open.previous!;
  const prevRelease = requireRelease(run, service, previous);
  const replicas = replicasIn(run, serviceOfRelease(prevRelease), environmentOf(run.project, environment));
  const plan: RolloutPlan = { target: previous, phase: 'rollback', reason: `canary aborted: ${reason}`, steps: [{ op: 'remove', slots }, { op: 'converge', replicas }] };
  replacePlan(run.db, open.id, JSON.stringify(plan));
  setRolloutStatus(run.db, open.id, 'running');
  const result = await continueRollout(run, open.id, plan, options);
  setRolloutStatus(run.db, open.id, 'aborted', `canary aborted: ${reason}`);
  return { ...result, release: open.release, status: 'aborted', message: `canary aborted: ${reason}` };
}

/** The evidence of a canary decided with `berth canary promote|abort`. */
function byHand(decision: 'promote' | 'abort', run: RunContext): object {
  return { gate: 'manual', decision, reason: `${decision === 'promote' ? 'promoted' : 'aborted'} by hand`, by: actor(run.env) };
}

/** Rolls the environment back to the release it ran before the current one, or to `to`. */
export async function rollbackService(run: RunContext, serviceName: string, environmentName: string, options: RolloutOptions & { to?: number } = {}): Promise<RolloutResult> {
  serviceOf(run.project, serviceName);
  const environment = environmentOf(run.project, environmentName);
  await recoverInterrupted(run, serviceName, environment.name, options);
  const current = currentRelease(run.db, serviceName, environment.name);
  if (current === undefined) throw notFound(`no release of ${serviceName} runs in ${environment.name}`, { fix: `release one first: berth release ${serviceName} --env ${run.project.pipeline[0]}` });
  let target = options.to;
  if (target === undefined) {
    target = rolloutsOf(run.db, serviceName, environment.name).find((r) => r.status === 'succeeded' && r.release !== current)?.release;
    if (target === undefined) throw notFound(`${environment.name} has run no release of ${serviceName} before release ${current}: nothing to roll back to`, { fix: `see berth history ${serviceName} --env ${environment.name}` });
  }
  if (target === current) throw conflict(`${environment.name} already runs release ${target} of ${serviceName}`, { fix: 'name another release with --to' });
  const release = requireRelease(run, serviceName, target);
  return rollout(run, environment.name, { kind: 'rollback', release, previous: current, forced: false, plan: rolling('forward') }, options);
}

/** Sets the replica count of the service in the environment; existing instances keep their slots and addresses. */
export async function scaleService(run: RunContext, serviceName: string, environmentName: string, replicas: number, options: RolloutOptions = {}): Promise<RolloutResult> {
  serviceOf(run.project, serviceName);
  const environment = environmentOf(run.project, environmentName);
  if (!Number.isInteger(replicas) || replicas < 0) throw invalid(`the replica count must be a whole number of 0 or more, got ${replicas}`, { fix: `e.g. berth scale ${serviceName}=3 --env ${environmentName}` });
  await recoverInterrupted(run, serviceName, environment.name, options);
  const current = currentRelease(run.db, serviceName, environment.name);
  if (current === undefined) throw notFound(`no release of ${serviceName} runs in ${environment.name}, so there is nothing to scale`, { fix: `release one first: berth release ${serviceName} --env ${run.project.pipeline[0]}` });
  const release = requireRelease(run, serviceName, current);
  const before = replicasIn(run, serviceOfRelease(release), environment);
  setScale(run.db, serviceName, environment.name, replicas);
  try {
    return await rollout(run, environment.name, { kind: 'scale', release, previous: current, forced: false, plan: rolling('forward') }, options);
  } catch (error) {
    setScale(run.db, serviceName, environment.name, before);
    throw error;
  }
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

export function history(run: RunContext, serviceName: string, environment?: string): { releases: Release[]; rollouts: HistoryEntry[] } {
  serviceOf(run.project, serviceName);
  if (environment !== undefined) environmentOf(run.project, environment);
  const releases = releasesOf(run.db, serviceName);
  const digests = new Map(releases.map((r) => [r.number, r.digest]));
  const rollouts = rolloutsOf(run.db, serviceName, environment).map((r) => ({
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
