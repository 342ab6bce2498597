/** API tokens: a name, a role, the environments a deployer may change, and the SHA-256 of the secret (never the secret). */
import type { Db } from './db.js';

export type Role = 'viewer' | 'deployer' | 'admin';

export interface TokenRecord {
  id: number;
  name: string;
  role: Role;
  /** Environments a deployer may change; empty = every environment. */
  envs: string[];
  createdBy: string;
  createdAt: number;
  revokedAt: number | null;
}

interface Row {
  id: number;
  name: string;
  role: Role;
  envs: string;
  created_by: string;
  created_at: number;
  revoked_at: number | null;
}

const toRecord = (r: Row): TokenRecord => ({ id: r.id, name: r.name, role: r.role, envs: JSON.parse(r.envs) as string[], createdBy: r.created_by, createdAt: r.created_at, revokedAt: r.revoked_at });
const COLUMNS = 'id, name, role, envs, created_by, created_at, revoked_at';

export function insertToken(db: Db, token: { name: string; role: Role; envs: string[]; hash: string; createdBy: string }, now = Date.now()): TokenRecord {
  const info = db
    .prepare('INSERT INTO tokens (name, role, envs, hash, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?)')
    .run(token.name, token.role, JSON.stringify(token.envs), token.hash, token.createdBy, now);
  return tokenById(db, Number(info.lastInsertRowid))!;
}

export function tokenById(db: Db, id: number): TokenRecord | undefined {
  const row = db.prepare(`SELECT ${COLUMNS} FROM tokens WHERE id = ?`).get(id) as Row | undefined;
  return row && toRecord(row);
}

export function tokenByName(db: Db, name: string): TokenRecord | undefined {
  const row = db.prepare(`SELECT ${COLUMNS} FROM tokens WHERE name = ?`).get(name) as Row | undefined;
  return row && toRecord(row);
}

/** The live (unrevoked) token with this hash. */
export function tokenByHash(db: Db, hash: string): TokenRecord | undefined {
  const row = db.prepare(`SELECT ${COLUMNS} FROM tokens WHERE hash = ? AND revoked_at IS NULL`).get(hash) as Row | undefined;
  return row && toRecord(row);
}

export function listTokens(db: Db): TokenRecord[] {
  return (db.prepare(`SELECT ${COLUMNS} FROM tokens ORDER BY id`).all() as Row[]).map(toRecord);
}

export function countTokens(db: Db): number {
  return (db.prepare('SELECT COUNT(*) AS n FROM tokens').get() as { n: number }).n;
}

/** Returns whether a live token of that name was revoked. */
export function revokeToken(db: Db, name: string, now = Date.now()): boolean {
  return db.prepare('UPDATE tokens SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL').run(now, name).changes > 0;
}
