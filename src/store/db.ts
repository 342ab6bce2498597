/**
 * Berth's store: one SQLite file under the state directory. This module is the
 * only one that opens it; its schema is versioned by the migrations below.
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { unavailable } from '../errors.js';
import { migrations } from './migrations.js';

export type Db = Database.Database;

export const STORE_FILE = 'berth.db';

export function openStore(stateDir: string): Db {
  const file = join(stateDir, STORE_FILE);
  let db: Db;
  try {
    mkdirSync(dirname(file), { recursive: true });
    db = new Database(file);
  } catch (error) {
    throw unavailable(`cannot open Berth's store ${file}: ${(error as Error).message}`, {
      fix: `make ${stateDir} writable, or point BERTH_STATE_DIR at a writable folder`,
      cause: error,
    });
  }
  db.pragma('journal_mode = WAL');
  db.pragma('busy_timeout = 5000');
  db.pragma('foreign_keys = ON');
  migrate(db);
  return db;
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
