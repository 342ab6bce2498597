import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { PushRecord } from '../store/pushes.js';
import { distributionProblem, imageSource, pushLookup, type HostReach } from './distribute.js';

const ID = 'sha256:1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d';
const DIGEST = 'sha256:d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1';
const never = { image: 'app', imageId: ID, digest: ID, repository: '' };
const pushedRelease = { image: 'app', imageId: ID, digest: DIGEST, repository: 'berth/app' };
const push: PushRecord = { registry: '10.0.0.2:5000', repository: 'berth/app', tag: 'abc', digest: DIGEST, image: 'app', key: 'k', imageId: ID, size: 1, pushedAt: 1 };
const local: HostReach = { name: 'local', build: true, local: true };
const h2: HostReach = { name: 'h2', build: false, local: false };
const lan = { address: '10.0.0.2:5000', loopback: false };

describe('image distribution (pure)', () => {
  it('creates from the digest reference once pushed, from the image ID before', () => {
    assert.deepEqual(imageSource(pushedRelease, push), { ref: `10.0.0.2:5000/berth/app@${DIGEST}`, pull: { registry: '10.0.0.2:5000', repo: '10.0.0.2:5000/berth/app', digest: DIGEST } });
    assert.deepEqual(imageSource(never, undefined), { ref: ID });
  });

  it('looks a release up by its digest once pushed, by its image ID when it was released before the push', () => {
    assert.deepEqual(pushLookup(pushedRelease), { digest: DIGEST });
    assert.deepEqual(pushLookup(never), { imageId: ID });
  });

  it('lets an image never pushed run on the build engine only', () => {
    assert.equal(distributionProblem(never, imageSource(never, undefined), [local], lan), undefined);
    const e = distributionProblem(never, imageSource(never, undefined), [local, h2], lan)!;
    assert.equal(e.kind, 'not-found');
    assert.equal(e.message, `image app (${ID}) was never pushed to the registry; run: berth push app`);
    assert.deepEqual(e.lines, ['only the build engine has it, and host h2 can get it only from the registry at 10.0.0.2:5000']);
  });

  it('refuses remote hosts when the registry is reached on loopback', () => {
    const source = imageSource(pushedRelease, { ...push, registry: '127.0.0.1:5000' });
    assert.equal(distributionProblem(pushedRelease, source, [local], { address: '127.0.0.1:5000', loopback: true }), undefined);
    const e = distributionProblem(pushedRelease, source, [local, h2], { address: '127.0.0.1:5000', loopback: true })!;
    assert.equal(e.message, 'the registry is reached at 127.0.0.1:5000, a loopback address, which host h2 cannot reach');
    assert.equal(distributionProblem(pushedRelease, imageSource(pushedRelease, push), [local, h2], lan), undefined);
  });
});
