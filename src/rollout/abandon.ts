/**
 * `berth rollout abandon <id>`: ends an interrupted rollout without going on
 * with its plan, and converges on what runs, through a rollout of kind 'abandon'. A slot whose old container was set
 * aside (`<project>.<slot>-prev`) and has no running main container gets it back; a
 * half-launched container of the rollout is removed; leftovers go; the front
 * door holds exactly the running instances; the lease is released.
 */
import { environmentOf, type RunContext } from '../runtime/context.js';
import { conflict, notFound } from '../errors.js';
import type { Observed } from '../runtime/observe.js';
import { rolloutById, type Rollout } from '../store/releases.js';
import { acquireToAbandon, leaseSettingsFor, type HeldLease } from './lease.js';
import { observe, targetHash, type LeasedContext } from './rollout-context.js';
import type { RolloutPlan, RolloutStep } from './rollout-plan.js';
import { actor, contextFor, runOperation, targetOf, usesFrontDoor, type RolloutOptions } from './executor.js';
import { markAbandoned } from './operation.js';
import type { SlotOutcome } from './ops-steps.js';
import { runStep } from './steps.js';

export interface AbandonResult {
  rollout: number;
  service: string;
  environment: string;
  /** Slots whose set-aside container was put back. */
  restored: string[];
  /** Containers of the rollout removed because they never ran (half-launched). */
  removed: string[];
  /** The main slots running once it converged. */
  running: string[];
  message: string;
}

export async function abandonRollout(run: RunContext, id: number, options: RolloutOptions = {}): Promise<AbandonResult> {
  const record = await rolloutById(run.db, id);
  if (!record) throw notFound(`rollout #${id} does not exist`, { fix: 'list the open ones with: berth rollout ls' });
  refuseUnlessInterrupted(record);
  environmentOf(run.project, record.environment);
  const lease = await acquireToAbandon(run.db, record, options.lease ?? leaseSettingsFor(run));
  try {
    return await abandonUnder(run, record, lease, options);
  } finally {
    lease.stop();
  }
}

/**
 * The abandon is a rollout of its own (kind 'abandon'), journaled before it changes anything: killed, the next
 * command on the service finishes it. At its end the abandoned rollout is recorded as abandoned.
 */
async function abandonUnder(run: RunContext, record: Rollout, lease: HeldLease, options: RolloutOptions): Promise<AbandonResult> {
  const environment = environmentOf(run.project, record.environment);
  const abandoned = JSON.parse(record.plan) as RolloutPlan;
  const emit = options.emit ?? (() => {});
  let ctx: LeasedContext;
  let plan: RolloutPlan;
  try {
    ctx = { ...(await contextFor(run, await targetOf(run, record.service, abandoned), environment, options, await usesFrontDoor(run, record.kind, record.service, record.environment))), lease };
    const here = await observe(ctx);
    const ofTarget = new Set<string>();
    for (const o of here) if (o.specHash === (await targetHash(ctx, o.slot))) ofTarget.add(o.id);
    plan = { target: abandoned.target, phase: 'forward', abandons: record.id, steps: planAbandon(here, ofTarget) };
  } catch (error) {
    // Nothing journaled: the abandoned rollout keeps the lease, still interrupted.
    lease.stop();
    throw error;
  }
  const restored: string[] = [];
  const removed: string[] = [];
  const outcome = (o: SlotOutcome) => {
    if (o.op === 'restore') {
      restored.push(o.slot);
      emit({ type: 'instance', slot: o.slot, text: 'put the set-aside container back' });
    } else if (o.op === 'rm') {
      removed.push(o.slot);
      emit({ type: 'instance', slot: o.slot, text: 'removed, half-launched by the rollout' });
    }
  };
  await runOperation({ ...ctx, outcome }, { kind: 'abandon', release: abandoned.target, actor: actor(run.env), plan, journaled: (c) => markAbandoned(c, record.id) }, runStep);
  const running = (await observe(ctx)).filter((o) => o.role !== 'aside' && o.running).map((o) => o.slot).sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
  const message = (await rolloutById(run.db, record.id))?.message ?? '';
  return { rollout: record.id, service: record.service, environment: record.environment, restored, removed, running, message };
}

/**
 * What an abandon does, from what runs: a slot whose old container was set aside and has no running main one gets
 * it back; a main container of the rollout's release that never ran, with nothing set aside, is a new slot
 * half-launched (create, surge, canary) and goes with its address and record (a stopped one of another release is
 * the operator's); then leftovers go and the front door holds exactly the running instances.
 */
export function planAbandon(here: readonly Observed[], ofTarget: ReadonlySet<string>): RolloutStep[] {
  const mainRuns = (slot: string) => here.some((o) => o.role === 'main' && o.slot === slot && o.running);
  const restore = [...new Set(here.filter((o) => o.role === 'aside' && !mainRuns(o.slot)).map((o) => o.slot))];
  const at: Record<string, string> = {};
  for (const o of here) if (o.role !== 'aside' && !o.running && !restore.includes(o.slot) && ofTarget.has(o.id)) at[o.slot] ??= o.host;
  const steps: RolloutStep[] = [];
  if (restore.length > 0) steps.push({ op: 'restore', slots: restore });
  if (Object.keys(at).length > 0) steps.push({ op: 'rm', slots: Object.keys(at), at });
  steps.push({ op: 'tidy' });
  return steps;
}

function refuseUnlessInterrupted(record: Rollout): void {
  const fix = `see berth history ${record.service} --env ${record.environment}`;
  if (record.status === 'canary') {
    throw conflict(`rollout #${record.id} is an open canary of ${record.service} in ${record.environment}, not an interrupted rollout`, {
      fix: `decide it: berth canary abort ${record.service} --env ${record.environment} (or berth canary promote …)`,
    });
  }
  if (record.status !== 'running') throw conflict(`rollout #${record.id} of ${record.service} in ${record.environment} has already ended (${record.status})`, { fix });
}
