import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { BerthError } from '../errors.js';
import { openStore, closeStore, sqliteOf } from '../store/db.js';
import { listStoredSecrets, readStoredSecret, removeStoredSecret, setStoredSecret, storedSecretReader } from './stored.js';

const dir = mkdtempSync(join(tmpdir(), 'berth-stored-'));
const db = await openStore(dir);
after(async () => {
  await closeStore(db);
  rmSync(dir, { recursive: true, force: true });
});

const key = randomBytes(32).toString('hex');
const env = { BERTH_SECRET_KEY: key };
const db1 = { service: 'web', environment: 'production', name: 'DB_PASSWORD' };

describe('stored secrets on a real SQLite store', () => {
  it('sets, reads back, replaces, lists names only, and removes', async () => {
    const value = `v-${randomBytes(8).toString('hex')}`;
    assert.equal((await setStoredSecret(db, dir, env, { ...db1, value, actor: 'alice' }, 1000)).replaced, false);
    await setStoredSecret(db, dir, env, { service: 'web', environment: 'dev', name: 'DB_PASSWORD', value: 'dev-value', actor: 'bob' }, 2000);
    await setStoredSecret(db, dir, env, { service: 'web', environment: 'production', name: 'API_TOKEN', value: 'tok', actor: 'bob' }, 3000);
    await setStoredSecret(db, dir, env, { service: 'api', environment: 'production', name: 'DB_PASSWORD', value: 'api-value', actor: 'bob' }, 3000);
    assert.equal(await readStoredSecret(db, dir, env, db1), value);
    assert.equal(await readStoredSecret(db, dir, env, { ...db1, environment: 'dev' }), 'dev-value');
    assert.equal(await readStoredSecret(db, dir, env, { ...db1, name: 'NOPE' }), undefined);

    const result = await setStoredSecret(db, dir, env, { ...db1, value: `${value}-2`, actor: 'carol' }, 4000);
    assert.equal(result.replaced, true);
    assert.match(result.keyId, /^[0-9a-f]{12}$/);
    assert.equal(await readStoredSecret(db, dir, env, db1), `${value}-2`);

    assert.deepEqual(await listStoredSecrets(db, 'web'), [
      { service: 'web', environment: 'dev', name: 'DB_PASSWORD', updatedAt: 2000, updatedBy: 'bob' },
      { service: 'web', environment: 'production', name: 'API_TOKEN', updatedAt: 3000, updatedBy: 'bob' },
      { service: 'web', environment: 'production', name: 'DB_PASSWORD', updatedAt: 4000, updatedBy: 'carol' },
    ]);
    assert.deepEqual((await listStoredSecrets(db, 'web', 'dev')).map((e) => e.name), ['DB_PASSWORD']);

    assert.equal(await removeStoredSecret(db, db1), true);
    assert.equal(await removeStoredSecret(db, db1), false);
    assert.equal(await readStoredSecret(db, dir, env, db1), undefined);
    assert.equal(await readStoredSecret(db, dir, env, { ...db1, service: 'api' }), 'api-value');
  });

  it('the database file holds no value and no key in plain text', async () => {
    const value = `plain-${randomBytes(12).toString('hex')}`;
    await setStoredSecret(db, dir, env, { ...db1, name: 'PLAIN', value, actor: 'alice' });
    sqliteOf(db).pragma('wal_checkpoint(FULL)');
    for (const file of readdirSync(dir).filter((f) => f.startsWith('berth.db'))) {
      const bytes = readFileSync(join(dir, file));
      assert.equal(bytes.includes(Buffer.from(value)), false, file);
      assert.equal(bytes.includes(Buffer.from(key)), false, file);
      assert.equal(bytes.includes(Buffer.from(key, 'hex')), false, file);
    }
  });

  it('reading with another key names both keys; a row altered in the store is refused', async () => {
    await setStoredSecret(db, dir, env, { ...db1, name: 'ROTATE', value: 'x1', actor: 'alice' });
    const other = { BERTH_SECRET_KEY: randomBytes(32).toString('hex') };
    await assert.rejects(async () => readStoredSecret(db, dir, other, { ...db1, name: 'ROTATE' }), /^BerthError: secret ROTATE of web in production was encrypted with key [0-9a-f]{12}, BERTH_SECRET_KEY is key [0-9a-f]{12}$/);
    sqliteOf(db).prepare("UPDATE secrets SET ciphertext = X'00' || ciphertext WHERE name = 'ROTATE'").run();
    await assert.rejects(async () => readStoredSecret(db, dir, env, { ...db1, name: 'ROTATE' }), (e: BerthError) => e.kind === 'failed' && /altered or damaged/.test(e.message));
  });

  it('a reader looks the key up once, and not at all when nothing is stored', async () => {
    const read = storedSecretReader(db, dir, { BERTH_SECRET_KEY: 'not a key' });
    assert.equal(await read({ ...db1, name: 'MISSING' }), undefined);
    await assert.rejects(async () => read({ ...db1, name: 'PLAIN' }), /BERTH_SECRET_KEY is not a secret key/);
  });

  it('refuses an empty or oversized value and a bad or reserved name, storing nothing', async () => {
    const refuse = async (input: { name: string; value: string }, pattern: RegExp) =>
      await assert.rejects(async () => await setStoredSecret(db, dir, env, { service: 'web', environment: 'test', ...input, actor: 'a' }), (e: BerthError) => e.kind === 'invalid' && pattern.test(e.message));
    await refuse({ name: 'EMPTY', value: '' }, /the value of EMPTY is empty/);
    await refuse({ name: 'BIG', value: 'x'.repeat(64 * 1024 + 1) }, /is 65537 bytes, more than 65536/);
    await refuse({ name: 'db-password', value: 'x' }, /"db-password" is not a valid secret name/);
    await refuse({ name: 'BERTH_USER', value: 'x' }, /the secret name "BERTH_USER" is reserved/);
    assert.deepEqual(await listStoredSecrets(db, 'web', 'test'), []);
  });
});
