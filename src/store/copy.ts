/**
 * `berth store copy`: every row of every table of one store into another, empty one (an embedded
 * SQLite store onto PostgreSQL), in one transaction of the target, its ids kept (PostgreSQL's
 * identity counters are then moved past them). Both are migrated to this Berth's schema first, so
 * their tables are the same. Afterwards each table is read back from both and compared: its row
 * count and a checksum of its rows (each row's columns in a fixed order, the rows sorted, SHA-256).
 */
import { createHash } from 'node:crypto';
import { sql } from 'kysely';
import { conflict, failed } from '../errors.js';
import { inTransaction, type Store } from './db.js';
import { isPostgres } from './leader.js';
import type { Schema } from './schema.js';

/** Every table of the schema (schema.ts), in a fixed order. */
export const TABLES: readonly (keyof Schema)[] = [
  'approvals', 'audit', 'builds', 'config_bundles', 'config_versions', 'deployments', 'events', 'file_hashes', 'front_doors', 'host_health', 'host_states', 'ipam_allocations', 'key_fingerprints',
  'leader', 'lease_tokens', 'leases', 'pushes', 'refs', 'releases', 'rollouts', 'scales', 'secrets', 'servers', 'slots', 'tokens', 'warden_leases',
];

/** The identity columns PostgreSQL counts (migrations' autoId). */
const IDENTITY: Partial<Record<keyof Schema, string>> = { deployments: 'id', rollouts: 'id', approvals: 'id', tokens: 'id', events: 'seq' };

export interface TableCopy {
  table: string;
  rows: number;
  checksum: string;
}

const BATCH = 500;

/** The tables of `db` that hold rows, with how many. */
export async function nonEmptyTables(db: Store): Promise<{ table: string; rows: number }[]> {
  const counts: { table: string; rows: number }[] = [];
  for (const table of TABLES) {
    const row = await db.selectFrom(table).select((eb) => eb.fn.countAll().as('n')).executeTakeFirst();
    const rows = Number(row?.n ?? 0);
    if (rows > 0) counts.push({ table, rows });
  }
  return counts;
}

/** Copies every row of `from` into `to`, which must be empty; returns each table's count and checksum, the same on both. */
export async function copyStore(from: Store, to: Store, describeTo: string): Promise<TableCopy[]> {
  const filled = await nonEmptyTables(to);
  if (filled.length > 0) {
    throw conflict(`${describeTo} is not empty: ${filled.map((t) => `${t.table} (${t.rows} rows)`).join(', ')}`, { fix: 'copy into a new, empty database (createdb -O USER NAME), or drop this one first if it holds nothing you need' });
  }
  await inTransaction(to, async (tx) => {
    for (const table of TABLES) {
      const rows = await from.selectFrom(table).selectAll().execute();
      for (let i = 0; i < rows.length; i += BATCH) await tx.insertInto(table).values(rows.slice(i, i + BATCH) as never).execute();
      const id = IDENTITY[table];
      if (id && isPostgres(tx) && rows.length > 0) {
        await sql`select setval(pg_get_serial_sequence(${table}, ${id}), (select max(${sql.ref(id)}) from ${sql.table(table)}))`.execute(tx);
      }
    }
  });
  const copied: TableCopy[] = [];
  for (const table of TABLES) {
    const [source, target] = [await tableSum(from, table), await tableSum(to, table)];
    if (source.rows !== target.rows || source.checksum !== target.checksum) {
      throw failed(`the copy of table ${table} differs: ${source.rows} rows (checksum ${source.checksum.slice(0, 12)}) in the source, ${target.rows} (${target.checksum.slice(0, 12)}) in ${describeTo}`, {
        fix: 'this is a bug in Berth: report it; the source store is unchanged, drop the target database and keep running on the source',
      });
    }
    copied.push({ table, ...source });
  }
  return copied;
}

/** A table's row count and checksum, the same for the same rows on either database. */
export async function tableSum(db: Store, table: keyof Schema): Promise<{ rows: number; checksum: string }> {
  const rows = (await db.selectFrom(table).selectAll().execute()).map((row) => canonicalRow(row as Record<string, unknown>));
  rows.sort();
  const hash = createHash('sha256');
  for (const row of rows) hash.update(row).update('\n');
  return { rows: rows.length, checksum: hash.digest('hex') };
}

function canonicalRow(row: Record<string, unknown>): string {
  return JSON.stringify(
    Object.keys(row)
      .sort()
      .map((key) => {
        const value = row[key];
        if (value instanceof Uint8Array) return [key, `bytes:${Buffer.from(value).toString('hex')}`];
        if (typeof value === 'bigint') return [key, Number(value)];
        return [key, value ?? null];
      }),
  );
}
