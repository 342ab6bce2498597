/** Where a store is: a folder or a postgres:// URL, checked before anything connects, never showing a password. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { isBerthError, type ErrorKind } from '../errors.js';
import { openStoreAt } from './db.js';
import { describeLocation, storeLocation } from './location.js';

const dir = mkdtempSync(join(tmpdir(), 'berth-location-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const refused = (kind: ErrorKind, pattern: RegExp) => (error: unknown) => isBerthError(error) && error.kind === kind && pattern.test(error.message) && !/s3cret/.test(`${error.message} ${error.fix}`);

describe('a store location', () => {
  it('a folder is the SQLite file in it', () => {
    assert.deepEqual(storeLocation('/var/lib/berth'), { kind: 'sqlite', dir: '/var/lib/berth', file: '/var/lib/berth/berth.db' });
    assert.equal(describeLocation(storeLocation('/s')), '/s/berth.db');
  });

  it('a postgres:// URL names user, host, port (5432 unless given) and database; sslmode is passed on as libpq reads it', () => {
    const at = storeLocation('postgres://berth@db.example:6432/prod?sslmode=require');
    assert.deepEqual(at, { kind: 'postgres', display: 'berth@db.example:6432/prod', host: 'db.example', port: 6432, user: 'berth', database: 'prod', ssl: { rejectUnauthorized: false }, password: undefined });
    assert.equal(describeLocation(at), 'PostgreSQL berth@db.example:6432/prod');
    const plain = storeLocation('postgresql://ops@10.0.0.5/berth');
    assert.deepEqual([plain.kind === 'postgres' && plain.port, plain.kind === 'postgres' && plain.display, plain.kind === 'postgres' && plain.ssl], [5432, 'ops@10.0.0.5:5432/berth', undefined]);
    const verified = storeLocation('postgres://ops@[::1]:5433/berth?sslmode=verify-full');
    assert.deepEqual(verified.kind === 'postgres' && [verified.host, verified.ssl], ['::1', {}]);
    assert.deepEqual(storeLocation('postgres://ops@h/b?sslmode=disable').kind === 'postgres' && (storeLocation('postgres://ops@h/b?sslmode=disable') as { ssl: unknown }).ssl, false);
  });

  it('the password comes from a file (its first line), never from the URL', () => {
    const file = join(dir, 'password');
    writeFileSync(file, 's3cret\nignored\n');
    const at = storeLocation('postgres://berth@h:1/db', { passwordFile: file });
    assert.equal(at.kind === 'postgres' && at.password, 's3cret');
    assert.throws(() => storeLocation('postgres://berth:s3cret@h:1/db'), refused('invalid', /^the store URL postgres:\/\/berth@h:1\/db carries a password/));
    assert.throws(() => storeLocation('postgres://berth@h:1/db', { passwordFile: join(dir, 'missing') }), refused('invalid', /cannot read the store's password file .*missing: ENOENT/));
    writeFileSync(join(dir, 'empty'), '\n');
    assert.throws(() => storeLocation('postgres://berth@h:1/db', { passwordFile: join(dir, 'empty') }), refused('invalid', /password file .*empty is empty/));
    assert.throws(() => storeLocation('/var/lib/berth', { passwordFile: file }), refused('invalid', /--store-password-file is for a PostgreSQL store/));
  });

  it('a URL without user or database, with an unknown parameter or sslmode, is invalid, saying which', () => {
    assert.throws(() => storeLocation('postgres://h:1/db'), refused('invalid', /names no user/));
    assert.throws(() => storeLocation('postgres://berth@h:1'), refused('invalid', /names no database/));
    assert.throws(() => storeLocation('postgres://berth@h:1/a/b'), refused('invalid', /names no database/));
    assert.throws(() => storeLocation('postgres://berth@h:1/db?password=s3cret'), refused('invalid', /parameter "password" is not one Berth knows/));
    assert.throws(() => storeLocation('postgres://berth@h:1/db?sslmode=sometimes'), refused('invalid', /sslmode "sometimes" is not one of disable, prefer, require, verify-ca, verify-full/));
    assert.throws(() => storeLocation('postgres://berth@h:1/db?sslmode=verify-ca'), refused('invalid', /TLS settings cannot be used/));
  });

  it('a database that does not answer is unavailable, naming user@host:port/db and never the password', async () => {
    const port = await new Promise<number>((resolve) => {
      const server = createServer().listen(0, '127.0.0.1', () => {
        const { port: free } = server.address() as { port: number };
        server.close(() => resolve(free));
      });
    });
    const file = join(dir, 'pw');
    writeFileSync(file, 's3cret\n');
    await assert.rejects(openStoreAt(`postgres://berth@127.0.0.1:${port}/prod`, { passwordFile: file }), (error: unknown) => {
      assert.ok(refused('unavailable', new RegExp(`^Berth's store PostgreSQL berth@127\\.0\\.0\\.1:${port}/prod does not answer: .*ECONNREFUSED`))(error), String(error));
      assert.match((error as { fix: string }).fix, new RegExp(`PostgreSQL runs at 127\\.0\\.0\\.1:${port}`));
      return true;
    });
  });
});
