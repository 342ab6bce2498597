/**
 * Berth's store: one SQLite file under the state directory, behind one
 * asynchronous interface, the typed query layer Kysely (`Store`). This module
 * is the only one that opens it; on open, migrate.ts brings its schema to this Berth's version.
 * Callers see only `Store` and the functions of src/store/, so another SQL
 * database can stand behind the same interface without touching them.
 */
import Database from 'better-sqlite3';
import { CompiledQuery, Kysely, SqliteAdapter, SqliteDriver, SqliteIntrospector, SqliteQueryCompiler, type DatabaseConnection, type Dialect } from 'kysely';
import { AsyncLocalStorage } from 'node:async_hooks';
import { dirname, join } from 'node:path';
import { makePrivateFile, makeStateDir } from './state-modes.js';
import { isBerthError, unavailable, type BerthError } from '../errors.js';
import { migrate } from './migrate.js';
import type { Schema } from './schema.js';

/** The store, or one of its transactions (see `inTransaction`). */
export type Store = Kysely<Schema>;

export const STORE_FILE = 'berth.db';

/** The store files this process opened: a failure of a later write names its file. */
const opened: string[] = [];
const sqliteHandles = new WeakMap<Store, Database.Database>();

/**
 * The transaction an async call chain is inside, per store file. A store
 * function called with the store itself (not the transaction) from inside
 * `inTransaction` runs on the transaction's connection instead of waiting for
 * it: with one connection per store that wait would never end, and a fenced
 * write (leases.ts) can call any store function as it is.
 */
interface Held {
  readonly sqlite: Database.Database;
  connection?: DatabaseConnection;
  /** Queries borrowing the transaction's connection and not yet released. */
  borrowed: number;
}
const inside = new AsyncLocalStorage<Held>();

/**
 * SQLite's deferred BEGIN takes its write lock only at the first write, and a
 * transaction that read before another process wrote then fails at once with
 * SQLITE_BUSY instead of waiting: every transaction here writes, so each takes
 * the lock up front (BEGIN IMMEDIATE) and waits for it under busy_timeout.
 */
class BerthSqliteDriver extends SqliteDriver {
  constructor(private readonly sqlite: Database.Database) {
    super({ database: sqlite });
  }

  #held(): Held | undefined {
    const held = inside.getStore();
    return held?.sqlite === this.sqlite ? held : undefined;
  }

  override async acquireConnection(): Promise<DatabaseConnection> {
    const held = this.#held();
    if (held?.connection) {
      held.borrowed++;
      return held.connection;
    }
    return super.acquireConnection();
  }

  override async releaseConnection(): Promise<void> {
    const held = this.#held();
    if (held && held.borrowed > 0) {
      held.borrowed--;
      return;
    }
    return super.releaseConnection();
  }

  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin immediate'));
    const held = this.#held();
    if (held) held.connection = connection;
  }

  override async commitTransaction(connection: DatabaseConnection): Promise<void> {
    try {
      await super.commitTransaction(connection);
    } finally {
      this.#ended();
    }
  }

  override async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    try {
      await super.rollbackTransaction(connection);
    } finally {
      this.#ended();
    }
  }

  #ended(): void {
    const held = this.#held();
    if (held) delete held.connection;
  }
}

function sqliteDialect(database: Database.Database): Dialect {
  return {
    createAdapter: () => new SqliteAdapter(),
    createDriver: () => new BerthSqliteDriver(database),
    createIntrospector: (db) => new SqliteIntrospector(db),
    createQueryCompiler: () => new SqliteQueryCompiler(),
  };
}

export interface StoreOptions {
  /** How long a write waits for another connection's write lock before the store is "busy" (5 s). */
  busyTimeoutMs?: number;
}

export async function openStore(stateDir: string, options: StoreOptions = {}): Promise<Store> {
  const file = join(stateDir, STORE_FILE);
  let sqlite: Database.Database;
  try {
    makeStateDir(dirname(file));
    makePrivateFile(file);
    sqlite = new Database(file);
  } catch (error) {
    throw storeFailure(error, file) ?? unavailable(`cannot open Berth's store ${file}: ${(error as Error).message}`, {
      fix: `make ${stateDir} writable, or point BERTH_STATE_DIR at a writable folder`,
      cause: error,
    });
  }
  opened.push(file);
  try {
    sqlite.pragma('journal_mode = WAL');
    sqlite.pragma(`busy_timeout = ${Math.max(0, Math.floor(options.busyTimeoutMs ?? 5000))}`);
    sqlite.pragma('foreign_keys = ON');
  } catch (error) {
    sqlite.close();
    throw storeFailure(error, file) ?? error;
  }
  const store = new Kysely<Schema>({ dialect: sqliteDialect(sqlite) });
  try {
    await migrate(store, 'sqlite');
  } catch (error) {
    await store.destroy();
    throw storeFailure(error, file) ?? error;
  }
  sqliteHandles.set(store, sqlite);
  return store;
}

/** Closes the store; queries still waiting for it finish first. */
export async function closeStore(db: Store): Promise<void> {
  closed.add(db);
  await db.destroy();
}

const closed = new WeakSet<Store>();

/** Whether `closeStore` was called on it (a lease renewal then stops instead of retrying). */
export function isStoreClosed(db: Store): boolean {
  return closed.has(db);
}

/**
 * Runs `work` in one transaction: all its writes or none. Inside another
 * transaction (its `tx`, or the store from within its call chain) it joins that one.
 */
export function inTransaction<T>(db: Store, work: (tx: Store) => Promise<T>): Promise<T> {
  if (db.isTransaction) return work(db);
  const sqlite = sqliteHandles.get(db);
  const held = inside.getStore();
  if (sqlite && held?.sqlite === sqlite && held.connection) return work(db);
  if (!sqlite) return db.transaction().execute(work);
  return inside.run({ sqlite, borrowed: 0 }, () => db.transaction().execute(work));
}

/**
 * The SQLite file behind a store, for what only SQLite has (a WAL checkpoint in
 * a test, a direct write that simulates tampering). Nothing else uses it.
 */
export function sqliteOf(db: Store): Database.Database {
  const sqlite = sqliteHandles.get(db);
  if (!sqlite) throw new Error('this store is not a SQLite file opened by openStore (or is a transaction)');
  return sqlite;
}

/** What SQLite's result codes mean for the user: the store file is unusable, and what to do about it. */
const STORE_FAILURES: [RegExp, string, (file: string) => string][] = [
  [/^SQLITE_READONLY/, 'cannot be written', (f) => `make ${f} and its folder writable by this user (and not on a read-only mount), then run the command again`],
  [/^SQLITE_(CORRUPT|NOTADB)/, 'is damaged (not a valid SQLite database)', (f) => `restore ${f} from a backup (with its -wal file, if any), or move it aside to start with an empty store (Berth then forgets its releases, rollouts and addresses)`],
  [/^SQLITE_FULL/, 'cannot grow: the disk is full', (f) => `free space on the file system of ${dirname(f)}, then run the command again`],
  [/^SQLITE_CANTOPEN/, 'cannot be opened', (f) => `check that ${dirname(f)} exists and is writable by this user, or point BERTH_STATE_DIR at a writable folder`],
  [/^SQLITE_IOERR/, 'could not be read or written (an I/O error)', (f) => `check the disk and the file system of ${f} (dmesg), free space, then run the command again`],
];

/**
 * A SQLite failure of the store's file as an `unavailable` error naming the
 * file and what to do; undefined for anything else. Without `file`, the last
 * store this process opened.
 */
export function storeFailure(error: unknown, file = opened.at(-1)): BerthError | undefined {
  if (isBerthError(error) || !(error instanceof Error)) return undefined;
  const code = (error as { code?: unknown }).code;
  if (typeof code !== 'string' || !code.startsWith('SQLITE_')) return undefined;
  const known = STORE_FAILURES.find(([pattern]) => pattern.test(code));
  const where = file ?? `the store (${STORE_FILE})`;
  if (!known) return unavailable(`Berth's store ${where} failed: ${error.message} (${code})`, { fix: 'run the command again; if it fails the same way, restore the store from a backup', cause: error });
  const [, what, fix] = known;
  return unavailable(`Berth's store ${where} ${what}: ${error.message} (${code})`, { fix: fix(where), cause: error });
}
