import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { BerthError } from '../errors.js';
import { keyId, parseSecretKey, seal, secretKey, unseal, type SecretKey } from './vault.js';

const dir = mkdtempSync(join(tmpdir(), 'berth-vault-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const keyOf = (bytes: Buffer, source = 'BERTH_SECRET_KEY'): SecretKey => ({ key: bytes, id: keyId(bytes), source });
const address = { service: 'web', environment: 'production', name: 'DB_PASSWORD' };

describe('sealing and opening a value', () => {
  const key = keyOf(randomBytes(32));

  it('opens what it sealed, with a fresh nonce each time and no plaintext in the sealed bytes', () => {
    const value = 'pa55-wörd\nsecond line';
    const a = seal(key, address, value);
    const b = seal(key, address, value);
    assert.equal(unseal(key, address, a, dir), value);
    assert.equal(unseal(key, address, b, dir), value);
    assert.notDeepEqual(a.nonce, b.nonce);
    assert.notDeepEqual(a.ciphertext, b.ciphertext);
    assert.equal(a.nonce.length, 12);
    assert.equal(a.tag.length, 16);
    assert.equal(a.keyId, key.id);
    assert.equal(Buffer.concat([a.nonce, a.ciphertext, a.tag]).includes(Buffer.from('pa55')), false);
  });

  it('refuses an altered ciphertext, tag or nonce as damaged, never returning a garbled value', () => {
    const sealed = seal(key, address, 'the value');
    const flip = (b: Buffer, i = 0) => Buffer.from(b.map((x, j) => (j === i ? x ^ 1 : x)));
    for (const altered of [{ ...sealed, ciphertext: flip(sealed.ciphertext) }, { ...sealed, tag: flip(sealed.tag, 15) }, { ...sealed, nonce: flip(sealed.nonce) }, { ...sealed, tag: sealed.tag.subarray(0, 8) }]) {
      assert.throws(() => unseal(key, address, altered, dir), (e: BerthError) => {
        assert.equal(e.kind, 'failed');
        assert.match(e.message, /^secret DB_PASSWORD of web in production does not decrypt with key [0-9a-f]{12} although it was stored with it: its row in the store was altered or damaged$/);
        assert.equal(e.fix, 'set the value again: berth secret set web DB_PASSWORD --env production < value-file');
        return true;
      });
    }
  });

  it('a value sealed for one secret does not open as another (service, environment or name)', () => {
    const sealed = seal(key, address, 'the value');
    for (const other of [{ ...address, service: 'api' }, { ...address, environment: 'dev' }, { ...address, name: 'API_TOKEN' }]) {
      assert.throws(() => unseal(key, other, sealed, dir), (e: BerthError) => e.kind === 'failed');
    }
  });

  it('names both keys when opened with another key, and says there is none when there is none', () => {
    const sealed = seal(key, address, 'the value');
    const other = keyOf(randomBytes(32));
    assert.throws(() => unseal(other, address, sealed, dir), (e: BerthError) => {
      assert.equal(e.kind, 'invalid');
      assert.equal(e.message, `secret DB_PASSWORD of web in production was encrypted with key ${key.id}, BERTH_SECRET_KEY is key ${other.id}`);
      assert.match(e.fix!, /^set the key it was stored with/);
      return true;
    });
    assert.throws(() => unseal(undefined, address, sealed, dir), (e: BerthError) => e.kind === 'invalid' && e.message.startsWith(`secret DB_PASSWORD of web in production was encrypted with key ${key.id}, and there is no key`));
  });
});

describe('the key', () => {
  const bytes = randomBytes(32);

  it('takes 64 hex digits or the base64 of 32 bytes, with surrounding white space', () => {
    assert.deepEqual(parseSecretKey(bytes.toString('hex'), 'k'), bytes);
    assert.deepEqual(parseSecretKey(bytes.toString('hex').toUpperCase(), 'k'), bytes);
    assert.deepEqual(parseSecretKey(` ${bytes.toString('base64')}\n`, 'k'), bytes);
    assert.deepEqual(parseSecretKey(bytes.toString('base64').replace(/=$/, ''), 'k'), bytes);
  });

  it('refuses anything else, naming where it came from and its length but never its text', () => {
    const bad = ['secret', bytes.toString('hex').slice(0, 62), `${bytes.toString('hex')}00`, randomBytes(31).toString('base64'), randomBytes(33).toString('base64'), `${bytes.toString('hex').slice(0, 63)}g`];
    for (const text of bad) {
      assert.throws(() => parseSecretKey(text, 'BERTH_SECRET_KEY'), (e: BerthError) => {
        assert.equal(e.kind, 'invalid');
        assert.equal(e.message, `BERTH_SECRET_KEY is not a secret key: expected 64 hex digits or the base64 of 32 bytes, got ${text.length} character(s)`);
        assert.match(e.fix!, /openssl rand -hex 32/);
        return true;
      });
    }
  });

  it('has a short id that differs between keys and is not a prefix of the key', () => {
    const other = randomBytes(32);
    assert.match(keyId(bytes), /^[0-9a-f]{12}$/);
    assert.notEqual(keyId(bytes), keyId(other));
    assert.equal(bytes.toString('hex').includes(keyId(bytes)), false);
  });

  it('BERTH_SECRET_KEY wins over the key file; a bad one is refused, not ignored', () => {
    const state = mkdtempSync(join(dir, 'env-'));
    const key = secretKey(state, { BERTH_SECRET_KEY: bytes.toString('base64') }, { create: true })!;
    assert.deepEqual(key.key, bytes);
    assert.equal(key.source, 'BERTH_SECRET_KEY');
    assert.throws(() => statSync(join(state, 'secret.key')), /ENOENT/);
    assert.throws(() => secretKey(state, { BERTH_SECRET_KEY: 'nope' }, { create: true }), /BERTH_SECRET_KEY is not a secret key/);
  });

  it('without BERTH_SECRET_KEY: the key file is made once (0600) when storing, and never when only reading', () => {
    const state = join(dir, 'file-state');
    assert.equal(secretKey(state, {}, { create: false }), undefined);
    const made = secretKey(state, {}, { create: true })!;
    const file = join(state, 'secret.key');
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.equal(made.source, `the key file ${file}`);
    assert.deepEqual(secretKey(state, { BERTH_SECRET_KEY: '' }, { create: true })!.key, made.key);
    assert.deepEqual(secretKey(state, {}, { create: false })!.key, made.key);
    assert.match(readFileSync(file, 'utf8'), /^[0-9a-f]{64}\n$/);
  });

  it('a damaged key file is refused naming the file', () => {
    const state = mkdtempSync(join(dir, 'bad-'));
    writeFileSync(join(state, 'secret.key'), 'garbage\n', { mode: 0o600 });
    assert.throws(() => secretKey(state, {}, { create: true }), (e: BerthError) => e.kind === 'invalid' && e.message.startsWith(`the key file ${join(state, 'secret.key')} is not a secret key`));
  });
});
