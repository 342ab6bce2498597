/** The image a release or deploy request rolls out, and the recording of its client's push. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Store } from '../store/db.js';
import { lastPushOf, pushesTo, type PushRecord } from '../store/pushes.js';
import { tempStoreForFile } from '../testing/temp-store.js';
import { requestedImage } from './pushed-image.js';

let db: Store;
tempStoreForFile('berth-pushed-image-', (opened) => (db = opened));

const push = (digest: string, pushedAt: number): PushRecord => ({ registry: '127.0.0.1:5000', repository: 'berth/web', tag: 'k1', digest, image: 'web', key: 'k1', imageId: 'sha256:img', size: 10, pushedAt });
const digest = (c: string) => `sha256:${c.repeat(64)}`;

describe('requestedImage', () => {
  it('is the image a request names, recording nothing when it brings no push', async () => {
    assert.equal(await requestedImage(db, { image: 'web:latest' }), 'web:latest');
    assert.equal(await requestedImage(db, {}), undefined);
    assert.deepEqual(await pushesTo(db, '127.0.0.1:5000'), []);
  });

  it("is the digest of the client's push, recorded once: a second request with the same digest keeps the first record", async () => {
    assert.equal(await requestedImage(db, { push: push(digest('a'), 1000) }), digest('a'));
    assert.equal(await requestedImage(db, { push: push(digest('a'), 2000) }), digest('a'));
    assert.equal((await lastPushOf(db, { digest: digest('a') }))?.pushedAt, 1000);
  });

  it('is the named image when a request has both, and the push is recorded all the same', async () => {
    assert.equal(await requestedImage(db, { image: 'sha256:named', push: push(digest('b'), 3000) }), 'sha256:named');
    assert.equal((await lastPushOf(db, { digest: digest('b') }))?.pushedAt, 3000);
  });
});
