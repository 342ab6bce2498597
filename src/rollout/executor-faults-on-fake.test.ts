/**
 * The rollout executor under faults injected at a step, on the FakeEngine and a FakeDoor: no
 * Docker. Beside release-on-fake.test.ts (a release never healthy, an engine that stops answering)
 * and deploy-on-fake.test.ts (the first create refused): a create refused on the second instance,
 * once the first was replaced; a first release never healthy, with nothing to roll back to; and a
 * scale whose new instance never gets healthy (rolled back to its count); a front door that refuses
 * a new instance that is healthy (it goes, and the previous one comes back under the slot's name). Each is checked by its journal (status and plan) and
 * by what the engine runs, the front door's servers and the store's release and scale.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { unavailable, type BerthError } from '../errors.js';
import { releaseService, scaleService } from '../release/operations.js';
import { currentRelease, rolloutsOf, scaleOf } from '../store/releases.js';
import { fakeProject, type FakeProject } from '../testing/fake-project.js';
import { rolloutView } from './rollout-view.js';

describe('the rollout executor under injected faults on the FakeEngine', () => {
  let p: FakeProject;
  const options = () => ({ door: p.door, timeoutMs: 10_000 });
  /** Health answers: true for every container unless its image is listed here. */
  const sick = new Set<string>();

  before(async () => {
    p = await fakeProject('executor-faults-on-fake', {
      versions: ['v1', 'v2', 'v3'],
      config: {
        project: 'shop',
        images: { web: { root: {} } },
        services: { web: { image: 'web', ports: [8080], replicas: 2, health: { command: ['check-web'], interval: '1s' }, stop_grace: '1s', rollout: { batch_size: 1, drain: '0s' } } },
        environments: { dev: { network: 'nat', lb_address: '127.0.0.1' } },
      },
    });
    p.engine.scriptExec(async (c, cmd) => (cmd[0] === 'check-web' && sick.has((await p.engine.containers.inspect(c.id))!.image) ? { exitCode: 1, output: 'not ready\n' } : undefined));
  });
  after(async () => p.close());

  const endState = async () => {
    const containers = await p.containers('web');
    return { instances: containers.map((c) => [c.labels['berth.instance'], c.image, c.running]), servers: p.door.servers().map((s) => [s.name, s.port, s.state]), ports: containers.map((c) => [c.labels['berth.instance'], c.ports['8080/tcp'], 'ready']) };
  };
  const lastRollout = async () => {
    const view = await rolloutView(p.db, (await rolloutsOf(p.db, 'web', 'dev'))[0]!);
    return { kind: view.kind, release: view.release, previous: view.previous, status: view.status, phase: view.phase, steps: view.steps };
  };

  it('a first release whose instances never become healthy fails with nothing to roll back to, and leaves nothing running', async () => {
    sick.add(p.images.v3!);
    const error = await releaseService(p.context, 'web', 'dev', { ...options(), image: 'berth/web:v3', timeoutMs: 1_000 }).then(() => assert.fail('the release succeeded'), (e: unknown) => e as BerthError);
    assert.equal(error.kind, 'failed');
    const journal = await lastRollout();
    assert.deepEqual([journal.kind, journal.release, journal.previous, journal.status], ['release', 1, null, 'failed']);
    const state = await endState();
    assert.deepEqual(state.instances.filter((i) => i[2]), [], 'no instance of the failed release runs');
    assert.deepEqual(state.servers, []);
    assert.equal(await currentRelease(p.db, 'web', 'dev'), undefined);
  });

  it('a release of v1 then runs', async () => {
    const result = await releaseService(p.context, 'web', 'dev', { ...options(), image: 'berth/web:v1' });
    assert.deepEqual([result.status, result.release], ['succeeded', 2]);
    const state = await endState();
    assert.deepEqual(state.instances, [['web-dev-1', p.images.v1, true], ['web-dev-2', p.images.v1, true]]);
    assert.deepEqual(state.servers, state.ports);
  });

  it('a create refused on the second instance, once the first was replaced, rolls both back to v1', async () => {
    p.engine.failCreate((body) => body.Image === p.images.v2 && body.name === 'shop.web-dev-2');
    const error = await releaseService(p.context, 'web', 'dev', { ...options(), image: 'berth/web:v2' }).then(() => assert.fail('the release succeeded'), (e: unknown) => e as BerthError);
    assert.deepEqual([error.kind, error.message], ['rolled-back', 'release of web release 3 to dev failed and was rolled back to release 2']);
    assert.match(error.lines[0]!, /instance web-dev-2 could not start: the engine at \S+ refused to create container shop\.web-dev-2/);
    const journal = await lastRollout();
    assert.deepEqual([journal.kind, journal.release, journal.previous, journal.status, journal.phase], ['release', 3, 2, 'rolled-back', 'rollback']);
    assert.deepEqual(journal.steps, [
      { op: 'front-door' },
      { op: 'drain', slots: ['web-dev-1'] },
      { op: 'replace', slots: ['web-dev-1'] },
      { op: 'converge', replicas: 2 },
    ], 'the journal holds the rollback\'s plan: web-dev-1, which ran v2, goes back to v1');
    const state = await endState();
    assert.deepEqual(state.instances, [['web-dev-1', p.images.v1, true], ['web-dev-2', p.images.v1, true]], 'v1 runs again in both slots, and nothing else is left');
    assert.deepEqual(state.servers, state.ports);
    assert.equal(await currentRelease(p.db, 'web', 'dev'), 2);
  });

  it('a scale up whose new instance never becomes healthy rolls back to the two instances and the scale it started from', async () => {
    sick.add(p.images.v1!);
    const before = await endState();
    // The running instances are not probed again by a scale: only the new web-dev-3 fails its gate.
    const error = await scaleService(p.context, 'web', 'dev', 3, { ...options(), timeoutMs: 1_000 }).then(() => assert.fail('the scale succeeded'), (e: unknown) => e as BerthError);
    sick.delete(p.images.v1!);
    assert.deepEqual([error.kind, error.message], ['rolled-back', 'scale of web release 2 to dev failed and was rolled back to release 2']);
    assert.match(error.lines.join('\n'), /instance web-dev-3 did not become healthy/);
    const journal = await lastRollout();
    assert.deepEqual([journal.kind, journal.release, journal.previous, journal.status, journal.phase], ['scale', 2, 2, 'rolled-back', 'rollback']);
    assert.deepEqual(journal.steps[0], { op: 'scale', replicas: 2 }, 'the rollback first records the count the scale started from');
    assert.deepEqual(journal.steps.at(-1), { op: 'converge', replicas: 2 }, 'the rollback converges on the two replicas the scale started from');
    const state = await endState();
    assert.deepEqual(state.instances, before.instances);
    assert.deepEqual(state.servers, before.servers);
    assert.equal(await scaleOf(p.db, 'web', 'dev'), 2, 'the scale asked for was not kept');
  });
  it('a front door that refuses the second new instance, healthy: that instance goes, the release rolls back to v1, and the error is the door\'s', async () => {
    const upsert = p.door.upsert.bind(p.door);
    let refused = 0;
    p.door.upsert = async (server) => {
      if (server.name === 'web-dev-2' && refused++ === 0) throw unavailable('front door dev-web is not running', { fix: 'start it first' });
      return upsert(server);
    };
    try {
      const error = await releaseService(p.context, 'web', 'dev', { ...options(), image: 'berth/web:v2' }).then(() => assert.fail('the release succeeded'), (e: unknown) => e as BerthError);
      assert.equal(error.kind, 'rolled-back', error.message);
      assert.match(error.lines.join('\n'), /front door dev-web is not running/);
      assert.doesNotMatch(error.lines.join('\n'), /already in use/);
    } finally {
      p.door.upsert = upsert;
    }
    const state = await endState();
    assert.deepEqual(state.instances, [['web-dev-1', p.images.v1, true], ['web-dev-2', p.images.v1, true]], 'v1 runs again in both slots, and nothing else is left');
    assert.deepEqual(state.servers, state.ports);
  });
});
