/** API tokens: a name, a role, the environments a deployer may change, and the SHA-256 of the secret (never the secret). */
import type { Selectable } from 'kysely';
import { conflict } from '../errors.js';
import { isUniqueViolation, type Store } from './db.js';
import type { TokensTable } from './schema.js';

/** `host`: a warden's token, whose `envs` holds the one host it speaks for (it may renew that host's lease, nothing else). */
export type Role = 'viewer' | 'deployer' | 'admin' | 'host';

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

/** Every column but the hash: a token's record never carries it. */
const COLUMNS = ['id', 'name', 'role', 'envs', 'created_by', 'created_at', 'revoked_at'] as const;
type Row = Pick<Selectable<TokensTable>, (typeof COLUMNS)[number]>;

const toRecord = (r: Row): TokenRecord => ({ id: r.id, name: r.name, role: r.role as Role, envs: JSON.parse(r.envs) as string[], createdBy: r.created_by, createdAt: r.created_at, revokedAt: r.revoked_at });

/** Records a token; a `conflict` when one of that name exists (also when two are created at once). */
export async function insertToken(db: Store, token: { name: string; role: Role; envs: string[]; hash: string; createdBy: string }, now = Date.now()): Promise<TokenRecord> {
  try {
    const row = await db
      .insertInto('tokens')
      .values({ name: token.name, role: token.role, envs: JSON.stringify(token.envs), hash: token.hash, created_by: token.createdBy, created_at: now })
      .returning(COLUMNS)
      .executeTakeFirstOrThrow();
    return toRecord(row);
  } catch (error) {
    if (!isUniqueViolation(error)) throw error;
    throw conflict(`a token named ${token.name} exists already`, { fix: `choose another name, or revoke it first: berth token revoke ${token.name}`, cause: error });
  }
}

export async function tokenById(db: Store, id: number): Promise<TokenRecord | undefined> {
  const row = await db.selectFrom('tokens').select(COLUMNS).where('id', '=', id).executeTakeFirst();
  return row && toRecord(row);
}

export async function tokenByName(db: Store, name: string): Promise<TokenRecord | undefined> {
  const row = await db.selectFrom('tokens').select(COLUMNS).where('name', '=', name).executeTakeFirst();
  return row && toRecord(row);
}

/** The live (unrevoked) token with this hash. */
export async function tokenByHash(db: Store, hash: string): Promise<TokenRecord | undefined> {
  const row = await db.selectFrom('tokens').select(COLUMNS).where('hash', '=', hash).where('revoked_at', 'is', null).executeTakeFirst();
  return row && toRecord(row);
}

export async function listTokens(db: Store): Promise<TokenRecord[]> {
  return (await db.selectFrom('tokens').select(COLUMNS).orderBy('id').execute()).map(toRecord);
}

export async function countTokens(db: Store): Promise<number> {
  const row = await db.selectFrom('tokens').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow();
  return Number(row.n);
}

/** Returns whether a live token of that name was revoked. */
export async function revokeToken(db: Store, name: string, now = Date.now()): Promise<boolean> {
  const result = await db.updateTable('tokens').set({ revoked_at: now }).where('name', '=', name).where('revoked_at', 'is', null).executeTakeFirst();
  return result.numUpdatedRows > 0n;
}
