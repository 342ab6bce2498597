/**
 * Pre-pulled images on FakeEngines: a release that runs on h1 only is pulled onto h2 and h3 too
 * (the hosts its environment may move it to), once; a lost host is not asked.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setHostHealth } from '../store/host-health.js';
import { fakeProject, type FakeProject } from '../testing/fake-project.js';
import { releaseService } from '../release/operations.js';
import { prepullReleases } from './prepull.js';

describe('pre-pulled images', () => {
  let p: FakeProject;
  const done = new Set<string>();
  const pulls = () => Object.fromEntries(['h1', 'h2', 'h3'].map((h) => [h, p.engines.get(h)!.images.pulls.length]));

  before(async () => {
    p = await fakeProject('prepull-on-fake', {
      push: true,
      config: {
        project: 'shop',
        images: { web: { root: {} } },
        hosts: ['h1', 'h2', 'h3'].map((name) => ({ name, engine: `unix:///run/berth-fake-${name}.sock` })),
        services: { web: { image: 'web', ports: [8080], replicas: 1, health: { command: ['check-web'], interval: '1s' } } },
        environments: { prod: { network: 'nat', lb_address: '127.0.0.1', hosts: ['h1', 'h2', 'h3'] } },
      },
    });
    assert.equal((await releaseService(p.context, 'web', 'prod', { door: p.door, timeoutMs: 10_000, image: 'berth/web:v1' })).status, 'succeeded');
  });
  after(async () => p.close());

  it('pulls the release the environment runs onto its hosts that lack it, once', async () => {
    const before = pulls();
    const results = await prepullReleases(p.context, done);
    assert.deepEqual(results.map((r) => [r.host, r.release, r.error]), [['h1', 1, undefined], ['h2', 1, undefined], ['h3', 1, undefined]]);
    const after = pulls();
    assert.deepEqual([after.h2! - before.h2!, after.h3! - before.h3!], [1, 1], 'h2 and h3 pulled it from the registry');
    assert.deepEqual(await prepullReleases(p.context, done), [], 'the next round asks nobody');
    assert.deepEqual(pulls(), after);
  });

  it('a new release is pulled again, but not onto a lost host', async () => {
    await setHostHealth(p.db, { name: 'h3', state: 'down', since: Date.now() - 60_000, reason: 'test' });
    p.engines.get('h3')!.stopAnswering();
    assert.equal((await releaseService(p.context, 'web', 'prod', { door: p.door, timeoutMs: 10_000, image: 'berth/web:v2' })).status, 'succeeded');
    const results = await prepullReleases(p.context, done);
    assert.deepEqual(results.map((r) => [r.host, r.release, r.error]), [['h1', 2, undefined], ['h2', 2, undefined]]);
  });
});
