/**
 * Berth's store: one SQLite file under the state directory. This module is the
 * only one that opens it; its schema is versioned by the migrations below.
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { isBerthError, unavailable, type BerthError } from '../errors.js';
import { migrations } from './migrations.js';

export type Db = Database.Database;

export const STORE_FILE = 'berth.db';

/** The store files this process opened: a failure of a later write names its file. */
const opened: string[] = [];

export function openStore(stateDir: string): Db {
  const file = join(stateDir, STORE_FILE);
  let db: Db;
  try {
    mkdirSync(dirname(file), { recursive: true });
    db = new Database(file);
  } catch (error) {
    throw storeFailure(error, file) ?? unavailable(`cannot open Berth's store ${file}: ${(error as Error).message}`, {
      fix: `make ${stateDir} writable, or point BERTH_STATE_DIR at a writable folder`,
      cause: error,
    });
  }
  opened.push(file);
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('busy_timeout = 5000');
    db.pragma('foreign_keys = ON');
    migrate(db);
  } catch (error) {
    db.close();
    throw storeFailure(error, file) ?? error;
  }
  return db;
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

/** Applies every migration newer than the file's user_version, each in its own transaction. */
export function migrate(db: Db): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > migrations.length) {
    throw unavailable(`Berth's store is at schema version ${current}, newer than this Berth knows (${migrations.length})`, {
      fix: 'run the Berth version that created this state directory, or point BERTH_STATE_DIR at a fresh folder',
    });
  }
  migrations.forEach((sql, index) => {
    const version = index + 1;
    if (version <= current) return;
    db.transaction(() => {
      db.exec(sql);
      db.pragma(`user_version = ${version}`);
    })();
  });
}
