/**
 * Applies the migrations (migrations.ts) newer than a store's schema version, each in its own
 * transaction together with the new version, so a store is always at one version or the next.
 */
import { sql, type Kysely } from 'kysely';
import { unavailable } from '../errors.js';
import type { SqlDialect } from './migrations/columns.js';
import { migrations } from './migrations.js';

/** Where a database keeps the version its schema is at. */
interface VersionRecord {
  /** Makes the record exist (outside any transaction). */
  prepare(db: Kysely<any>): Promise<void>;
  /** Inside a migration's transaction, first: other processes migrating the same store wait here. */
  lock(tx: Kysely<any>): Promise<void>;
  read(db: Kysely<any>): Promise<number>;
  write(tx: Kysely<any>, version: number): Promise<void>;
}

/**
 * SQLite keeps it in the file's header (`user_version`), where every Berth so far wrote it: a
 * store an older Berth left is read right. BEGIN IMMEDIATE (db.ts) already holds the write lock.
 */
const sqliteVersion: VersionRecord = {
  prepare: async () => {},
  lock: async () => {},
  read: async (db) => {
    const { rows } = await sql<{ user_version: number }>`pragma user_version`.execute(db);
    return rows[0]?.user_version ?? 0;
  },
  write: async (tx, version) => {
    await sql.raw(`pragma user_version = ${Math.trunc(version)}`).execute(tx);
  },
};

/**
 * PostgreSQL has no such header: a `schema_version` table, one row per version applied, and a
 * transaction-scoped advisory lock so that several servers starting at once migrate one after
 * the other. A migration runs READ COMMITTED (not the store's usual SERIALIZABLE): the version is
 * read again after the lock is granted, and must see what the process before it committed.
 */
const MIGRATION_LOCK = 0x62657274; // "bert"
const postgresVersion: VersionRecord = {
  prepare: async (db) => {
    await db.schema
      .createTable('schema_version')
      .ifNotExists()
      .addColumn('version', 'integer', (c) => c.primaryKey())
      .execute();
  },
  lock: async (tx) => {
    await sql`select pg_advisory_xact_lock(${sql.lit(MIGRATION_LOCK)})`.execute(tx);
  },
  read: async (db) => {
    const { rows } = await sql<{ version: number | string | null }>`select max(version) as version from schema_version`.execute(db);
    return Number(rows[0]?.version ?? 0);
  },
  write: async (tx, version) => {
    await sql`insert into schema_version (version) values (${sql.lit(Math.trunc(version))})`.execute(tx);
  },
};

const records: Record<SqlDialect, VersionRecord> = { sqlite: sqliteVersion, postgres: postgresVersion };

export async function migrate(db: Kysely<any>, dialect: SqlDialect): Promise<void> {
  const record = records[dialect];
  await record.prepare(db);
  const current = await record.read(db);
  if (current > migrations.length) {
    throw unavailable(`Berth's store is at schema version ${current}, newer than this Berth knows (${migrations.length})`, {
      fix: 'run the Berth version that created this state directory, or point BERTH_STATE_DIR at a fresh folder',
    });
  }
  for (const [index, migration] of migrations.entries()) {
    const version = index + 1;
    if (version <= current) continue;
    await db.transaction().setIsolationLevel('read committed').execute(async (tx) => {
      await record.lock(tx);
      // Another process opening the same store may have applied it while this one waited.
      if ((await record.read(tx)) >= version) return;
      await migration(tx, dialect);
      await record.write(tx, version);
    });
  }
}

/** The schema version a store is at (what `berth server status` shows). */
export async function schemaVersion(db: Kysely<any>, dialect: SqlDialect): Promise<number> {
  return records[dialect].read(db);
}
