/**
 * The store suite (store-suite.ts) on SQLite: a fresh file per group (a copy of one migrated once). The races run on one handle:
 * better-sqlite3 waits for the file's lock synchronously, so a second connection in the same
 * process would block the thread the first one needs to commit (SQLITE_BUSY after busy_timeout).
 * One Berth process has one connection; races between processes on one file are the IPAM
 * property test's (network/ipam-fuzz.ts, a worker process per writer).
 */
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { closeStore, openStore, STORE_FILE, type Store } from './db.js';
import { storeSuite } from './store-suite.js';

storeSuite('SQLite', async () => {
  const root = mkdtempSync(join(tmpdir(), 'berth-store-suite-'));
  const opened: Store[] = [];
  let dirs = 0;
  // Migrated once; each group gets a copy of the file (closed, so its WAL is in it).
  const template = join(root, 'template');
  await closeStore(await openStore(template));
  const open = async (dir: string) => {
    const db = await openStore(dir);
    opened.push(db);
    return db;
  };
  return {
    async fresh() {
      const dir = join(root, String(++dirs));
      mkdirSync(dir);
      copyFileSync(join(template, STORE_FILE), join(dir, STORE_FILE));
      const db = await open(dir);
      return { db, twin: async () => db };
    },
    async cleanup() {
      for (const db of opened.splice(0)) await closeStore(db);
      rmSync(root, { recursive: true, force: true });
    },
  };
});
