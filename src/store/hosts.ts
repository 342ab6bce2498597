/**
 * A host's operator state: a drained host stays `draining` (gets nothing new)
 * until undrained. Reachability is never stored: it is asked of the engine.
 */
import type { Store } from './db.js';

export interface HostStateRecord {
  name: string;
  state: 'draining';
  reason: string;
  actor: string;
  since: number;
}

export async function hostStates(db: Store): Promise<Map<string, HostStateRecord>> {
  const rows = await db.selectFrom('host_states').select(['name', 'state', 'reason', 'actor', 'since']).orderBy('name').execute();
  return new Map(rows.map((r) => [r.name, { ...r, state: r.state as HostStateRecord['state'] }]));
}

export async function markDraining(db: Store, name: string, actor: string, reason = '', now = Date.now()): Promise<void> {
  await db
    .insertInto('host_states')
    .values({ name, state: 'draining', reason, actor, since: now })
    .onConflict((oc) => oc.column('name').doNothing())
    .execute();
}

/** Returns whether the host was draining. */
export async function clearHostState(db: Store, name: string): Promise<boolean> {
  const result = await db.deleteFrom('host_states').where('name', '=', name).executeTakeFirst();
  return result.numDeletedRows > 0n;
}
