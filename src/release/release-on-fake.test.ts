/**
 * `berth release` and `berth rollback` of a nat service on the rollout executor, against the
 * FakeEngine and a FakeDoor: no Docker, no HAProxy; a release that never gets healthy, and one
 * whose engine stops answering mid-step. Each rollout is checked by its end state: the
 * containers the engine runs, the front door's servers (the host's address and each instance's
 * published port), and the releases the store records.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { isUnreachable } from '../engine/errors.js';
import type { RunContext } from '../runtime/context.js';
import type { Store } from '../store/db.js';
import { currentRelease, releaseOf, rolloutsOf } from '../store/releases.js';
import type { FakeDoor } from '../testing/fake-door.js';
import type { FakeEngine } from '../testing/fake-engine.js';
import { fakeProject, type FakeProject } from '../testing/fake-project.js';
import { until } from '../testing/until.js';
import { releaseService, rollbackService } from './operations.js';

describe('berth release and rollback of a nat service on the FakeEngine', () => {
  let project: FakeProject;
  let db: Store;
  let engine: FakeEngine;
  let context: RunContext;
  let door: FakeDoor;
  let images: Record<string, string>;
  const options = () => ({ door, timeoutMs: 10_000 });

  before(async () => {
    project = await fakeProject('release-on-fake', {
      config: {
        project: 'shop',
        images: { web: { root: {} } },
        services: { web: { image: 'web', ports: [8080], replicas: 2, health: { command: ['check-web'], interval: '1s' }, stop_grace: '1s', rollout: { batch_size: 1, drain: '0s' } } },
        environments: { dev: { network: 'nat', lb_address: '127.0.0.1' } },
      },
    });
    ({ db, engine, context, door, images } = project);
  });

  after(async () => project.close());

  /** The running instances and the front door's servers: each at 127.0.0.1 on its published port. */
  const endState = async () => {
    const states = await Promise.all((await engine.containers.list(['berth.service=web'])).map((id) => engine.containers.inspect(id)));
    const running = states.filter((s) => s?.running).map((s) => ({ slot: s!.labels['berth.instance']!, image: s!.image, port: s!.ports['8080/tcp']! }));
    running.sort((a, b) => a.slot.localeCompare(b.slot));
    return { running, stopped: states.filter((s) => !s?.running).length, servers: door.servers().map((s) => ({ slot: s.name, address: s.address, port: s.port, state: s.state })) };
  };
  const runningRelease = async () => releaseOf(db, 'web', (await currentRelease(db, 'web', 'dev'))!);

  it('releases v1: two instances behind the front door, release 1 recorded', async () => {
    const result = await releaseService(context, 'web', 'dev', { ...options(), image: 'berth/web:v1' });
    assert.deepEqual([result.status, result.release, result.created.number], ['succeeded', 1, 1]);
    const state = await endState();
    assert.deepEqual(state.running.map((r) => [r.slot, r.image]), [['web-dev-1', images.v1], ['web-dev-2', images.v1]]);
    assert.deepEqual(state.servers, state.running.map((r) => ({ slot: r.slot, address: '127.0.0.1', port: r.port, state: 'ready' })));
    assert.equal(state.stopped, 0);
    assert.equal((await runningRelease())?.imageId, images.v1);
  });

  it('releases v2: replaces the instances one by one, the front door follows, release 2 recorded', async () => {
    const result = await releaseService(context, 'web', 'dev', { ...options(), image: 'berth/web:v2' });
    assert.deepEqual([result.status, result.release], ['succeeded', 2]);
    const state = await endState();
    assert.deepEqual(state.running.map((r) => [r.slot, r.image]), [['web-dev-1', images.v2], ['web-dev-2', images.v2]]);
    assert.deepEqual(state.servers, state.running.map((r) => ({ slot: r.slot, address: '127.0.0.1', port: r.port, state: 'ready' })));
    assert.equal(state.stopped, 0, 'the v1 containers are gone');
    assert.equal((await runningRelease())?.imageId, images.v2);
  });

  it('rolls back to release 1: v1 runs again behind the front door', async () => {
    const result = await rollbackService(context, 'web', 'dev', options());
    assert.deepEqual([result.status, result.release], ['succeeded', 1]);
    const state = await endState();
    assert.deepEqual(state.running.map((r) => [r.slot, r.image]), [['web-dev-1', images.v1], ['web-dev-2', images.v1]]);
    assert.deepEqual(state.servers, state.running.map((r) => ({ slot: r.slot, address: '127.0.0.1', port: r.port, state: 'ready' })));
    assert.equal(await currentRelease(db, 'web', 'dev'), 1);
  });

  it('a release whose instances never become healthy rolls back, leaving v1 serving', async () => {
    let failing = true;
    engine.scriptExec(async (c, cmd) => (failing && cmd[0] === 'check-web' && (await engine.containers.inspect(c.id))?.image === images.v2 ? { exitCode: 1, output: 'not ready\n' } : undefined));
    const attempt = releaseService(context, 'web', 'dev', { ...options(), image: 'berth/web:v2', timeoutMs: 3_000 });
    await assert.rejects(attempt, { kind: 'rolled-back' });
    failing = false;
    const state = await endState();
    assert.deepEqual(state.running.map((r) => [r.slot, r.image]), [['web-dev-1', images.v1], ['web-dev-2', images.v1]]);
    assert.deepEqual(state.servers, state.running.map((r) => ({ slot: r.slot, address: '127.0.0.1', port: r.port, state: 'ready' })));
    assert.equal(await currentRelease(db, 'web', 'dev'), 1);
  });
  it('the engine stops answering mid-release: the release fails unavailable, and the next one finishes the interrupted rollout', async () => {
    const release = engine.holdStarts();
    const attempt = releaseService(context, 'web', 'dev', { ...options(), image: 'berth/web:v2' });
    await until('a v2 container created, its start held', async () => ((await engine.containers.summaries(['berth.service=web'])).length > 2 ? true : undefined), 10_000, 10);
    engine.stopAnswering();
    await assert.rejects(attempt, (error: unknown) => isUnreachable(error));
    const interrupted = (await rolloutsOf(db, 'web', 'dev'))[0]!;
    assert.deepEqual([interrupted.kind, interrupted.status], ['release', 'running']);
    engine.answerAgain();
    release();
    const result = await releaseService(context, 'web', 'dev', { ...options(), image: 'berth/web:v2' });
    assert.deepEqual([result.status, result.message, result.rollout], ['succeeded', `finished the interrupted rollout #${interrupted.id}`, interrupted.id]);
    assert.equal((await rolloutsOf(db, 'web', 'dev'))[0]?.status, 'succeeded');
    const state = await endState();
    assert.deepEqual(state.running.map((r) => [r.slot, r.image]), [['web-dev-1', images.v2], ['web-dev-2', images.v2]]);
    assert.deepEqual(state.servers, state.running.map((r) => ({ slot: r.slot, address: '127.0.0.1', port: r.port, state: 'ready' })));
    assert.equal(state.stopped, 0);
  });
});
