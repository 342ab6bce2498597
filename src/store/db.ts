/**
 * Berth's store: one SQLite file under the state directory (the default), or a PostgreSQL
 * database named by a postgres:// URL, behind one asynchronous interface, the typed query layer
 * Kysely (`Store`). This module is the only one that opens it; on open, migrate.ts brings its
 * schema to this Berth's version. Callers see only `Store` and the functions of src/store/,
 * which are written once for both databases.
 */
import Database from 'better-sqlite3';
import { Kysely, SqliteAdapter, SqliteDriver, SqliteIntrospector, SqliteQueryCompiler, type Dialect } from 'kysely';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { conflict, invalid, isBerthError, unavailable, type BerthError } from '../errors.js';
import { JoiningDriver } from './joined-transactions.js';
import { makePrivateFile, makeStateDir } from './state-modes.js';
import { describeLocation, storeErrorOrigin, storeLocation, STORE_FILE, type LocationOptions, type StoreLocation } from './location.js';
import { migrate } from './migrate.js';
import type { SqlDialect } from './migrations/columns.js';
import type { Schema } from './schema.js';

export { STORE_FILE, type StoreLocation } from './location.js';

/** The store, or one of its transactions (see `inTransaction`). */
export type Store = Kysely<Schema>;

/** What the store functions need to know of an open store beyond its queries. */
interface Opened {
  readonly dialect: SqlDialect;
  readonly driver: JoiningDriver;
  /** How messages name it: the SQLite file, or PostgreSQL user@host:port/db (never a password). */
  readonly where: string;
  readonly sqlite?: Database.Database;
  readonly listen?: import('./postgres.js').Listen;
}

/** The stores this process opened: a failure of a later write names its store. */
const opened: string[] = [];
const stores = new WeakMap<Store, Opened>();

export interface StoreOptions extends LocationOptions {
  /** SQLite: how long a write waits for another connection's write lock before the store is "busy" (5 s). */
  busyTimeoutMs?: number;
  /** PostgreSQL: the most connections this process opens (10). */
  poolSize?: number;
  /** PostgreSQL: how long a connection may take before the database is "unavailable" (10 s). */
  connectTimeoutMs?: number;
}

/** Opens the SQLite store of a state folder, and brings its schema up to date. */
export async function openStore(stateDir: string, options: StoreOptions = {}): Promise<Store> {
  return openSqlite(stateDir, join(stateDir, STORE_FILE), options);
}

/** Opens the store at a location (a state folder, or a postgres:// URL: see location.ts), and brings its schema up to date. */
export async function openStoreAt(location: StoreLocation | string, options: StoreOptions = {}): Promise<Store> {
  const at = typeof location === 'string' ? storeLocation(location, options) : location;
  if (at.kind === 'sqlite') return openSqlite(at.dir, at.file, options);
  const { openPostgres } = await import('./postgres.js');
  const where = describeLocation(at);
  const { store, driver, listen } = openPostgres(at, options);
  opened.push(where);
  stores.set(store, { dialect: 'postgres', driver, where, listen });
  try {
    await migrate(store, 'postgres');
  } catch (error) {
    await store.destroy();
    throw storeFailure(error, where) ?? error;
  }
  return store;
}

async function openSqlite(stateDir: string, file: string, options: StoreOptions): Promise<Store> {
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
  /*
   * SQLite's deferred BEGIN takes its write lock only at the first write, and a transaction that
   * read before another process wrote then fails at once with SQLITE_BUSY instead of waiting:
   * every transaction here writes, so each takes the lock up front (BEGIN IMMEDIATE) and waits
   * for it under busy_timeout.
   */
  const driver = new JoiningDriver(new SqliteDriver({ database: sqlite }), () => 'begin immediate');
  const dialect: Dialect = {
    createAdapter: () => new SqliteAdapter(),
    createDriver: () => driver,
    createIntrospector: (db) => new SqliteIntrospector(db),
    createQueryCompiler: () => new SqliteQueryCompiler(),
  };
  const store = new Kysely<Schema>({ dialect });
  try {
    await migrate(store, 'sqlite');
  } catch (error) {
    await store.destroy();
    throw storeFailure(error, file) ?? error;
  }
  stores.set(store, { dialect: 'sqlite', driver, where: file, sqlite });
  return store;
}

/** Which database stands behind a store opened by openStore. */
export function storeDialect(db: Store): SqlDialect {
  const known = stores.get(db);
  if (!known) throw new Error('this store was not opened by openStore (or is a transaction)');
  return known.dialect;
}

/** PostgreSQL's LISTEN on a connection of its own (undefined on SQLite, where one process is the only writer). */
export function storeListen(db: Store): import('./postgres.js').Listen | undefined {
  return stores.get(db)?.listen;
}

/** How messages name the store: the SQLite file, or PostgreSQL user@host:port/db. */
export function storeName(db: Store): string | undefined {
  return stores.get(db)?.where;
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

/** How often a PostgreSQL transaction that lost a race (serialization failure, deadlock) runs again. */
const ATTEMPTS = 8;

/**
 * Runs `work` in one transaction: all its writes or none. Inside another transaction (its `tx`,
 * or the store from within its call chain) it joins that one.
 *
 * On SQLite a transaction holds the file's write lock from its start, so transactions never
 * overlap. On PostgreSQL each is SERIALIZABLE: the database lets them overlap and refuses one that
 * could not have run one after the other (SQLSTATE 40001) or that deadlocked (40P01); such a
 * transaction is run again from its start, so `work` must only read and write the store (what it
 * decides is decided again on what it then reads). One that keeps losing is a `conflict`.
 */
export async function inTransaction<T>(db: Store, work: (tx: Store) => Promise<T>): Promise<T> {
  if (db.isTransaction) return work(db);
  const known = stores.get(db);
  if (!known) return db.transaction().execute(work);
  if (known.driver.joined()) return work(db);
  if (known.dialect === 'sqlite') return known.driver.run(() => db.transaction().execute(work));
  for (let attempt = 1; ; attempt++) {
    try {
      return await known.driver.run(() => db.transaction().execute(work));
    } catch (error) {
      if (!isRetryable(error)) throw error;
      if (attempt >= ATTEMPTS) {
        throw conflict(`Berth's store ${known.where}: a transaction lost ${ATTEMPTS} times in a row to concurrent writes of the same rows`, {
          fix: 'run the command again; if it keeps failing, see what else writes to this store (berth server status)',
          cause: error,
        });
      }
      // Spread apart those that collided, more with each attempt.
      await sleep(Math.random() * 5 * 2 ** attempt);
    }
  }
}

/** PostgreSQL's "could not serialize access" and "deadlock detected": running again is correct. */
function isRetryable(error: unknown): boolean {
  const code = (error as { code?: unknown } | undefined)?.code;
  return code === '40001' || code === '40P01';
}

/** A write refused because a row with its key (primary or UNIQUE) exists, on either database. */
export function isUniqueViolation(error: unknown): boolean {
  const code = (error as { code?: unknown } | undefined)?.code;
  return code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === '23505';
}

/**
 * The SQLite file behind a store, for what only SQLite has (a WAL checkpoint in
 * a test, a direct write that simulates tampering). Nothing else uses it.
 */
export function sqliteOf(db: Store): Database.Database {
  const sqlite = stores.get(db)?.sqlite;
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

/** Node's words for a database that does not answer. */
const UNREACHABLE = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'EPIPE']);

/**
 * A failure of the store as an error naming the store and what to do: the SQLite file unusable,
 * or the PostgreSQL database not answering (`unavailable`) or refusing the login (`invalid`);
 * undefined for anything else. Without `file`, the last store this process opened.
 */
export function storeFailure(error: unknown, file = opened.at(-1)): BerthError | undefined {
  if (isBerthError(error) || !(error instanceof Error)) return undefined;
  const postgres = storeErrorOrigin(error);
  if (postgres !== undefined) return postgresFailure(error, postgres);
  const code = (error as { code?: unknown }).code;
  if (typeof code !== 'string' || !code.startsWith('SQLITE_')) return undefined;
  const known = STORE_FAILURES.find(([pattern]) => pattern.test(code));
  const where = file ?? `the store (${STORE_FILE})`;
  if (!known) return unavailable(`Berth's store ${where} failed: ${error.message} (${code})`, { fix: 'run the command again; if it fails the same way, restore the store from a backup', cause: error });
  const [, what, fix] = known;
  return unavailable(`Berth's store ${where} ${what}: ${error.message} (${code})`, { fix: fix(where), cause: error });
}

/** PostgreSQL's SQLSTATE classes and Node's network errors, as what the operator can do. */
function postgresFailure(error: Error, where: string): BerthError | undefined {
  const code = String((error as { code?: unknown }).code ?? '');
  const server = where.replace(/^PostgreSQL [^@]*@([^/]*)\/.*$/, '$1');
  if (code === '28P01' || code === '28000') {
    return invalid(`Berth's store ${where} refused the login: ${error.message}`, { fix: 'check the user in the URL and the password in PGPASSWORD or --store-password-file (and pg_hba.conf on the database server)', cause: error });
  }
  if (code === '3D000') return invalid(`Berth's store ${where} does not exist: ${error.message}`, { fix: 'create the database first (createdb -O USER DATABASE), or name an existing one in the URL', cause: error });
  if (code === '42501') return invalid(`Berth's store ${where} refused a statement for lack of privileges: ${error.message}`, { fix: 'make the user of the URL the owner of the database (ALTER DATABASE … OWNER TO …)', cause: error });
  const unreachable =
    UNREACHABLE.has(code) ||
    code.startsWith('08') ||
    code.startsWith('53') ||
    code.startsWith('57P') ||
    /connection terminated|timeout exceeded when trying to connect|connection timeout|server closed the connection/i.test(error.message);
  if (!unreachable) return undefined;
  return unavailable(`Berth's store ${where} does not answer: ${error.message}${code ? ` (${code})` : ''}`, {
    fix: `check that PostgreSQL runs at ${server} and that this machine reaches it (its listen_addresses, a firewall); then run the command again`,
    cause: error,
  });
}
