import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { BerthError } from '../errors.js';
import { readSecret, redactor, registrySecrets } from './secrets.js';

const dir = mkdtempSync(join(tmpdir(), 'berth-secrets-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('registry secrets', () => {
  it('reads from the environment or a file', () => {
    writeFileSync(join(dir, 'sk'), 'from-file\n');
    assert.equal(readSecret({ env: 'K' }, 'k', { K: 'from-env' }), 'from-env');
    assert.equal(readSecret({ file: join(dir, 'sk') }, 'k', {}), 'from-file');
  });

  it('names the key and the variable when it is not set, never a value', () => {
    assert.throws(() => readSecret({ env: 'S3_SECRET' }, 'registry.storage.s3.secret_key', {}), (e: BerthError) => {
      assert.equal(e.kind, 'invalid');
      assert.equal(e.message, 'registry.storage.s3.secret_key: the environment variable S3_SECRET is not set');
      assert.match(e.fix!, /export S3_SECRET=/);
      return true;
    });
    assert.throws(() => readSecret({ file: join(dir, 'nope') }, 'registry.password', {}), (e: BerthError) => e.kind === 'not-found');
  });

  it('generates the http.secret once, mode 0600, and keeps it', () => {
    const file = join(dir, 'registry', 'secret');
    const settings = { listen: '127.0.0.1:5000', storage: { kind: 'filesystem' as const, path: '/x' } };
    const first = registrySecrets(settings, file, {}).httpSecret;
    assert.match(first, /^[0-9a-f]{64}$/);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.equal(registrySecrets(settings, file, {}).httpSecret, first);
  });

  it('redacts every secret value', () => {
    const redact = redactor({ httpSecret: 'hhhhhhhh', s3: { accessKey: 'AKIAXXXX', secretKey: 'wJalrXUtnFEMI' }, password: 'pa55word' });
    assert.equal(redact('s3aws: AKIAXXXX/wJalrXUtnFEMI refused; pa55word hhhhhhhh'), 's3aws: ***/*** refused; *** ***');
  });
});
