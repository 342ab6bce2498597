/**
 * Who may do what, on a real fastify app and a real store (no Docker: nothing
 * here starts a rollout): no mutation without a token, roles and environments
 * refused 403, approvals asked for and decided by a different token, and the
 * audit log holding every one of these requests, its chain broken by an edit.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { bootstrapAdmin } from '../access/tokens.js';
import { deployService } from '../release/deploy.js';
import { promoteService } from '../release/operations.js';
import { openStore, type Store, closeStore, sqliteOf } from '../store/db.js';
import { buildApp } from './app.js';
import { ServerCore } from './core.js';

const BERTH_YAML = `project: access-test
images:
  base:
    root: {}
services:
  web:
    image: base
    ports: [8080]
environments:
  dev: {}
  production:
    protected: true
    approval_timeout: 2h
pipeline: [dev, production]
`;

interface Answer {
  status: number;
  body: Record<string, any>;
}

describe('the server: tokens, roles, approvals and audit', () => {
  const stateDir = mkdtempSync(join(tmpdir(), 'berth-access-test-'));
  let db: Store;
  let core: ServerCore;
  let app: FastifyInstance;
  const secrets: Record<string, string> = {};
  let mutations = 0;
  /** Mutations without a valid token: the first is an entry at once, the others of its minute one entry more when the minute ends (audit-coalesce.ts). */
  let unauthenticated = 0;
  const recorded = () => mutations - Math.max(0, unauthenticated - 1);

  async function send(method: 'GET' | 'POST' | 'DELETE' | 'PUT' | 'PATCH', url: string, token?: string, body?: unknown): Promise<Answer> {
    if (method !== 'GET') mutations++;
    if (method !== 'GET' && (token === undefined || !(token in secrets))) unauthenticated++;
    const response = await app.inject({ method, url, ...(token ? { headers: { authorization: `Bearer ${secrets[token] ?? token}` } } : {}), ...(body !== undefined ? { payload: body as object } : {}) });
    return { status: response.statusCode, body: response.body ? (JSON.parse(response.body) as Record<string, any>) : {} };
  }

  /** The audit entry of a request is appended once its response is sent: wait for as many as were sent (less the coalesced ones). */
  async function auditSettled(): Promise<void> {
    const deadline = Date.now() + 10_000;
    while ((sqliteOf(db).prepare('SELECT COUNT(*) AS n FROM audit').get() as { n: number }).n < recorded()) {
      if (Date.now() > deadline) assert.fail(`the audit log holds fewer entries than the ${recorded()} expected of the ${mutations} mutating requests sent`);
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  before(async () => {
    db = await openStore(stateDir);
    core = new ServerCore(stateDir, db, { PATH: process.env.PATH });
    app = await buildApp(core);
    secrets.admin = (await bootstrapAdmin(db))!.token;
    // Applied first: a deployer's envs must name environments of the applied configuration.
    const files = { 'berth.yaml': Buffer.from(BERTH_YAML).toString('base64'), 'images/base/static.sh': Buffer.from('#!/bin/sh\n').toString('base64') };
    const applied = await send('POST', '/v1/config', 'admin', { files, executable: ['images/base/static.sh'] });
    assert.equal(applied.status, 201, JSON.stringify(applied.body));
    for (const [name, role, envs] of [['eyes', 'viewer', []], ['ci-dev', 'deployer', ['dev']], ['ci-prod', 'deployer', ['production']], ['alice', 'deployer', ['production']]] as const) {
      const created = await send('POST', '/v1/tokens', 'admin', { name, role, envs });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      secrets[name] = created.body.token as string;
    }
  });

  after(async () => {
    await app.close();
    await closeStore(db);
    rmSync(stateDir, { recursive: true, force: true });
  });

  it('refuses every mutating route 401 without a token, and with an unknown one', async () => {
    const doc = (await send('GET', '/v1/openapi.json')).body as { paths: Record<string, Record<string, unknown>> };
    const routes = Object.entries(doc.paths).flatMap(([path, methods]) =>
      Object.keys(methods)
        .filter((m) => ['post', 'put', 'patch', 'delete'].includes(m))
        .map((m) => ({ method: m.toUpperCase() as 'POST', path: path.replace(/\{(\w+)\}/g, (_, name: string) => ({ service: 'web', decision: 'promote', name: 'eyes', id: '1' })[name] ?? 'x') })),
    );
    const listed = routes.map((r) => `${r.method} ${r.path}`);
    for (const known of ['POST /v1/config', 'POST /v1/services/web/releases', 'POST /v1/services/web/promotions', 'POST /v1/tokens', 'DELETE /v1/tokens/eyes', 'POST /v1/approvals/1/approve', 'POST /v1/approvals/1/reject', 'POST /v1/rollouts/1/cancel']) {
      assert.ok(listed.includes(known), `${known} is not among the routes: ${listed.join(', ')}`);
    }
    for (const route of routes) {
      const anonymous = await send(route.method, route.path, undefined, {});
      assert.equal(anonymous.status, 401, `${route.method} ${route.path}: ${JSON.stringify(anonymous.body)}`);
      assert.equal(anonymous.body.error.kind, 'unauthenticated');
      const unknown = await send(route.method, route.path, 'berth_not-a-token', {});
      assert.equal(unknown.status, 401, `${route.method} ${route.path} with an unknown token`);
    }
    // Nothing changed: the token the anonymous DELETE named is still there.
    assert.ok((await send('GET', '/v1/tokens', 'admin')).body.tokens.some((t: { name: string; revokedAt: string | null }) => t.name === 'eyes' && t.revokedAt === null));
  });

  it('refuses a viewer 403 on a release, and a deployer for dev 403 on a promotion to production', async () => {
    const viewer = await send('POST', '/v1/services/web/releases', 'eyes', { environment: 'dev' });
    assert.equal(viewer.status, 403);
    assert.equal(viewer.body.error.message, 'token eyes may not POST /v1/services/:service/releases in dev: it lacks the role deployer (this token is a viewer)');
    const devDeployer = await send('POST', '/v1/services/web/promotions', 'ci-dev', { to: 'production' });
    assert.equal(devDeployer.status, 403);
    assert.match(devDeployer.body.error.message, /lacks rights on production \(this token may deploy to dev\)$/);
    const forcedRelease = await send('POST', '/v1/services/web/releases', 'ci-prod', { environment: 'production', force: true });
    assert.equal(forcedRelease.status, 403);
    assert.equal(forcedRelease.body.error.message, 'production is protected: a build gets there by a promotion that a second token approves, not by a release');
    const viewerTokens = await send('POST', '/v1/tokens', 'eyes', { name: 'mine', role: 'admin' });
    assert.equal(viewerTokens.status, 403);
  });

  it('refuses restart, move, host drain|undrain and registry gc to a token without the role or the environment, 403', async () => {
    const viewer = await send('POST', '/v1/services/web/restarts', 'eyes', { environment: 'dev' });
    assert.equal(viewer.status, 403);
    assert.equal(viewer.body.error.message, 'token eyes may not POST /v1/services/:service/restarts in dev: it lacks the role deployer (this token is a viewer)');
    const devDeployer = await send('POST', '/v1/services/web/restarts', 'ci-dev', { environment: 'production', instance: 'web-production-1' });
    assert.equal(devDeployer.status, 403);
    assert.match(devDeployer.body.error.message, /restarts in production: it lacks rights on production \(this token may deploy to dev\)$/);
    const move = await send('POST', '/v1/instances/web-production-1/moves', 'ci-dev', { environment: 'production', to: 'local' });
    assert.equal(move.status, 403);
    assert.match(move.body.error.message, /lacks rights on production/);
    for (const [path, body] of [['/v1/hosts/local/drain', {}], ['/v1/hosts/local/undrain', {}], ['/v1/registry/gc', { dryRun: true }]] as const) {
      const deployer = await send('POST', path, 'ci-prod', body);
      assert.equal(deployer.status, 403, `${path}: ${JSON.stringify(deployer.body)}`);
      assert.match(deployer.body.error.message, /: it lacks the role admin \(this token is a deployer\)$/);
    }
    // An admin passes the check: the host is then looked up (this project declares none by that name).
    const admin = await send('POST', '/v1/hosts/nowhere/undrain', 'admin', {});
    assert.equal(admin.status, 404, JSON.stringify(admin.body));
    assert.match(admin.body.error.message, /^unknown host "nowhere"/);
    const gc = await send('POST', '/v1/registry/gc', 'admin', { dryRun: true });
    assert.equal(gc.status, 503, JSON.stringify(gc.body));
    assert.equal(gc.body.error.message, `the registry of access-test is not running on the server's machine (state ${stateDir}); garbage collection needs it`);
    assert.equal(gc.body.error.fix, `start it there against the server's state: BERTH_STATE_DIR=${stateDir} berth registry up`);
  });

  it("refuses a deployer's deploy into a protected environment (it would bypass the approvals) 403, and in-process", async () => {
    const deploy = await send('POST', '/v1/services/web/deployments', 'ci-prod', { environment: 'production' });
    assert.equal(deploy.status, 403);
    assert.equal(deploy.body.error.message, 'production is protected: a deploy there would bypass the approvals its promotions wait for');
    await assert.rejects(deployService(await core.run('someone'), 'web', 'production'), { kind: 'forbidden', message: 'production is protected: a deploy there would bypass the approvals its promotions wait for' });
  });

  it('refuses a promotion to a protected environment in-process, saying it needs a server', async () => {
    await assert.rejects(promoteService(await core.run('someone'), 'web', 'production'), {
      kind: 'forbidden',
      message: 'production is protected: a promotion there needs an approval, which only a Berth server can ask for',
      fix: 'promote through the server (BERTH_SERVER, BERTH_TOKEN), or remove environments.production.protected',
    });
  });

  it('turns a promotion to a protected environment into an approval that only another token with rights there decides', async () => {
    const asked = await send('POST', '/v1/services/web/promotions', 'ci-prod', { to: 'production', force: true });
    assert.equal(asked.status, 202, JSON.stringify(asked.body));
    const approval = asked.body.approval;
    assert.equal(asked.body.rollout, undefined);
    assert.deepEqual({ service: approval.service, environment: approval.environment, requestedBy: approval.requestedBy, status: approval.status, request: approval.request }, { service: 'web', environment: 'production', requestedBy: 'ci-prod', status: 'pending', request: { to: 'production', force: true } });
    assert.equal(Date.parse(approval.expiresAt) - Date.parse(approval.createdAt), 2 * 3_600_000);

    const same = await send('POST', `/v1/approvals/${approval.id}/approve`, 'ci-prod');
    assert.equal(same.status, 403);
    assert.equal(same.body.error.message, 'an approval needs a different token than the one that asked (ci-prod asked)');
    const devOnly = await send('POST', `/v1/approvals/${approval.id}/approve`, 'ci-dev');
    assert.equal(devOnly.status, 403);
    assert.match(devOnly.body.error.message, /lacks rights on production/);
    const viewer = await send('POST', `/v1/approvals/${approval.id}/reject`, 'eyes');
    assert.equal(viewer.status, 403);
    const missing = await send('POST', '/v1/approvals/999/approve', 'alice');
    assert.equal(missing.status, 404);

    // Approved by another token: the promotion starts as asked, and is refused because nothing runs in dev yet; the request still waits.
    const approved = await send('POST', `/v1/approvals/${approval.id}/approve`, 'alice');
    assert.equal(approved.status, 404, JSON.stringify(approved.body));
    assert.equal(approved.body.error.message, 'no release of web runs in dev');
    const listed = (await send('GET', '/v1/approvals', 'eyes')).body.approvals as { id: number; status: string }[];
    assert.deepEqual(listed.map((a) => [a.id, a.status]), [[approval.id, 'pending']]);

    const rejected = await send('POST', `/v1/approvals/${approval.id}/reject`, 'alice');
    assert.equal(rejected.status, 200);
    assert.deepEqual([rejected.body.approval.status, rejected.body.approval.decidedBy], ['rejected', 'alice']);
    const again = await send('POST', `/v1/approvals/${approval.id}/approve`, 'admin');
    assert.equal(again.status, 409);
    assert.match(again.body.error.message, /was rejected already by alice/);
  });

  it('refuses an expired approval 409 and marks it expired', async () => {
    const asked = await send('POST', '/v1/services/web/promotions', 'ci-prod', { to: 'production' });
    const id = asked.body.approval.id as number;
    sqliteOf(db).prepare('UPDATE approvals SET expires_at = ? WHERE id = ?').run(Date.now() - 1, id);
    const late = await send('POST', `/v1/approvals/${id}/approve`, 'alice');
    assert.equal(late.status, 409);
    assert.match(late.body.error.message, new RegExp(`^approval #${id} \\(promote web to production\\) expired at `));
    const listed = (await send('GET', '/v1/approvals', 'eyes')).body.approvals as { id: number; status: string }[];
    assert.equal(listed.find((a) => a.id === id)?.status, 'expired');
  });

  it('holds every one of these requests in the audit log, without a secret, and verifies its chain', async () => {
    secrets.value = 'hunter2-do-not-log';
    await send('PUT', '/v1/services/web/secrets/DB_PASSWORD', 'ci-dev', { environment: 'dev', value: secrets.value });
    await auditSettled();
    const { entries } = (await send('GET', '/v1/audit?limit=100000', 'eyes')).body as { entries: { seq: number; actor: string; action: string; target: string; outcome: string; params: Record<string, unknown> }[] };
    assert.equal(entries.length, recorded());
    const has = (actor: string, action: string, outcome: RegExp, target?: string) =>
      assert.ok(entries.some((e) => e.actor === actor && e.action === action && outcome.test(e.outcome) && (target === undefined || e.target === target)), `no entry ${actor} ${action} ${outcome}${target ? ` on ${target}` : ''}`);
    has('admin', 'token create', /^ok 201$/, 'token ci-prod');
    has('admin', 'apply', /^ok 201$/, 'config');
    // The first refusal without a token, with its source; the others of the minute are counted in one entry at its end.
    const anonymous = entries.filter((e) => e.actor === 'anonymous');
    assert.equal(anonymous.length, 1);
    assert.match(anonymous[0]!.outcome, /^refused 401 this request needs a token/);
    assert.equal(anonymous[0]!.params.source, '127.0.0.1');
    has('eyes', 'release', /^refused 403 token eyes may not/, 'web in dev');
    has('ci-dev', 'promote', /^refused 403 .*lacks rights on production/, 'web in production');
    has('ci-prod', 'promote', /^ok 202 approval #1$/, 'web in production');
    has('ci-prod', 'approve', /^refused 403 an approval needs a different token than the one that asked \(ci-prod asked\)$/, 'approval #1');
    has('alice', 'approve', /^refused 404 no release of web runs in dev$/, 'approval #1');
    has('alice', 'reject', /^ok 200 approval #1$/, 'approval #1');
    has('alice', 'approve', /^refused 409 .*expired at/);
    has('ci-dev', 'secret set DB_PASSWORD', /./, 'web in dev');
    has('eyes', 'restart', /^refused 403 /, 'web in dev');
    has('ci-dev', 'restart', /^refused 403 .*lacks rights on production/, 'web-production-1 in production');
    has('ci-prod', 'host drain', /^refused 403 .*lacks the role admin/, 'host local');
    has('ci-prod', 'registry gc', /^refused 403 /, 'registry (dry run)');
    has('admin', 'host undrain', /^refused 404 unknown host/, 'host nowhere');
    has('admin', 'registry gc', /^failed 503 the registry of access-test is not running/, 'registry (dry run)');
    const apply = entries.find((e) => e.action === 'apply')!;
    assert.deepEqual(apply.params.files, ['berth.yaml', 'images/base/static.sh']);
    const text = JSON.stringify(entries);
    for (const [name, secret] of Object.entries(secrets)) assert.ok(!text.includes(secret), `the secret of token ${name} is in the audit log`);
    assert.deepEqual((await send('GET', '/v1/audit?actor=alice', 'eyes')).body.entries.map((e: { actor: string }) => e.actor), ['alice', 'alice', 'alice', 'alice']);
    assert.ok((await core.events.after(0)).filter((e) => e.type === 'audit').length >= recorded());

    assert.deepEqual((await send('GET', '/v1/audit/verify', 'eyes')).body, { ok: true, count: recorded() });
    const edited = entries.find((e) => e.actor === 'eyes')!.seq;
    sqliteOf(db).prepare("UPDATE audit SET outcome = 'ok 202' WHERE seq = ?").run(edited);
    assert.deepEqual((await send('GET', '/v1/audit/verify', 'eyes')).body, { ok: false, seq: edited, reason: 'its hash does not match its content (the row was edited)' });
    sqliteOf(db).prepare("UPDATE audit SET outcome = ? WHERE seq = ?").run(entries.find((e) => e.seq === edited)!.outcome, edited);
    assert.deepEqual((await send('GET', '/v1/audit/verify', 'eyes')).body, { ok: true, count: recorded() });
    // The newest entries deleted: the chain that is left holds, the head recorded beside the store does not.
    const last = recorded();
    sqliteOf(db).prepare('DELETE FROM audit WHERE seq > ?').run(last - 2);
    assert.deepEqual((await send('GET', '/v1/audit/verify', 'eyes')).body, { ok: false, seq: last - 1, reason: `the log ends at entry ${last - 2}, but entries ${last - 1} to ${last} are recorded as written: cut off the end (deleted)` });
  });
});
