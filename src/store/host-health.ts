/**
 * Each host's health as the server's watcher last decided it (fleet/host-health.ts): the
 * state, since when, and why. A host without a row was never found failing. Reachability
 * itself is still asked of the engine; this is what the failover and placement act on.
 */
import type { Store } from './db.js';

export type StoredHealthState = 'up' | 'suspect' | 'down' | 'returning';

export interface HostHealthRecord {
  name: string;
  state: StoredHealthState;
  since: number;
  reason: string;
}

export async function hostHealth(db: Store): Promise<Map<string, HostHealthRecord>> {
  const rows = await db.selectFrom('host_health').select(['name', 'state', 'since', 'reason']).orderBy('name').execute();
  return new Map(rows.map((r) => [r.name, { ...r, state: r.state as StoredHealthState }]));
}

export async function setHostHealth(db: Store, record: HostHealthRecord): Promise<void> {
  await db
    .insertInto('host_health')
    .values(record)
    .onConflict((oc) => oc.column('name').doUpdateSet({ state: record.state, since: record.since, reason: record.reason }))
    .execute();
}

/** Hosts that are down: out of the fleet until they return (no engine call reaches them, nothing is placed there). */
export async function downHosts(db: Store): Promise<Set<string>> {
  const rows = await db.selectFrom('host_health').select('name').where('state', '=', 'down').execute();
  return new Set(rows.map((r) => r.name));
}
