/** berth apply against a real server on loopback (a real store, no engine needed): dry run, versions, the diff, bad input, secret files. */
import assert from 'node:assert/strict';
import { chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { bootstrapAdmin } from '../../access/tokens.js';
import { versionDir } from '../../apply/versions.js';
import { buildApp } from '../../server/app.js';
import { ServerCore } from '../../server/core.js';
import { listConfigs } from '../../store/configs.js';
import { openStore, type Store, closeStore } from '../../store/db.js';
import { main } from '../main.js';

const yaml = (replicas: number, image = 'base') =>
  ['project: cli-apply', 'images:', '  base:', '    root: {}', 'services:', '  web:', `    image: ${image}`, '    secrets: { DB_PASSWORD: { file: secrets/db } }', 'environments:', '  dev:', `    services: { web: { replicas: ${replicas} } }`, ''].join('\n');

describe('berth apply through a server', () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-apply-cli-test-'));
  const project = join(dir, 'project');
  const state = join(dir, 'server');
  let db: Store;
  let app: FastifyInstance;
  let server: string;
  let admin: string;

  const write = (path: string, content: string, mode = 0o644) => {
    mkdirSync(join(project, path, '..'), { recursive: true });
    writeFileSync(join(project, path), content);
    chmodSync(join(project, path), mode);
  };
  async function berth(token: string | undefined, ...argv: string[]) {
    const out: string[] = [];
    const err: string[] = [];
    const env = { HOME: dir, BERTH_SERVER: server, ...(token !== undefined ? { BERTH_TOKEN: token } : {}) };
    const code = await main([...argv, '-p', project], { isTTY: false, color: false, out: (t) => out.push(t), err: (t) => err.push(t) }, env, dir);
    return { code, out: out.join('\n'), err: err.join('\n') };
  }

  before(async () => {
    write('berth.yaml', yaml(1));
    write('images/base/static.sh', '#!/bin/sh\n', 0o755);
    write('secrets/db', 'hunter2-not-for-the-server\n', 0o600);
    db = await openStore(state);
    admin = (await bootstrapAdmin(db))!.token;
    app = await buildApp(new ServerCore(state, db, {}));
    await app.listen({ host: '127.0.0.1', port: 0 });
    server = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  });
  after(async () => {
    await app.close();
    await closeStore(db);
    rmSync(dir, { recursive: true, force: true });
  });

  it('a dry run names what would change and applies nothing', async () => {
    const r = await berth(admin, 'apply', '--dry-run');
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^added berth\.yaml$/m);
    assert.match(r.out, /dry run: applying would make version 1 of cli-apply .*nothing was applied/);
    assert.deepEqual(await listConfigs(db), []);
  });

  it('applies version 1; the files secrets are read from stay here, and are said to', async () => {
    const r = await berth(admin, 'apply');
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /applied version 1 of cli-apply/);
    assert.match(r.out, /not uploaded \(secret files stay here; set them on the server with berth secret set\): secrets\/db/);
    assert.ok(existsSync(join(versionDir(state, 1), 'berth.yaml')));
    assert.equal(existsSync(join(versionDir(state, 1), 'secrets', 'db')), false);
    assert.doesNotMatch(r.out + r.err, /hunter2/);
  });

  it('a changed berth.yaml is shown as a unified diff and becomes version 2; the same again changes nothing', async () => {
    write('berth.yaml', yaml(3));
    const r = await berth(admin, 'apply');
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^--- a\/berth\.yaml\n\+\+\+ b\/berth\.yaml\n@@ .* @@\n[\s\S]*^-    services: \{ web: \{ replicas: 1 \} \}\n\+    services: \{ web: \{ replicas: 3 \} \}$/m);
    assert.match(r.out, /applied version 2 of cli-apply \(1 file\(s\) changed\)/);
    const again = await berth(admin, 'apply');
    assert.match(again.out, /configuration of cli-apply unchanged: version 2/);
  });

  it('an invalid berth.yaml is refused here with its line, before anything is sent; the server stays at version 2', async () => {
    write('berth.yaml', yaml(3, 'nope'));
    const r = await berth(admin, 'apply');
    assert.equal(r.code, 2);
    assert.match(r.err, /berth\.yaml:7: services\.web\.image: unknown image "nope"/);
    assert.deepEqual((await listConfigs(db)).map((v) => v.version), [2, 1]);
    write('berth.yaml', yaml(3));
  });

  it('refuses a symbolic link that leaves the project folder, naming it, its target and the fix; nothing is uploaded', async () => {
    const outside = join(dir, 'outside.txt');
    writeFileSync(outside, 'not-for-the-server\n');
    const link = join(project, 'images', 'base', 'leak.txt');
    symlinkSync(outside, link);
    try {
      const r = await berth(admin, 'apply');
      assert.equal(r.code, 2, r.err);
      assert.equal(r.err.split('\n')[0], `error (invalid input): ${link} is a symbolic link to ${outside}, outside the project folder ${project}: berth apply uploads only the project folder`);
      assert.match(r.err, /fix: copy the file into the project folder instead of linking to it/);
      assert.deepEqual((await listConfigs(db)).map((v) => v.version), [2, 1], 'nothing was applied');
      assert.doesNotMatch(r.out + r.err, /not-for-the-server/);
    } finally {
      unlinkSync(link);
    }
  });

  it('uploads a link inside the project folder as the content it points to; a secret file linked from outside is neither read nor refused', async () => {
    write('notes/shared.conf', 'shared\n');
    symlinkSync('../../notes/shared.conf', join(project, 'images', 'base', 'shared.conf'));
    const secret = join(dir, 'db-password');
    writeFileSync(secret, 'hunter3-not-for-the-server\n');
    unlinkSync(join(project, 'secrets', 'db'));
    symlinkSync(secret, join(project, 'secrets', 'db'));
    const r = await berth(admin, 'apply');
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /applied version 3 of cli-apply/);
    const copy = join(versionDir(state, 3), 'images', 'base', 'shared.conf');
    assert.equal(lstatSync(copy).isFile(), true, 'a regular file on the server');
    assert.equal(readFileSync(copy, 'utf8'), 'shared\n');
    assert.equal(existsSync(join(versionDir(state, 3), 'secrets', 'db')), false);
    assert.doesNotMatch(r.out + r.err, /hunter3/);
  });

  it('without a token it is refused as unauthenticated (exit 9); a viewer is forbidden (exit 6)', async () => {
    const none = await berth(undefined, 'apply');
    assert.equal(none.code, 9);
    assert.match(none.err, /^error \(unauthenticated\): this request needs a token/);
    const viewer = await berth(admin, 'token', 'create', '--name', 'eyes', '--role', 'viewer');
    const token = viewer.out.trim().split('\n').at(-1)!;
    const refused = await berth(token, 'apply');
    assert.equal(refused.code, 6);
    assert.match(refused.err, /it lacks the role admin \(this token is a viewer\)/);
  });
});
