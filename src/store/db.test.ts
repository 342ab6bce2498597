import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { isBerthError } from '../errors.js';
import { sql } from 'kysely';
import { closeStore, openStore, storeFailure, STORE_FILE } from './db.js';

describe('a store that cannot be written or is damaged', () => {
  const dirs: string[] = [];
  const stateDir = () => {
    const dir = mkdtempSync(join(tmpdir(), 'berth-store-'));
    dirs.push(dir);
    return dir;
  };
  after(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it('a file that is not a database is unavailable, naming the file and how to restore it', async () => {
    const dir = stateDir();
    writeFileSync(join(dir, STORE_FILE), 'this is not SQLite, it is a text file long enough to be read as a header '.repeat(20));
    await assert.rejects(
      openStore(dir),
      (error: unknown) =>
        isBerthError(error) &&
        error.kind === 'unavailable' &&
        error.message.includes(join(dir, STORE_FILE)) &&
        /is damaged/.test(error.message) &&
        /restore .* from a backup/.test(error.fix ?? ''),
    );
  });

  it('a write to a file that cannot be written (immutable, so even root cannot) is unavailable, naming the file and the fix', async () => {
    const dir = stateDir();
    const file = join(dir, STORE_FILE);
    await closeStore(await openStore(dir));
    execFileSync('chattr', ['+i', file]);
    try {
      const db = await openStore(dir);
      let caught: unknown;
      try {
        await sql`INSERT INTO scales (service, environment, replicas) VALUES ('web', 'dev', 1)`.execute(db);
      } catch (error) {
        caught = error;
      } finally {
        await closeStore(db);
      }
      assert.equal((caught as { code?: string }).code, 'SQLITE_READONLY');
      const mapped = storeFailure(caught);
      assert.equal(mapped?.kind, 'unavailable');
      assert.match(mapped!.message, new RegExp(`store ${file} cannot be written: attempt to write a readonly database`));
      assert.match(mapped!.fix!, /writable/);
    } finally {
      execFileSync('chattr', ['-i', file]);
    }
  });

  it('anything that is not a SQLite failure is left alone', () => {
    assert.equal(storeFailure(new Error('boom')), undefined);
    assert.equal(storeFailure(Object.assign(new Error('full'), { code: 'ENOSPC' })), undefined);
    assert.match(storeFailure(Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' }), '/s/berth.db')!.fix!, /free space on the file system of \/s/);
  });
});
