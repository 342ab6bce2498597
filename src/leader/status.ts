/**
 * `berth server status`: every server seen in the last minute, which one leads (since when, its
 * epoch and the lease's end), and the store (its kind, where, its schema version). Read from the
 * store, so every server answers the same.
 */
import { storeName, type Store } from '../store/db.js';
import { isPostgres, leaderOf, serversSeen } from '../store/leader.js';
import { schemaVersion } from '../store/migrate.js';

export const SEEN_WITHIN_MS = 60_000;

export interface ServerStatus {
  store: { kind: 'sqlite' | 'postgres'; where: string; schemaVersion: number };
  leader: { id: string; address: string; epoch: number; since: string; expiresAt: string; expired: boolean } | null;
  servers: { id: string; address: string; version: string; startedAt: string; heartbeatAt: string; leads: boolean; self: boolean }[];
  /** The server that answered. */
  self: string;
  /** The database's clock when it answered. */
  at: string;
}

const iso = (ms: number) => new Date(ms).toISOString();

export async function serverStatus(db: Store, self: string): Promise<ServerStatus> {
  const postgres = isPostgres(db);
  const { leader, now } = await leaderOf(db);
  const servers = await serversSeen(db, SEEN_WITHIN_MS);
  const leads = (id: string) => leader !== undefined && leader.holder === id && leader.expiresAt > now;
  return {
    store: { kind: postgres ? 'postgres' : 'sqlite', where: storeName(db) ?? 'unknown', schemaVersion: await schemaVersion(db, postgres ? 'postgres' : 'sqlite') },
    leader: leader ? { id: leader.holder, address: leader.address, epoch: leader.epoch, since: iso(leader.since), expiresAt: iso(leader.expiresAt), expired: leader.expiresAt <= now } : null,
    servers: servers.map((s) => ({ id: s.id, address: s.address, version: s.version, startedAt: iso(s.startedAt), heartbeatAt: iso(s.heartbeatAt), leads: leads(s.id), self: s.id === self })),
    self,
    at: iso(now),
  };
}
