import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Store } from './db.js';
import { tempStoreForFile } from '../testing/temp-store.js';
import { forgetPushes, lastPush, pushesTo, recordPush } from './pushes.js';
import { allRefs, protectDigest, releaseDigest } from './refs.js';

let db: Store;
tempStoreForFile('berth-refs-', (opened) => (db = opened));

describe('the reference database', () => {
  it('protects a digest once per owner and releases it per owner', async () => {
    const ref = { repository: 'berth/web', digest: 'sha256:aa', kind: 'deployed' as const, environment: 'production', service: 'web' };
    await protectDigest(db, ref, 1);
    await protectDigest(db, { ...ref, note: 'again' }, 2);
    await protectDigest(db, { ...ref, kind: 'rollback' }, 3);
    assert.deepEqual((await allRefs(db)).map((r) => [r.kind, r.note, r.createdAt]), [['deployed', 'again', 1], ['rollback', '', 3]]);
    assert.equal(await releaseDigest(db, ref), true);
    assert.equal(await releaseDigest(db, ref), false);
    assert.deepEqual((await allRefs(db)).map((r) => r.kind), ['rollback']);
  });

  it('records pushes per registry, finds the last one of a tag and forgets deleted manifests', async () => {
    const push = { registry: '127.0.0.1:5000', repository: 'berth/web', tag: 'abc', digest: 'sha256:1', image: 'web', key: 'abcdef', imageId: 'sha256:i1', size: 500, pushedAt: 10 };
    await recordPush(db, push);
    await recordPush(db, { ...push, digest: 'sha256:2', imageId: 'sha256:i2', pushedAt: 20 });
    await recordPush(db, { ...push, registry: 'other:5000', pushedAt: 30 });
    assert.equal((await lastPush(db, '127.0.0.1:5000', 'berth/web', 'abc'))!.digest, 'sha256:2');
    assert.deepEqual((await pushesTo(db, '127.0.0.1:5000')).map((p) => p.digest), ['sha256:2', 'sha256:1']);
    await forgetPushes(db, '127.0.0.1:5000', 'berth/web', 'sha256:2');
    assert.equal((await lastPush(db, '127.0.0.1:5000', 'berth/web', 'abc'))!.digest, 'sha256:1');
  });
});
