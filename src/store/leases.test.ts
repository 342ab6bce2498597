/** Migration 010: a lock an older Berth left becomes an expired lease, so the next command takes it over. */
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { sql } from 'kysely';
import { closeStore, openStore, STORE_FILE } from './db.js';
import { lastToken, leaseOf } from './leases.js';
import { legacySqliteMigrations } from './migrations/legacy-sqlite.fixture.js';

describe('locks of an older store', () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-leases-migrate-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('become expired leases with token 1, and the locks table goes', async () => {
    const old = new Database(join(dir, STORE_FILE));
    const before = legacySqliteMigrations.findIndex((sql) => sql.includes('CREATE TABLE leases'));
    legacySqliteMigrations.slice(0, before).forEach((sql, index) => {
      old.exec(sql);
      old.pragma(`user_version = ${index + 1}`);
    });
    old.prepare('INSERT INTO locks (service, environment, rollout, pid, hostname, acquired_at) VALUES (?, ?, ?, ?, ?, ?)').run('web', 'production', 7, 4242, 'ci-7', 1_000);
    old.close();

    const db = await openStore(dir);
    try {
      assert.deepEqual(await leaseOf(db, 'web', 'production'), { service: 'web', environment: 'production', rollout: 7, holder: 'ci-7:4242:lock', pid: 4242, hostname: 'ci-7', token: 1, acquiredAt: 1_000, expiresAt: 1_000, epoch: 0 });
      assert.equal(await lastToken(db, 'web', 'production'), 1);
      assert.deepEqual((await sql`SELECT name FROM sqlite_master WHERE name = 'locks'`.execute(db)).rows, []);
    } finally {
      await closeStore(db);
    }
  });
});
