/**
 * The store suite (store-suite.ts) on PostgreSQL: a cluster of this file's own (testing/postgres.ts),
 * a fresh database per group, a second pool on it for the races; the password from a file, as
 * `berth server --store-password-file` takes it. Then what only PostgreSQL has: a login refused,
 * and transactions that lose to a concurrent one (SQLSTATE 40001) run again, or end as a conflict.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { isBerthError } from '../errors.js';
import { closeStore, inTransaction, openStoreAt, storeFailure, type Store } from './db.js';
import { scaleOf, setScale } from './releases.js';
import { storeSuite } from './store-suite.js';
import { postgresForFile } from '../testing/postgres.js';

const cluster = postgresForFile();
const opened: Store[] = [];
const open = async (url: string) => {
  const db = await openStoreAt(url, { passwordFile: cluster().passwordFile });
  opened.push(db);
  return db;
};
after(async () => {
  for (const db of opened.splice(0)) await closeStore(db);
});

storeSuite('PostgreSQL', async () => {
  // Migrated once; each group gets a copy of it (CREATE DATABASE … TEMPLATE, which wants no one connected to the template).
  const template = await openStoreAt(await cluster().createDatabase('suite_template'), { passwordFile: cluster().passwordFile });
  await closeStore(template);
  let groups = 0;
  return {
    async fresh() {
      const name = `suite_${++groups}`;
      await cluster().query('postgres', `CREATE DATABASE ${name} TEMPLATE suite_template`);
      const url = cluster().url(name);
      return { db: await open(url), twin: () => open(url) };
    },
    async cleanup() {},
  };
});

describe('the store on PostgreSQL', () => {
  it('a wrong password is invalid, naming the store, never the password', async () => {
    const url = await cluster().createDatabase();
    const file = join(cluster().passwordFile, '..', 'wrong');
    writeFileSync(file, 'not-the-s3cret\n');
    await assert.rejects(openStoreAt(url, { passwordFile: file }), (error: unknown) => {
      assert.ok(isBerthError(error) && error.kind === 'invalid', String(error));
      assert.match(error.message, new RegExp(`^Berth's store PostgreSQL berth@127\\.0\\.0\\.1:${cluster().port}/\\S+ refused the login: password authentication failed`));
      assert.doesNotMatch(`${error.message} ${error.fix}`, /s3cret/);
      return true;
    });
  });

  it('two transactions that each read what the other writes: one loses (40001), runs again, and both end as if one after the other', async () => {
    const url = await cluster().createDatabase();
    const db = await open(url);
    const other = await open(url);
    await setScale(db, 'a', 'x', 1);
    await setScale(db, 'b', 'x', 1);
    let attempts = 0;
    let arrived = 0;
    let release!: () => void;
    const bothRead = new Promise<void>((resolve) => (release = resolve));
    // Each copies the other's count plus one into its own row: run one after the other, one ends at 2, the other at 3.
    const copy = (store: Store, from: string, to: string) =>
      inTransaction(store, async (tx) => {
        attempts++;
        const seen = (await scaleOf(tx, from, 'x'))!;
        if (++arrived === 2) release();
        await bothRead;
        await setScale(tx, to, 'x', seen + 1);
      });
    await Promise.all([copy(db, 'a', 'b'), copy(other, 'b', 'a')]);
    assert.equal(attempts, 3, 'exactly one of them ran again');
    assert.deepEqual([await scaleOf(db, 'a', 'x'), await scaleOf(db, 'b', 'x')].sort(), [2, 3]);
  });

  it('a transaction that keeps losing is a conflict after its attempts, and writes nothing', async () => {
    const db = await open(await cluster().createDatabase());
    let attempts = 0;
    await assert.rejects(
      inTransaction(db, async (tx) => {
        attempts++;
        await setScale(tx, 'web', 'x', attempts);
        throw Object.assign(new Error('could not serialize access due to read/write dependencies among transactions'), { code: '40001' });
      }),
      (error: unknown) => isBerthError(error) && error.kind === 'conflict' && /lost 8 times in a row to concurrent writes/.test(error.message),
    );
    assert.equal(attempts, 8);
    assert.equal(await scaleOf(db, 'web', 'x'), undefined);
  });

  // Last: it stops the file's cluster.
  it('a database that goes away: each query fails as unavailable, naming user@host:port/db, until it is back', async () => {
    const url = await cluster().createDatabase('gone');
    const db = await open(url);
    await setScale(db, 'web', 'x', 1);
    await cluster().stop();
    for (const attempt of [() => scaleOf(db, 'web', 'x'), () => inTransaction(db, (tx) => setScale(tx, 'web', 'x', 2))]) {
      const error = await attempt().then(
        () => assert.fail('the query answered without a database'),
        (failure: unknown) => failure,
      );
      const mapped = storeFailure(error);
      assert.equal(mapped?.kind, 'unavailable', String(error));
      assert.match(mapped!.message, new RegExp(`^Berth's store PostgreSQL berth@127\\.0\\.0\\.1:${cluster().port}/gone does not answer`));
      assert.match(mapped!.fix!, new RegExp(`PostgreSQL runs at 127\\.0\\.0\\.1:${cluster().port}`));
    }
  });
});
