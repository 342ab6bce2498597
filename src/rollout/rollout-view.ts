/** A rollout with its journal as data (berth rollout ls/show, GET /v1/rollouts). */
import type { Store } from '../store/db.js';
import { leaseOf } from '../store/leases.js';
import type { Rollout } from '../store/releases.js';
import { holderAlive } from './lease.js';
import type { RolloutPlan } from './rollout-plan.js';

export type RolloutView = Awaited<ReturnType<typeof rolloutView>>;

/** A rollout with its journal as data, and whether the process that runs it is alive. */
export async function rolloutView(db: Store, r: Rollout) {
  const plan = JSON.parse(r.plan) as RolloutPlan;
  const lease = await leaseOf(db, r.service, r.environment);
  const holder = lease && lease.rollout === r.id ? { pid: lease.pid, hostname: lease.hostname, alive: holderAlive(lease), token: lease.token, expiresAt: new Date(lease.expiresAt).toISOString() } : null;
  const state = r.status === 'running' ? (holder?.alive ? 'running' : 'interrupted') : r.status;
  return { id: r.id, service: r.service, environment: r.environment, kind: r.kind, release: r.release, previous: r.previous, status: r.status, state, done: r.done, steps: plan.steps, phase: plan.phase, holder, actor: r.actor, message: r.message, startedAt: new Date(r.startedAt).toISOString() };
}

