/** The rollouts as `berth rollout ls|show` and GET /v1/rollouts show them, looked up by id or open. */
import { notFound } from '../errors.js';
import type { Store } from '../store/db.js';
import { openRollouts, rolloutById, type Rollout } from '../store/releases.js';
import { rolloutView, type RolloutView } from '../rollout/rollout-view.js';

/** Rollout `id`, or a not-found error that says how to list them. */
export async function findRollout(db: Store, id: number): Promise<Rollout> {
  const r = await rolloutById(db, id);
  if (!r) throw notFound(`rollout #${id} does not exist`, { fix: 'list the open ones with: berth rollout ls' });
  return r;
}

/** The environment rollout `id` changes (undefined: no such rollout). */
export async function environmentOfRollout(db: Store, id: number): Promise<string | undefined> {
  return (await rolloutById(db, id))?.environment;
}

/** The rollouts still open (running, interrupted, canary), with their journals. */
export async function openRolloutViews(db: Store): Promise<RolloutView[]> {
  return Promise.all((await openRollouts(db)).map((r) => rolloutView(db, r)));
}
