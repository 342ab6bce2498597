/**
 * The leader lease of servers sharing one store, and the servers' register. The lease is one row
 * `(holder, epoch, expires_at)` compared on the database's clock (`now()` on PostgreSQL: the
 * servers' clocks may differ; SQLite has one server, and the process clock). Each change of holder
 * makes the epoch one larger; every write of the executor, the reconciler and IPAM carries the epoch
 * it was made under (leases.ts `Fence.leader`) and is refused in its own transaction once the row has
 * a newer one. Never a session advisory lock: it would strand behind a transaction pooler.
 */
import { PostgresAdapter, sql, type RawBuilder, type Selectable } from 'kysely';
import { inTransaction, type Store } from './db.js';
import type { LeaderTable, ServersTable } from './schema.js';

/** The one leader lease of a store's servers. */
const NAME = 'server';

export interface Leader {
  holder: string;
  /** Where the other servers reach it (its advertised URL). */
  address: string;
  epoch: number;
  /** When this holder took it, on the database's clock (ms). */
  since: number;
  expiresAt: number;
}

export interface LeaderClaim {
  holder: string;
  address: string;
}

/** What a look at the lease saw, with the database's clock at that moment. */
export interface LeaderView {
  leader: Leader | undefined;
  now: number;
}

export type ClaimOutcome = { leading: Leader; now: number } | { led: Leader; now: number };

const toLeader = (r: Selectable<LeaderTable>): Leader => ({ holder: r.holder, address: r.address, epoch: r.epoch, since: r.since, expiresAt: r.expires_at });

export const isPostgres = (db: Store): boolean => db.getExecutor().adapter instanceof PostgresAdapter;

/** The database's clock in epoch ms: PostgreSQL's `now()`; on SQLite, `now` (the process clock). */
export function clockMs(db: Store, now: number): RawBuilder<number> {
  return isPostgres(db) ? sql<number>`(extract(epoch from now()) * 1000)::bigint` : sql<number>`${now}`;
}

async function readClock(db: Store, now: number): Promise<number> {
  if (!isPostgres(db)) return now;
  const { rows } = await sql<{ now: number }>`select ${clockMs(db, now)} as now`.execute(db);
  return Number(rows[0]!.now);
}

export async function leaderOf(db: Store, now = Date.now()): Promise<LeaderView> {
  return inTransaction(db, async (tx) => {
    const row = await tx.selectFrom('leader').selectAll().where('name', '=', NAME).executeTakeFirst();
    return { leader: row && toLeader(row), now: await readClock(tx, now) };
  });
}

/** Takes the lease when nobody holds it or its holder let it expire (with the next epoch); otherwise who leads. */
export async function claimLeadership(db: Store, claim: LeaderClaim, ttlMs: number, now = Date.now(), takeOver?: (held: Leader) => boolean): Promise<ClaimOutcome> {
  return inTransaction(db, async (tx): Promise<ClaimOutcome> => {
    const at = await readClock(tx, now);
    const row = await tx.selectFrom('leader').selectAll().where('name', '=', NAME).executeTakeFirst();
    // Unexpired, it is the holder's, also this holder's own (it stepped down: a new term has a new epoch), unless `takeOver` says its holder is gone.
    if (row && row.expires_at > at && !takeOver?.(toLeader(row))) return { led: toLeader(row), now: at };
    const leader: Leader = { ...claim, epoch: (row?.epoch ?? 0) + 1, since: at, expiresAt: at + ttlMs };
    const values = { holder: leader.holder, address: leader.address, epoch: leader.epoch, since: leader.since, expires_at: leader.expiresAt };
    if (row) await tx.updateTable('leader').set(values).where('name', '=', NAME).where('epoch', '=', row.epoch).execute();
    else await tx.insertInto('leader').values({ name: NAME, ...values }).execute();
    return { leading: leader, now: at };
  });
}

/**
 * Extends the lease by `ttlMs` from the database's now; undefined once another holder has it (a
 * newer epoch). A holder whose lease expired but that nobody took over may renew it: no other
 * server acted under a newer epoch meanwhile.
 */
export async function renewLeadership(db: Store, held: { holder: string; epoch: number }, ttlMs: number, now = Date.now()): Promise<Leader | undefined> {
  const row = await db
    .updateTable('leader')
    .set({ expires_at: sql<number>`${clockMs(db, now)} + ${ttlMs}` })
    .where('name', '=', NAME)
    .where('holder', '=', held.holder)
    .where('epoch', '=', held.epoch)
    .returningAll()
    .executeTakeFirst();
  return row && toLeader(row);
}

/** Gives the lease up at once (a server stopping): the row stays, so the next epoch is still one larger. */
export async function resignLeadership(db: Store, held: { holder: string; epoch: number }, now = Date.now()): Promise<void> {
  await db.updateTable('leader').set({ expires_at: clockMs(db, now) }).where('name', '=', NAME).where('holder', '=', held.holder).where('epoch', '=', held.epoch).execute();
}

/** The newest epoch handed out (0: none yet). */
export async function leaderEpoch(db: Store): Promise<number> {
  const row = await db.selectFrom('leader').select('epoch').where('name', '=', NAME).executeTakeFirst();
  return row?.epoch ?? 0;
}

export interface ServerRecord {
  id: string;
  address: string;
  version: string;
  startedAt: number;
  heartbeatAt: number;
}

const toServer = (r: Selectable<ServersTable>): ServerRecord => ({ id: r.id, address: r.address, version: r.version, startedAt: r.started_at, heartbeatAt: r.heartbeat_at });

/** Records that a server is there (its first call: since when), on the database's clock. */
export async function heartbeatServer(db: Store, server: Pick<ServerRecord, 'id' | 'address' | 'version'>, now = Date.now()): Promise<void> {
  const at = clockMs(db, now);
  await db
    .insertInto('servers')
    .values({ id: server.id, address: server.address, version: server.version, started_at: at, heartbeat_at: at })
    .onConflict((oc) => oc.column('id').doUpdateSet({ heartbeat_at: at, address: server.address, version: server.version }))
    .execute();
}

/** The servers whose last heartbeat is at most `withinMs` old, oldest first; and forgets those gone for a day. */
export async function serversSeen(db: Store, withinMs: number, now = Date.now()): Promise<ServerRecord[]> {
  await db.deleteFrom('servers').where('heartbeat_at', '<', sql<number>`${clockMs(db, now)} - ${86_400_000}`).execute();
  const rows = await db.selectFrom('servers').selectAll().where('heartbeat_at', '>=', sql<number>`${clockMs(db, now)} - ${withinMs}`).orderBy('started_at').orderBy('id').execute();
  return rows.map(toServer);
}
