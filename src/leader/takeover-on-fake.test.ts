/**
 * A leader whose term ends in the middle of a rolling update, on the FakeEngine: its next write is
 * refused (it stops where it is, no rollback), the rollout stays journaled and running, and the next
 * leader, under a newer epoch, takes the service's lease over at once (without waiting out the
 * lease's TTL: an older epoch's holder cannot write any more) and resumes the same rollout from its
 * step to the end: every slot replaced once, the same rollout id, the release recorded once.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { stringify } from 'yaml';
import type { Project } from '../config/model.js';
import { loadProject } from '../config/project.js';
import type { Engine } from '../engine/engine.js';
import { injectCheckpointFault } from '../fault.js';
import { releaseService } from '../release/operations.js';
import { recoverInterrupted } from '../rollout/executor.js';
import type { RunContext } from '../runtime/context.js';
import { Hosts } from '../runtime/hosts.js';
import { RUN_LABELS } from '../runtime/labels.js';
import { closeStore, openStore, type Store } from '../store/db.js';
import { claimLeadership, resignLeadership } from '../store/leader.js';
import { LostLeadership, leaseOf, type LeaderFence } from '../store/leases.js';
import { currentRelease, openRollout, releasesOf, rolloutsOf } from '../store/releases.js';
import { FakeDoor } from '../testing/fake-door.js';
import { FakeEngine } from '../testing/fake-engine.js';

const TTL_MS = 30_000;

describe('a leader that stops leading mid-rollout, and the next one (on the FakeEngine)', () => {
  let dir: string;
  let project: Project;
  let env: NodeJS.ProcessEnv;
  let db: Store;
  let engine: FakeEngine;
  const door = new FakeDoor();
  const noRealEngine = (spec: { name: string }): Engine => assert.fail(`the test connected to a real engine for host ${spec.name}`);
  const context = (leader?: LeaderFence): RunContext => ({ project, db, hosts: new Hosts(project, engine, noRealEngine), env, ...(leader ? { leader } : {}) });

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'berth-takeover-on-fake-'));
    mkdirSync(join(dir, 'images/web'), { recursive: true });
    writeFileSync(join(dir, 'images/web/static.sh'), '#!/bin/sh\n', { mode: 0o755 });
    writeFileSync(
      join(dir, 'berth.yaml'),
      stringify({
        project: 'shop',
        images: { web: { root: {} } },
        networks: { lan: { mode: 'flat', bridge: 'brtakeover', subnet: '10.98.0.0/24', gateway: '10.98.0.1', range: '10.98.0.10-10.98.0.20', create_bridge: true, quarantine: '0s' } },
        services: { web: { image: 'web', ports: [8080], health: { command: ['check-web'], interval: '1s' }, stop_grace: '1s', rollout: { batch_size: 1, drain: '0s' } } },
        environments: { dev: { network: 'lan', lb_address: '127.0.0.1', services: { web: { replicas: 3 } } } },
      }),
    );
    env = { BERTH_STATE_DIR: join(dir, '.berth'), BERTH_ACTOR: 'test' };
    project = loadProject(dir, env, dir);
    db = await openStore(project.stateDir);
    engine = new FakeEngine({ endpoint: project.hosts[0]!.engine });
    for (const version of ['A', 'B'] as const) engine.addImage({ tags: [`berth/web:${version}`], labels: { 'berth.image': 'web', 'berth.project': 'shop' } });
    engine.scriptExec(async (_c, cmd) => (cmd[0] === 'check-web' ? { exitCode: 0, output: '' } : undefined));
  });

  after(async () => {
    injectCheckpointFault(undefined);
    await closeStore(db);
    rmSync(dir, { recursive: true, force: true });
  });

  it('the old leader is refused at its next write, and the new one resumes the same rollout at once and finishes it', async () => {
    const first = await claimLeadership(db, { holder: 'server-a', address: 'http://a' }, 60_000);
    assert.ok('leading' in first && first.leading.epoch === 1);
    let aActs = true;
    const a: LeaderFence = { epoch: 1, acting: () => aActs };
    const asA = { holder: 'server-a:1:x', pid: 4_242_001, hostname: 'host-a' };
    assert.equal((await releaseService(context(a), 'web', 'dev', { door, timeoutMs: 10_000, image: 'berth/web:A', lease: { ttlMs: TTL_MS, now: Date.now, as: asA, leader: a } })).status, 'succeeded');
    const before = new Set((await engine.containers.summaries([`${RUN_LABELS.project}=shop`])).map((c) => c.id));

    // A's term ends after its second replacement started (its renewals failed for two thirds of the TTL).
    let replaced = 0;
    injectCheckpointFault((where) => {
      if (where === 'replace' && ++replaced === 2) aActs = false;
    });
    await assert.rejects(
      releaseService(context(a), 'web', 'dev', { door, timeoutMs: 10_000, image: 'berth/web:B', lease: { ttlMs: TTL_MS, now: Date.now, as: asA, leader: a } }),
      (error: unknown) => error instanceof LostLeadership && /stopped leading/.test(error.message),
    );
    injectCheckpointFault(undefined);
    const open = await openRollout(db, 'web', 'dev');
    assert.ok(open && open.status === 'running', 'the rollout stays journaled and running for the next leader');
    const lease = (await leaseOf(db, 'web', 'dev'))!;
    assert.ok(lease.holder === asA.holder && lease.epoch === 1 && lease.expiresAt > Date.now(), 'A still holds the service lease, unexpired');

    // B takes the leader lease (A's ran out; resigned here for speed) with epoch 2 and resumes at once.
    await resignLeadership(db, { holder: 'server-a', epoch: 1 });
    const second = await claimLeadership(db, { holder: 'server-b', address: 'http://b' }, 60_000);
    assert.ok('leading' in second && second.leading.epoch === 2);
    const b: LeaderFence = { epoch: 2, acting: () => true };
    const notes: string[] = [];
    const resumed = await recoverInterrupted(context(b), 'web', 'dev', { door, timeoutMs: 10_000, lease: { ttlMs: TTL_MS, now: Date.now, as: { holder: 'server-b:2:y', pid: 4_242_002, hostname: 'host-b' }, leader: b }, emit: (e) => void (e.type === 'note' && notes.push(e.text)) });
    assert.equal(resumed?.status, 'succeeded');
    assert.equal(resumed?.rollout, open.id, 'the same rollout, resumed');
    assert.ok(notes.some((n) => new RegExp(`rollout #${open.id} .*interrupted`).test(n)), notes.join('\n'));

    // Each slot replaced once: three new containers, none of A's left, one release B recorded; no lease, nothing running.
    const after = await engine.containers.summaries([`${RUN_LABELS.project}=shop`]);
    assert.equal(after.length, 3);
    assert.equal(after.filter((c) => before.has(c.id)).length, 0);
    assert.deepEqual((await releasesOf(db, 'web')).map((r) => r.number).sort(), [1, 2]);
    assert.equal(await currentRelease(db, 'web', 'dev'), 2);
    assert.equal(await leaseOf(db, 'web', 'dev'), undefined);
    assert.deepEqual((await rolloutsOf(db, 'web', 'dev')).map((r) => r.status), ['succeeded', 'succeeded']);

    // A, waking up under its old epoch, writes nothing.
    aActs = true;
    await assert.rejects(releaseService(context(a), 'web', 'dev', { door, timeoutMs: 10_000, image: 'berth/web:A', lease: { ttlMs: TTL_MS, now: Date.now, as: asA, leader: a } }), (error: unknown) => error instanceof LostLeadership && /server server-b leads with epoch 2/.test(error.message));
    assert.equal(await currentRelease(db, 'web', 'dev'), 2);
  });
});
