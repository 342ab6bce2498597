/**
 * `berth server --store postgres://…`: the server keeps its store in a PostgreSQL database of a
 * cluster this test starts (testing/postgres.ts), the password from --store-password-file, and
 * finds it again when started anew. Its state folder then holds no SQLite store.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { runBerth } from '../testing/cli.js';
import { postgresForFile } from '../testing/postgres.js';
import { startTestServer, type TestServer } from '../testing/server.js';
import { STORE_FILE } from '../store/location.js';

const cluster = postgresForFile();
const dir = mkdtempSync(join(tmpdir(), 'berth-pg-server-'));
let server: TestServer | undefined;
after(async () => {
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('berth server on PostgreSQL', () => {
  it('keeps tokens in the database, finds them after a restart, and never shows the password', async () => {
    const url = await cluster().createDatabase('berth_server');
    const env = { ...process.env, PGPASSWORD: '' };
    server = await startTestServer(dir, env, ['--store', url, '--store-password-file', cluster().passwordFile, '--reconcile-interval', '0s']);
    assert.match(server.output(), new RegExp(`store PostgreSQL berth@127\\.0\\.0\\.1:${cluster().port}/berth_server`));
    const created = await runBerth(['token', 'create', '--name', 'ci', '--role', 'viewer'], { env: server.envFor(env) });
    assert.equal(created.code, 0, created.stderr);
    assert.deepEqual((await cluster().query<{ name: string }>('berth_server', 'SELECT name FROM tokens ORDER BY id')).map((r) => r.name), ['admin', 'ci']);
    assert.equal(existsSync(join(server.stateDir, STORE_FILE)), false, 'no SQLite store beside it');

    await server.stop();
    await server.start();
    assert.doesNotMatch(server.output().slice(server.output().lastIndexOf('<start>')), /admin token:/, 'the second start finds the admin token in the database');
    const listed = await runBerth(['token', 'ls'], { env: server.envFor(env) });
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, /\bci\b/);
    assert.doesNotMatch(server.output(), new RegExp(cluster().password.replace(/[^\w]/g, '\\$&')));
  });

  it('refuses a URL with a password (invalid, exit 2) and a database that is not there (invalid, naming it), showing neither password', async () => {
    const env = { ...process.env, PGPASSWORD: cluster().password };
    const state = join(dir, 'refused');
    const withPassword = await runBerth(['server', '--state', state, '--store', `postgres://berth:${cluster().password}@127.0.0.1:${cluster().port}/x`], { env });
    assert.equal(withPassword.code, 2, withPassword.stderr);
    assert.match(withPassword.stderr, /carries a password/);
    const missing = await runBerth(['server', '--state', state, '--listen', '127.0.0.1:0', '--store', `postgres://berth@127.0.0.1:${cluster().port}/nowhere`], { env });
    assert.equal(missing.code, 2, missing.stderr);
    assert.match(missing.stderr, new RegExp(`store PostgreSQL berth@127\\.0\\.0\\.1:${cluster().port}/nowhere does not exist`));
    for (const o of [withPassword, missing]) assert.equal(`${o.stdout}${o.stderr}`.includes(cluster().password), false);
  });
});
