import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { EnvironmentSpec, ServiceSpec } from '../config/model.js';
import type { BerthError } from '../errors.js';
import { setStoredSecret } from '../secrets/stored.js';
import { openStore, closeStore } from '../store/db.js';
import { readServiceSecrets, secretRefsOf, secretsMac, slotContents, specMacKey } from './secrets.js';

const service = { name: 'web', secrets: { DB_PASSWORD: { env: 'DEV_DB' }, API_TOKEN: { env: 'TOKEN' } } } as unknown as ServiceSpec;
const environment = (name: string, secrets?: EnvironmentSpec['services'][string]['secrets']): EnvironmentSpec => ({
  name,
  hosts: ['local'],
  network: 'nat',
  services: secrets ? { web: { secrets } } : {},
  lbAddress: '127.0.0.1', protected: false, approvalTimeoutMs: 86_400_000,
});

describe('per-environment secrets', () => {
  it('an environment\'s secret overrides the service\'s of the same name and adds new ones; the others stay', () => {
    const production = environment('production', { DB_PASSWORD: { env: 'PROD_DB' }, EXTRA: { file: '/etc/extra' } });
    assert.deepEqual([...secretRefsOf(service, production)], [
      ['DB_PASSWORD', { ref: { env: 'PROD_DB' }, key: 'environments.production.services.web.secrets.DB_PASSWORD' }],
      ['API_TOKEN', { ref: { env: 'TOKEN' }, key: 'services.web.secrets.API_TOKEN' }],
      ['EXTRA', { ref: { file: '/etc/extra' }, key: 'environments.production.services.web.secrets.EXTRA' }],
    ]);
  });

  it('production never reads dev\'s value: with the dev variable unset, production still deploys; dev fails naming its key', async () => {
    const env = { PROD_DB: 'prod-value', TOKEN: 't' };
    const production = environment('production', { DB_PASSWORD: { env: 'PROD_DB' } });
    assert.deepEqual([...await readServiceSecrets(service, production, env)], [['DB_PASSWORD', 'prod-value'], ['API_TOKEN', 't']]);
    await assert.rejects(() => readServiceSecrets(service, environment('dev'), env), /services\.web\.secrets\.DB_PASSWORD: the environment variable DEV_DB is not set/);
  });
});

describe('stored secrets at deploy', () => {
  const stored = { name: 'web', secrets: { DB_PASSWORD: { stored: true }, API_TOKEN: { env: 'TOKEN' } } } as unknown as ServiceSpec;
  const env = { TOKEN: 't', BERTH_SECRET_KEY: 'ab'.repeat(32) };

  it('reads the value stored for the environment being deployed; a missing one fails naming the command that sets it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'berth-stored-deploy-'));
    const db = await openStore(dir);
    try {
      await setStoredSecret(db, dir, env, { service: 'web', environment: 'production', name: 'DB_PASSWORD', value: 'prod-db', actor: 'a' });
      const store = { db, stateDir: dir };
      assert.deepEqual([...await readServiceSecrets(stored, environment('production'), env, store)], [['DB_PASSWORD', 'prod-db'], ['API_TOKEN', 't']]);
      await assert.rejects(() => readServiceSecrets(stored, environment('dev'), env, store), (e: BerthError) => {
        assert.equal(e.kind, 'not-found');
        assert.equal(e.message, 'secret DB_PASSWORD of web in dev is not set (services.web.secrets.DB_PASSWORD is "stored")');
        assert.equal(e.fix, 'run: berth secret set web DB_PASSWORD --env dev < value-file');
        return true;
      });
      // An environment's own source overrides the stored one.
      assert.deepEqual([...await readServiceSecrets(stored, environment('dev', { DB_PASSWORD: { env: 'TOKEN' } }), env, store)], [['DB_PASSWORD', 't'], ['API_TOKEN', 't']]);
      // A changed stored value changes the MAC the spec hash covers, so the instances roll.
      const key = specMacKey(dir);
      const before = secretsMac(key, await readServiceSecrets(stored, environment('production'), env, store));
      await setStoredSecret(db, dir, env, { service: 'web', environment: 'production', name: 'DB_PASSWORD', value: 'prod-db-2', actor: 'a' });
      assert.notEqual(secretsMac(key, await readServiceSecrets(stored, environment('production'), env, store)), before);
    } finally {
      await closeStore(db);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the secrets\' MAC in the spec hash', () => {
  const key = Buffer.alloc(32, 7);

  it('changes with a value or a name, not with the order or anything else', () => {
    const base = secretsMac(key, new Map([['A', '1'], ['B', '2']]));
    assert.equal(secretsMac(key, new Map([['B', '2'], ['A', '1']])), base);
    assert.notEqual(secretsMac(key, new Map([['A', '1'], ['B', '3']])), base);
    assert.notEqual(secretsMac(key, new Map([['A', '1'], ['C', '2']])), base);
  });

  it('depends on the project\'s key, so the same value in another project (or a guess without the key) gives another MAC', () => {
    const values = new Map([['A', 'hunter2']]);
    assert.notEqual(secretsMac(Buffer.alloc(32, 8), values), secretsMac(key, values));
  });

  it('covers the config files by content and mode; nothing at all for a service with neither', () => {
    const conf = (content: string, mode = 0o444) => [{ target: '/etc/app.conf', content: Buffer.from(content), mode }];
    const base = slotContents(key, new Map(), conf('a'));
    assert.deepEqual(slotContents(key, new Map(), conf('a')), base);
    assert.notDeepEqual(slotContents(key, new Map(), conf('b')), base);
    assert.notDeepEqual(slotContents(key, new Map(), conf('a', 0o555)), base);
    assert.equal(base?.secretsMac, undefined);
    assert.equal(slotContents(key, new Map(), []), undefined);
  });

  it('the key is made once per state dir, 0600, and then read back', () => {
    const dir = mkdtempSync(join(tmpdir(), 'berth-mac-key-'));
    try {
      const first = specMacKey(join(dir, 'state'));
      assert.equal(first.length, 32);
      assert.equal(statSync(join(dir, 'state', 'spec-mac.key')).mode & 0o777, 0o600);
      assert.deepEqual(specMacKey(join(dir, 'state')), first);
      assert.equal(readFileSync(join(dir, 'state', 'spec-mac.key'), 'utf8').trim(), first.toString('hex'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
