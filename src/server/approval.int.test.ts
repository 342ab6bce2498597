/**
 * Integration: an approved promotion runs, on the real engine. Through a server
 * (a real fastify app on a real store), ci-prod releases a build to dev and asks
 * to promote it to the protected production: nothing starts there until alice,
 * another token with rights on production, approves; the rollout then runs as
 * alice's, the approval records it, and the audit log holds each step.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { bootstrapAdmin } from '../access/tokens.js';
import { collectBundle, encodeBundle } from '../apply/bundle.js';
import { buildProject } from '../imaging/builder.js';
import { loadProject } from '../config/project.js';
import { listInstances } from '../runtime/instances.js';
import { removeInstances } from '../release/operate.js';
import { removeNetwork } from '../network/docker-network.js';
import { approvalById } from '../store/approvals.js';
import { openStore, type Store, closeStore } from '../store/db.js';
import { currentRelease, rolloutById } from '../store/releases.js';
import { makeFixture, tinyRootTarball, type Fixture } from '../testing/fixture.js';
import { buildApp } from './app.js';
import { ServerCore } from './core.js';

const SVC = 'web';
const ENVIRONMENTS = ['dev', 'production'];

describe('an approved promotion to a protected environment, on the real engine', () => {
  let fixture: Fixture;
  let serverState: string;
  let db: Store;
  let core: ServerCore;
  let app: FastifyInstance;
  let imageId: string;
  const tokens: Record<string, string> = {};

  async function send(method: 'GET' | 'POST', url: string, token: string, body?: object) {
    const response = await app.inject({ method, url, headers: { authorization: `Bearer ${tokens[token]}` }, ...(body ? { payload: body } : {}) });
    return { status: response.statusCode, body: JSON.parse(response.body) as Record<string, any> };
  }

  before(async () => {
    fixture = await makeFixture(
      {
        base: { settings: { root: { tarball: await tinyRootTarball() } } },
        web: { settings: { from: 'base', command: ['busybox', 'httpd', '-f', '-p', '8080', '-h', '/www'] }, static: '#!/bin/sh\nmkdir -p /www\necho hello > /www/index.html\n' },
      },
      {
        services: { [SVC]: { image: 'web', ports: [8080], health: { http: '/index.html', interval: '1s', timeout: '500ms' }, stop_grace: '1s', rollout: { drain: '0s' } } },
        environments: { dev: { network: 'nat' }, production: { network: 'nat', protected: true, approval_timeout: '1h' } },
        pipeline: ENVIRONMENTS,
      },
    );
    const local = await openStore(join(fixture.dir, '.berth'));
    try {
      const summary = await buildProject(loadProject(fixture.dir, fixture.env), fixture.engine, local, { env: fixture.env, only: ['web'] });
      assert.deepEqual(summary.failed, []);
      imageId = [...summary.built, ...summary.upToDate].find((b) => b.name === 'web')!.imageId;
    } finally {
      await closeStore(local);
    }
    serverState = join(fixture.dir, '.berth', 'server');
    db = await openStore(serverState);
    core = new ServerCore(serverState, db, fixture.env);
    app = await buildApp(core);
    tokens.admin = (await bootstrapAdmin(db))!.token;
    // Applied first: a deployer's envs must name environments of the applied configuration.
    const applied = await send('POST', '/v1/config', 'admin', encodeBundle(collectBundle(fixture.dir, join(fixture.dir, '.berth'))));
    assert.equal(applied.status, 201, JSON.stringify(applied.body));
    for (const name of ['ci-prod', 'alice']) {
      const created = await send('POST', '/v1/tokens', 'admin', { name, role: 'deployer', envs: name === 'alice' ? ['production'] : ['dev', 'production'] });
      tokens[name] = created.body.token as string;
    }
  });

  after(async () => {
    if (!fixture) return;
    await app?.close();
    await core?.jobs.drain();
    if (core) {
      for (const environment of ENVIRONMENTS) {
        const run = await core.run('test');
        const left = await listInstances(run, { environment }).catch(() => []);
        if (left.length > 0) await removeInstances(run, left, environment).catch(() => {});
      }
    }
    await removeNetwork(fixture.engine, `berth-${fixture.name}-nat`).catch(() => {});
    await (db && await closeStore(db));
    await fixture.cleanup();
  });

  it('waits for the approval of another token, then runs the promotion as the approver', async () => {
    const released = await send('POST', `/v1/services/${SVC}/releases`, 'ci-prod', { environment: 'dev', image: imageId, timeoutMs: 60_000 });
    assert.equal(released.status, 202, JSON.stringify(released.body));
    await core.jobs.drain();
    assert.equal((await rolloutById(db, released.body.rollout as number))?.status, 'succeeded', (await rolloutById(db, released.body.rollout as number))?.message);
    const release = (await currentRelease(db, SVC, 'dev'))!;

    const asked = await send('POST', `/v1/services/${SVC}/promotions`, 'ci-prod', { to: 'production', timeoutMs: 60_000 });
    assert.equal(asked.status, 202, JSON.stringify(asked.body));
    const id = asked.body.approval.id as number;
    assert.equal(await currentRelease(db, SVC, 'production'), undefined, 'the promotion started before its approval');
    assert.equal((await send('POST', `/v1/approvals/${id}/approve`, 'ci-prod')).status, 403);

    const approved = await send('POST', `/v1/approvals/${id}/approve`, 'alice');
    assert.equal(approved.status, 202, JSON.stringify(approved.body));
    const rollout = approved.body.rollout as number;
    assert.deepEqual([approved.body.approval.status, approved.body.approval.decidedBy, approved.body.approval.rollout], ['approved', 'alice', rollout]);
    await core.jobs.drain();
    const ran = (await rolloutById(db, rollout))!;
    assert.deepEqual([ran.kind, ran.status, ran.actor, ran.release], ['promote', 'succeeded', 'alice', release], ran.message);
    assert.equal(await currentRelease(db, SVC, 'production'), release);
    assert.equal((await approvalById(db, id))?.rollout, rollout);
    const running = await listInstances(await core.run('test'), { environment: 'production', service: SVC });
    assert.deepEqual(running.map((i) => i.state), ['running']);

    const { entries } = (await send('GET', '/v1/audit', 'alice')).body as { entries: { actor: string; action: string; outcome: string }[] };
    assert.ok(entries.some((e) => e.actor === 'ci-prod' && e.action === 'promote' && e.outcome === `ok 202 approval #${id}`), JSON.stringify(entries));
    assert.ok(entries.some((e) => e.actor === 'alice' && e.action === 'approve' && e.outcome === `ok 202 rollout #${rollout} approval #${id}`), JSON.stringify(entries));
    assert.deepEqual((await send('GET', '/v1/audit/verify', 'alice')).body, { ok: true, count: entries.length });
  });
});
