import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, describe, it } from 'node:test';
import { readStoredSecret } from '../../secrets/stored.js';
import { openStore, closeStore } from '../../store/db.js';
import { main } from '../main.js';
import type { Output } from '../output.js';

const dir = mkdtempSync(join(tmpdir(), 'berth-secret-cli-'));
const state = join(dir, 'state');
mkdirSync(join(dir, 'images/base'), { recursive: true });
writeFileSync(join(dir, 'images/base/static.sh'), '#!/bin/sh\n');
chmodSync(join(dir, 'images/base/static.sh'), 0o755);
writeFileSync(
  join(dir, 'berth.yaml'),
  [
    'project: secret-cli',
    'images:',
    '  base:',
    '    root: { suite: bookworm }',
    'services:',
    '  web:',
    '    image: base',
    '    secrets:',
    '      DB_PASSWORD: stored',
    'environments:',
    '  dev: {}',
    '  production:',
    '    services:',
    '      web:',
    '        secrets:',
    '          API_TOKEN: stored',
    '',
  ].join('\n'),
);
after(() => rmSync(dir, { recursive: true, force: true }));

const env = { PATH: process.env.PATH, BERTH_STATE_DIR: state, BERTH_ACTOR: 'alice', BERTH_SECRET_KEY: randomBytes(32).toString('hex') };

async function berth(args: string[], stdin?: string | { tty: true }) {
  const out: string[] = [];
  const err: string[] = [];
  const output: Output = { isTTY: false, color: false, out: (t) => out.push(t), err: (t) => err.push(t) };
  const input = stdin === undefined ? Readable.from([]) : typeof stdin === 'string' ? Readable.from([Buffer.from(stdin)]) : Object.assign(Readable.from([]), { isTTY: true });
  const code = await main([...args, '-p', dir], output, env, dir, input);
  return { code, out: out.join('\n'), err: err.join('\n') };
}

async function stored(environment: string, name: string): Promise<string | undefined> {
  const db = await openStore(state);
  try {
    return await readStoredSecret(db, state, env, { service: 'web', environment, name });
  } finally {
    await closeStore(db);
  }
}

describe('berth secret (CLI)', () => {
  it('set reads the value from stdin, strips one trailing newline, and never prints it', async () => {
    const value = `v-${randomBytes(8).toString('hex')}`;
    const set = await berth(['secret', 'set', 'web', 'DB_PASSWORD', '--env', 'production'], `${value}\n\n`);
    assert.equal(set.code, 0, set.err);
    assert.match(set.out, /^stored secret DB_PASSWORD of web in production \(encrypted with key [0-9a-f]{12}\); the next rollout of web in production uses it$/);
    assert.equal(set.err, '');
    assert.equal(await stored('production', 'DB_PASSWORD'), `${value}\n`);
    const again = await berth(['secret', 'set', 'web', 'DB_PASSWORD', '--env', 'production'], `${value}-2\r\n`);
    assert.match(again.out, /^replaced secret DB_PASSWORD/);
    assert.equal(await stored('production', 'DB_PASSWORD'), `${value}-2`);
    for (const text of [set.out, set.err, again.out, again.err]) assert.equal(text.includes(value), false);
  });

  it('refuses a terminal, an empty value, a missing --env, and an unknown service or environment', async () => {
    const tty = await berth(['secret', 'set', 'web', 'DB_PASSWORD', '--env', 'dev'], { tty: true });
    assert.equal(tty.code, 2);
    assert.match(tty.err, /reads the value from its standard input, which is a terminal\n  fix: pipe the value in: berth secret set web DB_PASSWORD --env dev < value-file/);
    for (const empty of ['', '\n']) {
      const refused = await berth(['secret', 'set', 'web', 'DB_PASSWORD', '--env', 'dev'], empty);
      assert.equal(refused.code, 2);
      assert.match(refused.err, /the value on standard input is empty\n  fix: pipe the value in/);
    }
    const noEnv = await berth(['secret', 'set', 'web', 'DB_PASSWORD'], 'x');
    assert.equal(noEnv.code, 2);
    assert.match(noEnv.err, /name the environment with --env/);
    const service = await berth(['secret', 'set', 'wbe', 'DB_PASSWORD', '--env', 'dev'], 'x');
    assert.equal(service.code, 3);
    assert.match(service.err, /unknown service "wbe" \(did you mean "web"\?\)/);
    const environment = await berth(['secret', 'set', 'web', 'DB_PASSWORD', '--env', 'prod'], 'x');
    assert.equal(environment.code, 3);
    assert.match(environment.err, /unknown environment "prod"/);
    assert.equal(await stored('dev', 'DB_PASSWORD'), undefined);
  });

  it('notes a value berth.yaml does not read from the store', async () => {
    const set = await berth(['secret', 'set', 'web', 'API_TOKEN', '--env', 'dev'], 'tok');
    assert.equal(set.code, 0, set.err);
    assert.match(set.err, /^note: berth.yaml does not read API_TOKEN from the store for web in dev: add "API_TOKEN: stored"/);
  });

  it('ls lists names, environments, when and by whom, and what berth.yaml needs that is not set; never a value', async () => {
    const listed = await berth(['secret', 'ls', 'web', '--json']);
    assert.equal(listed.code, 0, listed.err);
    const { secrets } = JSON.parse(listed.out) as { secrets: Record<string, unknown>[] };
    assert.deepEqual(
      secrets.map((s) => [s.environment, s.name, s.set, s.updatedBy]),
      [
        ['dev', 'API_TOKEN', true, 'alice'],
        ['dev', 'DB_PASSWORD', false, undefined],
        ['production', 'API_TOKEN', false, undefined],
        ['production', 'DB_PASSWORD', true, 'alice'],
      ],
    );
    assert.match(String(secrets[0]!.updatedAt), /^\d{4}-\d\d-\d\dT/);
    assert.equal(Object.keys(secrets[0]!).some((k) => /value|cipher|nonce|tag/i.test(k)), false);
    const text = await berth(['secret', 'ls', 'web', '--env', 'production']);
    assert.match(text.out, /^NAME +ENV +UPDATED +BY\nAPI_TOKEN +production +not set *\nDB_PASSWORD +production +\d{4}-\d\d-\d\d \d\d:\d\d:\d\d +alice$/);
  });

  it('rm removes a value, says when berth.yaml still needs it, and refuses one that is not set', async () => {
    const removed = await berth(['secret', 'rm', 'web', 'DB_PASSWORD', '--env', 'production']);
    assert.equal(removed.code, 0, removed.err);
    assert.equal(removed.out, 'removed secret DB_PASSWORD of web in production');
    assert.match(removed.err, /the next rollout of web in production fails until it is set again/);
    assert.equal(await stored('production', 'DB_PASSWORD'), undefined);
    const again = await berth(['secret', 'rm', 'web', 'DB_PASSWORD', '--env', 'production']);
    assert.equal(again.code, 3);
    assert.match(again.err, /secret DB_PASSWORD of web in production is not set\n  fix: list what is stored with: berth secret ls web/);
  });
});
