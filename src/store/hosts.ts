/**
 * A host's operator state: a drained host stays `draining` (gets nothing new)
 * until undrained. Reachability is never stored: it is asked of the engine.
 */
import type { Db } from './db.js';

export interface HostStateRecord {
  name: string;
  state: 'draining';
  reason: string;
  actor: string;
  since: number;
}

export function hostStates(db: Db): Map<string, HostStateRecord> {
  const rows = db.prepare('SELECT name, state, reason, actor, since FROM host_states ORDER BY name').all() as HostStateRecord[];
  return new Map(rows.map((r) => [r.name, r]));
}

export function markDraining(db: Db, name: string, actor: string, reason = '', now = Date.now()): void {
  db.prepare(
    `INSERT INTO host_states (name, state, reason, actor, since) VALUES (?, 'draining', ?, ?, ?)
     ON CONFLICT (name) DO NOTHING`,
  ).run(name, reason, actor, now);
}

/** Returns whether the host was draining. */
export function clearHostState(db: Db, name: string): boolean {
  return db.prepare('DELETE FROM host_states WHERE name = ?').run(name).changes > 0;
}
