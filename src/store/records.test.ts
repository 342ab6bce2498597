/** The store's records on a real SQLite file, through the typed queries: what each function reads back after it wrote. */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { approvalById, decideApproval, expireApprovals, insertApproval, listApprovals, reopenApproval, setApprovalRollout } from './approvals.js';
import { buildsOf, cachedFileHash, latestBuilds, recordBuild, rememberFileHash, type BuildRecord } from './builds.js';
import { configVersion, insertConfig, latestConfig, listConfigs } from './configs.js';
import type { Store } from './db.js';
import { tempStoreForFile } from '../testing/temp-store.js';
import { allSlots, forgetSlot, saveSlot, slotsOf } from './deployments.js';
import { appendEvent, eventsAfter, pruneEvents } from './events.js';
import { clearHostState, hostStates, markDraining } from './hosts.js';
import { lastPushOf, lastPushTo, recordPush } from './pushes.js';
import { allFrontDoors, createRelease, currentRelease, forgetFrontDoorPort, frontDoorPort, releaseOf, releasesOf, saveFrontDoorPort, scaleOf, setScale } from './releases.js';
import { deleteSecret, putSecret, sealedSecret, secretEntries } from './secrets.js';
import { countTokens, insertToken, listTokens, revokeToken, tokenByHash, tokenById, tokenByName } from './tokens.js';

let db: Store;
tempStoreForFile('berth-records-', (opened) => (db = opened));

describe('store records', () => {
  it('approvals: pending first (oldest first), then decided (newest first); one decider wins; expired ones are returned', async () => {
    const ask = (service: string, expiresAt: number) => insertApproval(db, { service, environment: 'production', request: { release: 1 }, requestedBy: 'ana', createdAt: 1, expiresAt });
    const a = await ask('a', 100);
    const b = await ask('b', 100);
    const c = await ask('c', 5);
    const d = await ask('d', 100);
    assert.deepEqual({ id: a.id, status: a.status, request: a.request, decidedBy: a.decidedBy, rollout: a.rollout }, { id: a.id, status: 'pending', request: { release: 1 }, decidedBy: null, rollout: null });
    assert.deepEqual((await expireApprovals(db, 10)).map((x) => [x.id, x.status, x.decidedAt]), [[c.id, 'expired', 5]]);
    assert.equal(await decideApproval(db, b.id, { status: 'approved', by: 'bo', at: 20 }), true);
    assert.equal(await decideApproval(db, b.id, { status: 'rejected', by: 'cy', at: 21 }), false);
    assert.deepEqual((await listApprovals(db)).map((x) => x.service), ['a', 'd', 'c', 'b']);
    await reopenApproval(db, b.id);
    assert.equal((await approvalById(db, b.id))!.status, 'pending');
    await decideApproval(db, b.id, { status: 'approved', by: 'bo', at: 22 });
    await setApprovalRollout(db, b.id, 7);
    await reopenApproval(db, b.id);
    assert.deepEqual([(await approvalById(db, b.id))!.status, (await approvalById(db, b.id))!.rollout], ['approved', 7]);
    assert.equal(await approvalById(db, 999), undefined);
  });

  it('builds: the latest of each image, every build newest first, and cached file hashes', async () => {
    const build = (image: string, key: string, builtAt: number): BuildRecord => ({ image, key, imageId: `sha256:${key}`, parentId: '', inputs: { recipe: 'r', image, settings: {}, files: {}, parentId: '' }, builtAt, durationMs: 3 });
    await recordBuild(db, build('web', 'k1', 10));
    await recordBuild(db, build('web', 'k2', 20));
    await recordBuild(db, build('api', 'k3', 15));
    await recordBuild(db, { ...build('web', 'k1', 30), imageId: 'sha256:again' });
    const latest = await latestBuilds(db);
    assert.deepEqual([...latest.entries()].map(([image, b]) => [image, b.key, b.imageId]).sort(), [['api', 'k3', 'sha256:k3'], ['web', 'k1', 'sha256:again']]);
    assert.deepEqual((await buildsOf(db, 'web')).map((b) => b.key), ['k1', 'k2']);
    await rememberFileHash(db, '/f', 10, 1.5, 'aa');
    await rememberFileHash(db, '/f', 11, 2.5, 'bb');
    assert.equal(await cachedFileHash(db, '/f', 10, 1.5), undefined);
    assert.equal(await cachedFileHash(db, '/f', 11, 2.5), 'bb');
  });

  it('configs: versions are numbered one after another, even when applied at once', async () => {
    const applied = await Promise.all([1, 2, 3].map((n) => insertConfig(db, { project: 'p', digest: `d${n}`, files: { 'berth.yaml': `h${n}` }, actor: 'ana' }, n)));
    assert.deepEqual(applied.map((c) => c.version).sort(), [1, 2, 3]);
    assert.equal((await latestConfig(db))!.version, 3);
    assert.deepEqual((await listConfigs(db)).map((c) => c.version), [3, 2, 1]);
    assert.deepEqual((await configVersion(db, 2))!.files, { 'berth.yaml': applied.find((c) => c.version === 2)!.files['berth.yaml'] });
  });

  it('slots, events and host states', async () => {
    const slot = { environment: 'production', slot: 'web-production-2', service: 'web', ordinal: 2, host: 'a', network: 'n', hostPorts: { '80/tcp': 8080 } };
    await saveSlot(db, slot);
    await saveSlot(db, { ...slot, slot: 'web-production-1', ordinal: 1 });
    await saveSlot(db, { ...slot, host: 'b' });
    await saveSlot(db, { ...slot, environment: 'dev', slot: 'web-dev-1', ordinal: 1 });
    assert.deepEqual((await slotsOf(db, 'web', 'production')).map((s) => [s.slot, s.host, s.hostPorts]), [['web-production-1', 'a', { '80/tcp': 8080 }], ['web-production-2', 'b', { '80/tcp': 8080 }]]);
    assert.deepEqual((await allSlots(db)).map((s) => s.slot), ['web-dev-1', 'web-production-1', 'web-production-2']);
    await forgetSlot(db, 'dev', 'web-dev-1');
    assert.deepEqual(await allSlots(db, 'dev'), []);

    const one = await appendEvent(db, { type: 'rollout.started', rollout: 4, data: { a: 1 } }, 100);
    const two = await appendEvent(db, { type: 'host.drained', data: ['x'] }, 101);
    assert.equal(two.seq, one.seq + 1);
    assert.deepEqual(await eventsAfter(db, 0), [one, two]);
    assert.deepEqual(await eventsAfter(db, 0, { rollout: 4 }), [one]);
    assert.deepEqual(await eventsAfter(db, one.seq, { limit: 1 }), [two]);
    assert.equal(await pruneEvents(db, 101), 1);
    assert.deepEqual(await eventsAfter(db, 0), [two]);

    await markDraining(db, 'h1', 'ana', 'disk', 5);
    await markDraining(db, 'h1', 'bo', 'again', 6);
    assert.deepEqual([...(await hostStates(db)).values()], [{ name: 'h1', state: 'draining', reason: 'disk', actor: 'ana', since: 5 }]);
    assert.equal(await clearHostState(db, 'h1'), true);
    assert.equal(await clearHostState(db, 'h1'), false);
  });

  it('releases are numbered per service, even when made at once; scales and front doors are replaced', async () => {
    const release = { service: 'web', image: 'web', imageId: 'sha256:i', digest: 'sha256:d', repository: 'berth/web', config: '{}', createdBy: 'ana' };
    const made = await Promise.all([0, 1, 2].map(() => createRelease(db, release, 7)));
    assert.deepEqual(made.map((r) => r.number).sort(), [1, 2, 3]);
    assert.equal((await createRelease(db, { ...release, service: 'api', configVersion: 2 }, 8)).number, 1);
    assert.deepEqual(await releaseOf(db, 'api', 1), { ...release, service: 'api', number: 1, createdAt: 8, configVersion: 2 });
    assert.deepEqual(await releaseOf(db, 'web', 1), { ...release, number: 1, createdAt: 7 });
    assert.deepEqual((await releasesOf(db, 'web')).map((r) => r.number), [3, 2, 1]);
    assert.equal(await currentRelease(db, 'web', 'production'), undefined);

    assert.equal(await scaleOf(db, 'web', 'production'), undefined);
    await setScale(db, 'web', 'production', 2);
    await setScale(db, 'web', 'production', 5);
    assert.equal(await scaleOf(db, 'web', 'production'), 5);
    await saveFrontDoorPort(db, 'web', 'production', '0.0.0.0', 8080);
    await saveFrontDoorPort(db, 'web', 'production', '127.0.0.1', 8081);
    await saveFrontDoorPort(db, 'api', 'dev', '0.0.0.0', 9000);
    assert.deepEqual(await frontDoorPort(db, 'web', 'production'), { address: '127.0.0.1', port: 8081 });
    assert.deepEqual(await allFrontDoors(db), [{ service: 'api', environment: 'dev', address: '0.0.0.0', port: 9000 }, { service: 'web', environment: 'production', address: '127.0.0.1', port: 8081 }]);
    await forgetFrontDoorPort(db, 'web', 'production');
    assert.equal(await frontDoorPort(db, 'web', 'production'), undefined);
  });

  it('pushes: the last of an image or a digest, to any registry or to one', async () => {
    const push = { registry: 'r1:5000', repository: 'berth/web', tag: 't', digest: 'sha256:p1', image: 'web', key: 'k', imageId: 'sha256:img', size: 1, pushedAt: 1 };
    await recordPush(db, push);
    await recordPush(db, { ...push, registry: 'r2:5000', pushedAt: 2 });
    assert.equal((await lastPushOf(db, { imageId: 'sha256:img' }))!.registry, 'r2:5000');
    assert.equal((await lastPushOf(db, { digest: 'sha256:p1' }))!.registry, 'r2:5000');
    assert.equal((await lastPushTo(db, 'r1:5000', { digest: 'sha256:p1' }))!.pushedAt, 1);
    assert.equal((await lastPushTo(db, 'r1:5000', { imageId: 'sha256:other' })), undefined);
  });

  it('secrets: sealed bytes go in and come out unchanged; entries never carry them', async () => {
    const address = { service: 'web', environment: 'production', name: 'DB_PASSWORD' };
    const sealed = { keyId: 'k1', nonce: Buffer.from([1, 2, 3]), ciphertext: Buffer.from('sealed'), tag: Buffer.alloc(16, 7) };
    assert.equal(await putSecret(db, address, sealed, 'ana', 1), false);
    assert.equal(await putSecret(db, address, { ...sealed, keyId: 'k2' }, 'bo', 2), true);
    await putSecret(db, { ...address, environment: 'dev' }, sealed, 'ana', 3);
    const back = (await sealedSecret(db, address))!;
    assert.deepEqual({ ...back, nonce: Buffer.from(back.nonce), ciphertext: Buffer.from(back.ciphertext), tag: Buffer.from(back.tag) }, { ...sealed, keyId: 'k2' });
    assert.deepEqual(await secretEntries(db, 'web'), [
      { service: 'web', environment: 'dev', name: 'DB_PASSWORD', updatedAt: 3, updatedBy: 'ana' },
      { service: 'web', environment: 'production', name: 'DB_PASSWORD', updatedAt: 2, updatedBy: 'bo' },
    ]);
    assert.equal((await secretEntries(db, 'web', 'dev')).length, 1);
    assert.equal(await deleteSecret(db, address), true);
    assert.equal(await deleteSecret(db, address), false);
    assert.equal(await sealedSecret(db, address), undefined);
  });

  it('tokens: found by id, name and live hash, never with their hash; a name is unique', async () => {
    const made = await insertToken(db, { name: 'ci', role: 'deployer', envs: ['dev'], hash: 'h1', createdBy: 'ana' }, 5);
    assert.deepEqual(made, { id: made.id, name: 'ci', role: 'deployer', envs: ['dev'], createdBy: 'ana', createdAt: 5, revokedAt: null });
    await assert.rejects(insertToken(db, { name: 'ci', role: 'admin', envs: [], hash: 'h2', createdBy: 'ana' }), (error: unknown) => (error as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE');
    assert.deepEqual(await tokenById(db, made.id), made);
    assert.deepEqual(await tokenByName(db, 'ci'), made);
    assert.deepEqual(await tokenByHash(db, 'h1'), made);
    assert.equal(await countTokens(db), 1);
    assert.equal(await revokeToken(db, 'ci', 9), true);
    assert.equal(await revokeToken(db, 'ci', 10), false);
    assert.equal(await tokenByHash(db, 'h1'), undefined);
    assert.deepEqual((await listTokens(db)).map((t) => t.revokedAt), [9]);
  });
});
