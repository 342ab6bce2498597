/** Test support: a migrated store in a fresh folder for one test file, closed and removed after it. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import { closeStore, openStore, type Store } from '../store/db.js';

/** Opens the store before the file's tests (handing it to `opened`) and removes it after them; returns its folder. */
export function tempStoreForFile(prefix: string, opened: (db: Store) => void): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  let db: Store | undefined;
  before(async () => {
    db = await openStore(dir);
    opened(db);
  });
  after(async () => {
    if (db) await closeStore(db);
    rmSync(dir, { recursive: true, force: true });
  });
  return dir;
}
