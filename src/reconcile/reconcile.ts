/**
 * One pass of the reconciler: gather what should run and what runs, plan
 * (plan.ts, pure), and apply the actions. Each service × environment with
 * something to fix gets one rollout of kind 'reconcile' of the release it
 * runs, through the one rollout executor: its lock, journal, IPAM ledger (a
 * recreated slot gets its own IP and MAC again), health gate and front door
 * all apply, and the rollout's actor is "reconciler". A front door that died
 * comes back in that rollout's first step (on its recorded port, with the
 * running instances), also when no slot needs anything.
 */
import type { RunContext } from '../runtime/context.js';
import { environmentOf } from '../runtime/context.js';
import { observeService, type Observed } from '../runtime/observe.js';
import { frontDoorStatus } from '../lb/front-door.js';
import { doorPlaceOf } from '../rollout/door-place.js';
import { frontDoorSpecOf } from '../rollout/front-door.js';
import type { RolloutPlan } from '../rollout/rollout-plan.js';
import { observe, ordinalOf, type RolloutContext, type RolloutEvent } from '../rollout/rollout-context.js';
import { replicasIn, requireRelease, rollout } from '../rollout/executor.js';
import { gatherState } from './gather.js';
import { currentRelease } from '../store/releases.js';
import { planReconcile, type DesiredPair, type Drift, type ReconcileAction } from './plan.js';
import { reasonOf } from '../runtime/reach.js';
import type { Held, RepairBackoff } from './backoff.js';

export const RECONCILER_ACTOR = 'reconciler';

export type ReconcileOutcome = 'succeeded' | 'failed';

/** What the reconciler did about one action. */
export interface ReconcileEvent {
  type: 'reconcile';
  action: ReconcileAction['action'];
  service: string;
  environment: string;
  slot?: string;
  outcome: ReconcileOutcome;
  message: string;
  /** The rollout that did it (0 when none was journaled: a front door restarted with nothing else to do). */
  rollout?: number;
}

/** One entry of the audit log, written by whoever holds it (the server), with actor "reconciler". */
export interface ReconcileAuditEntry {
  action: string;
  target: string;
  outcome: ReconcileOutcome;
  params: Record<string, unknown>;
}

export interface ReconcileOptions {
  /** Each action's outcome, as it is known. */
  emit?: (event: ReconcileEvent) => void;
  /** Each action taken, for the audit log. */
  audit?: (entry: ReconcileAuditEntry) => void | Promise<void>;
  /** The rollouts' own progress (steps, instances). */
  progress?: (event: RolloutEvent) => void;
  /** Per recreated instance, until healthy (default: the rollout executor's, 120 s). */
  timeoutMs?: number;
  /** Failed repairs kept across passes: a pair whose repair failed waits before the next attempt. */
  backoff?: RepairBackoff;
}

export interface ReconcileReport {
  startedAt: string;
  finishedAt: string;
  /** Every action taken, with its outcome. */
  actions: ReconcileEvent[];
  /** What the pass did not fix: reported, never touched (and every action that failed). */
  drift: Drift[];
}

/** The run as the reconciler acts in it: its rollouts and audit entries name the actor "reconciler". */
export function asReconciler(run: RunContext): RunContext {
  return { ...run, env: { ...run.env, BERTH_ACTOR: RECONCILER_ACTOR } };
}

export async function reconcileOnce(run: RunContext, options: ReconcileOptions = {}): Promise<ReconcileReport> {
  const startedAt = new Date().toISOString();
  const acting = asReconciler(run);
  const { desired, observed } = await gatherState(acting);
  const plan = planReconcile(desired, observed);
  const done: ReconcileEvent[] = [];
  const waiting: Drift[] = [];
  for (const [key, actions] of byPair(plan.actions)) {
    const pair = desired.find((p) => pairKey(p) === key)!;
    const held = options.backoff?.heldBack(key, Date.now());
    if (held) {
      waiting.push(...actions.map((a) => heldBackDrift(pair, a, held)));
      continue;
    }
    const events = await reconcilePair(acting, pair, actions, options);
    const failure = events.find((e) => e.outcome === 'failed');
    options.backoff?.record(key, failure ? { ok: false, message: failure.message } : { ok: true }, Date.now());
    for (const event of events) {
      done.push(event);
      options.emit?.(event);
      await options.audit?.(auditEntry(pair, actions, event));
    }
  }
  const failedActions: Drift[] = done
    .filter((e) => e.outcome === 'failed')
    .map((e) => ({ kind: 'action-failed', service: e.service, environment: e.environment, ...(e.slot ? { slot: e.slot } : {}), message: `the reconciler could not ${couldNot(e)}: ${e.message}` }));
  return { startedAt, finishedAt: new Date().toISOString(), actions: done, drift: [...plan.drift, ...failedActions, ...waiting] };
}

/** One rollout of the release the pair runs, then each action's outcome as the engines and the front door show it. */
async function reconcilePair(run: RunContext, pair: DesiredPair, actions: ReconcileAction[], options: ReconcileOptions): Promise<ReconcileEvent[]> {
  const slots = actions.flatMap((a) => (a.action === 'recreate' ? [a.slot] : []));
  const doorDown = actions.some((a) => a.action === 'restart-front-door');
  let rolloutId = 0;
  let failure: string | undefined;
  try {
    const release = await requireRelease(run, pair.service, pair.release);
    const result = await rollout(
      run,
      pair.environment,
      { kind: 'reconcile', release, previous: release.number, forced: false, plan: (ctx) => recreatePlan(ctx, slots, doorDown) },
      { resume: false, ...(options.progress ? { emit: options.progress } : {}), ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}) },
    );
    rolloutId = result.rollout;
  } catch (error) {
    failure = reasonOf(error);
  }
  return Promise.all(actions.map((a) => outcomeOf(run, pair, a, rolloutId, failure)));
}

/**
 * Under the rollout's lock, from what runs now: the slots still without a running container get one
 * (`create` launches each on its slot, with its address from the ledger, health-gated, then into the
 * front door), and a front door that does not run starts with the running instances. Nothing above the replica count is removed: that is a rollout's to decide, not the reconciler's.
 */
async function recreatePlan(ctx: RolloutContext, slots: readonly string[], doorDown: boolean): Promise<RolloutPlan> {
  // The pass planned from what it saw before this lease: a rollout that ran meanwhile (a promote) decided what runs now.
  if ((await currentRelease(ctx.run.db, ctx.service.name, ctx.environment.name)) !== ctx.release.number) return { target: ctx.release.number, phase: 'forward', steps: [] };
  const here = (await observe(ctx)).filter((o) => o.role === 'main');
  const still = slots.filter((slot) => !here.some((o) => o.slot === slot && (o.running || o.restarting)));
  // A front door that does not run is a step of its own: a plan without steps is never journaled, so nothing would start it.
  if (still.length === 0) return { target: ctx.release.number, phase: 'forward', steps: doorDown ? [{ op: 'front-door' }] : [] };
  const replicas = Math.max(await replicasIn(ctx.run, ctx.service, ctx.environment), ...here.map((o) => ordinalOf(o.slot)));
  return { target: ctx.release.number, phase: 'forward', steps: [{ op: 'front-door' }, { op: 'create', slots: still }, { op: 'converge', replicas }] };
}

async function outcomeOf(run: RunContext, pair: DesiredPair, action: ReconcileAction, rollout: number, failure: string | undefined): Promise<ReconcileEvent> {
  const base = { type: 'reconcile' as const, action: action.action, service: pair.service, environment: pair.environment, ...(rollout ? { rollout } : {}) };
  try {
    if (action.action === 'recreate') {
      const found = (await observeSlot(run, pair, action.slot)).find((o) => o.role === 'main' && o.running);
      const event = { ...base, slot: action.slot };
      if (found) return { ...event, outcome: 'succeeded', message: `recreated slot ${action.slot} on ${found.host} (it was ${action.reason})` };
      return { ...event, outcome: 'failed', message: failure ?? `slot ${action.slot} still has no running container` };
    }
    const environment = environmentOf(run.project, pair.environment);
    const status = await frontDoorStatus(await frontDoorSpecOf(run, pair.service, environment), doorPlaceOf(run, environment));
    if (status.running) return { ...base, outcome: 'succeeded', message: `front door back on ${status.address} with ${status.servers.length} instance(s)` };
    return { ...base, outcome: 'failed', message: failure ?? `the front door on ${action.address}:${action.port} still does not run` };
  } catch (error) {
    return { ...base, ...(action.action === 'recreate' ? { slot: action.slot } : {}), outcome: 'failed', message: failure ?? reasonOf(error) };
  }
}

async function observeSlot(run: RunContext, pair: DesiredPair, slot: string): Promise<Observed[]> {
  const found = await observeService(run.hosts, pair.hosts, run.project.name, pair.service, pair.environment);
  return found.filter((o) => o.slot === slot);
}

function auditEntry(pair: DesiredPair, actions: ReconcileAction[], event: ReconcileEvent): ReconcileAuditEntry {
  const action = actions.find((a) => a.action === event.action && (a.action !== 'recreate' || a.slot === event.slot));
  return {
    action: `reconcile.${event.action}`,
    target: event.slot ? `${pair.service}/${pair.environment}/${event.slot}` : `${pair.service}/${pair.environment}`,
    outcome: event.outcome,
    params: { release: pair.release, ...(action?.action === 'recreate' ? { reason: action.reason } : {}), ...(event.rollout ? { rollout: event.rollout } : {}), message: event.message },
  };
}

function heldBackDrift(pair: DesiredPair, action: ReconcileAction, held: Held): Drift {
  return {
    kind: 'action-failed',
    service: pair.service,
    environment: pair.environment,
    ...(action.action === 'recreate' ? { slot: action.slot } : {}),
    message: `the reconciler could not ${couldNot(action)} (${held.failures} attempt(s)): ${held.message}; it tries again after ${new Date(held.next).toISOString()}`,
  };
}

function couldNot(action: { action: ReconcileAction['action']; slot?: string }): string {
  return action.action === 'recreate' ? `recreate slot ${action.slot}` : 'restart the front door';
}

function byPair(actions: readonly ReconcileAction[]): Map<string, ReconcileAction[]> {
  const grouped = new Map<string, ReconcileAction[]>();
  for (const a of actions) grouped.set(pairKey(a), [...(grouped.get(pairKey(a)) ?? []), a]);
  return grouped;
}

function pairKey(p: { service: string; environment: string }): string {
  return `${p.environment}\0${p.service}`;
}

