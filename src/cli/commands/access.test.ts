/** berth token, approvals, approve, reject and audit against a real server on loopback (a real store, no engine needed). */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { bootstrapAdmin } from '../../access/tokens.js';
import { buildApp } from '../../server/app.js';
import { ServerCore } from '../../server/core.js';
import { openStore, type Store, closeStore, sqliteOf } from '../../store/db.js';
import { main } from '../main.js';
import { approvalLines } from '../remote.js';

const BERTH_YAML = 'project: cli-access\nimages:\n  base:\n    root: {}\nservices:\n  web:\n    image: base\nenvironments:\n  dev: {}\n  production: { protected: true }\n';

describe('berth token, approvals and audit through a server', () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-access-cli-test-'));
  let db: Store;
  let app: FastifyInstance;
  let server: string;
  const tokens: Record<string, string> = {};

  async function berth(token: string | undefined, ...argv: string[]) {
    const out: string[] = [];
    const err: string[] = [];
    const env = { HOME: dir, ...(server && token !== undefined ? { BERTH_SERVER: server, BERTH_TOKEN: tokens[token] ?? token } : {}) };
    const code = await main(argv, { isTTY: false, color: false, out: (t) => out.push(t), err: (t) => err.push(t) }, env, dir);
    return { code, out: out.join('\n').split('\n'), err: err.join('\n') };
  }

  before(async () => {
    db = await openStore(join(dir, 'state'));
    tokens.admin = (await bootstrapAdmin(db))!.token;
    app = await buildApp(new ServerCore(join(dir, 'state'), db, {}));
    await app.listen({ host: '127.0.0.1', port: 0 });
    server = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
    const files = { 'berth.yaml': Buffer.from(BERTH_YAML).toString('base64'), 'images/base/static.sh': Buffer.from('#!/bin/sh\n').toString('base64') };
    const applied = await app.inject({ method: 'POST', url: '/v1/config', headers: { authorization: `Bearer ${tokens.admin}` }, payload: { files, executable: ['images/base/static.sh'] } });
    assert.equal(applied.statusCode, 201, applied.body);
  });

  after(async () => {
    await app.close();
    await closeStore(db);
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses the commands without a server, saying how to name one', async () => {
    for (const argv of [['token', 'ls'], ['audit'], ['approvals'], ['approve', '1']]) {
      const { code, err } = await berth(undefined, ...argv);
      assert.equal(code, 2, argv.join(' '));
      assert.match(err, new RegExp(`^error \\(invalid input\\): berth ${argv[0]} needs a Berth server, and none is configured\\n  fix: set BERTH_SERVER`));
    }
  });

  it('creates tokens (the token on the last line), lists and revokes them', async () => {
    for (const [name, role, envs] of [['ci-prod', 'deployer', 'production'], ['alice', 'deployer', 'production'], ['gone', 'viewer', undefined]] as const) {
      const { code, out } = await berth('admin', 'token', 'create', '--name', name, '--role', role, ...(envs ? ['--envs', envs] : []));
      assert.equal(code, 0, out.join('\n'));
      assert.match(out.at(-1)!, /^berth_[A-Za-z0-9_-]{43}$/);
      tokens[name] = out.at(-1)!;
    }
    const listed = await berth('admin', 'token', 'ls');
    assert.match(listed.out[0]!, /^NAME\s+ROLE\s+ENVS/);
    assert.ok(listed.out.some((l) => /^ci-prod\s+deployer\s+production\s+admin/.test(l)), listed.out.join('\n'));
    assert.equal((await berth('admin', 'token', 'revoke', 'gone')).code, 0);
    const refused = await berth('gone', 'token', 'ls');
    assert.equal(refused.code, 9);
    assert.match(refused.err, /unauthenticated/);
    const forbidden = await berth('ci-prod', 'token', 'create', '--name', 'x', '--role', 'admin');
    assert.equal(forbidden.code, 6);
    assert.match(forbidden.err, /^error \(forbidden\): token ci-prod may not POST \/v1\/tokens: it lacks the role admin/);
  });

  it('asks for an approval on a promotion to a protected environment; only another token decides it', async () => {
    const asked = await berth('ci-prod', 'promote', 'web', '--to', 'production');
    assert.equal(asked.code, 10, asked.out.join('\n') + asked.err);
    assert.match(asked.out[0]!, /^approval #1 pending: promote web to production asked by ci-prod \(expires \d{4}-\d\d-\d\dT[\d:.]+Z\)$/);
    assert.equal(asked.out[1], '  another token with rights on production approves it: berth approve 1 (or berth reject 1)');
    const listed = await berth('alice', 'approvals');
    assert.match(listed.out[1]!, /^1\s+web\s+production\s+pending\s+ci-prod\s/);
    const same = await berth('ci-prod', 'approve', '1');
    assert.equal(same.code, 6);
    assert.match(same.err, /an approval needs a different token than the one that asked \(ci-prod asked\)/);
    const rejected = await berth('alice', 'reject', '1');
    assert.equal(rejected.code, 0, rejected.err);
    assert.deepEqual(rejected.out, ['approval #1 rejected by alice: promote web to production asked by ci-prod']);
    assert.equal((await berth('alice', 'approve', '#1')).code, 4);
  });

  it('shows the audit log and verifies its chain, naming an edited entry', async () => {
    const deadline = Date.now() + 10_000;
    // The entry of the last request is appended once its answer is sent.
    while (!(sqliteOf(db).prepare("SELECT 1 FROM audit WHERE action = 'approve' AND actor = 'alice'").get() as unknown) && Date.now() < deadline) await new Promise((r) => setImmediate(r));
    const shown = await berth('alice', 'audit', '--actor', 'ci-prod');
    assert.match(shown.out[0]!, /^SEQ\s+AT\s+ACTOR\s+ACTION\s+TARGET\s+OUTCOME$/);
    assert.ok(shown.out.some((l) => /\sci-prod\s+promote\s+web in production\s+ok 202 approval #1$/.test(l)), shown.out.join('\n'));
    const json = await berth('alice', 'audit', '--json', '--since', '1h');
    const entries = (JSON.parse(json.out.join('\n')) as { entries: { seq: number; actor: string; action: string }[] }).entries;
    assert.ok(entries.some((e) => e.actor === 'admin' && e.action === 'token revoke'));
    const intact = await berth('alice', 'audit', 'verify');
    assert.equal(intact.code, 0);
    assert.match(intact.out[0]!, /^audit log intact: \d+ entries$/);
    const seq = entries.find((e) => e.action === 'reject')!.seq;
    sqliteOf(db).prepare("UPDATE audit SET actor = 'someone' WHERE seq = ?").run(seq);
    const broken = await berth('alice', 'audit', 'verify');
    assert.equal(broken.code, 1);
    assert.match(broken.err, new RegExp(`^error \\(failed\\): audit entry ${seq} does not match its chain: its hash does not match its content \\(the row was edited\\)`));
  });

  it('reads an approval decided, with its rollout', () => {
    assert.deepEqual(approvalLines({ id: 4, service: 'web', environment: 'production', requestedBy: 'ci', expiresAt: 'x', status: 'approved', decidedBy: 'alice', rollout: 9 }), ['approval #4 approved by alice: promote web to production asked by ci (rollout #9)']);
  });
});
