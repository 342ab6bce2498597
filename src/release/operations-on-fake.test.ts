/**
 * promote, scale and canary (promoted, aborted by hand, aborted by its gates) of a nat service on
 * the rollout executor, against the FakeEngine and a FakeDoor per environment: no Docker. Each
 * canary's gates read the FakeDoor's counters, which the test fills as traffic would. Each
 * operation is checked by its journaled plan (the rollout view), the containers the engine runs,
 * the front door's servers and weights, and the releases and scale the store records.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { RolloutEvent } from '../rollout/rollout-context.js';
import { rolloutView } from '../rollout/rollout-view.js';
import { currentRelease, releaseOf, rolloutById, scaleOf } from '../store/releases.js';
import { FakeDoor } from '../testing/fake-door.js';
import { fakeProject, type FakeProject } from '../testing/fake-project.js';
import type { CanaryEvidence } from './canary-gate.js';
import { canaryAbort, canaryPromote, promoteService, releaseService, scaleService } from './operations.js';

describe('promote, scale and canary of a nat service on the FakeEngine', () => {
  let p: FakeProject;
  const doors = { dev: new FakeDoor('127.0.0.1', 18080), prod: new FakeDoor('127.0.0.1', 18081) };
  const on = (environment: 'dev' | 'prod', more: object = {}) => ({ door: doors[environment], timeoutMs: 10_000, ...more });

  before(async () => {
    p = await fakeProject('operations-on-fake', {
      config: {
        project: 'shop',
        images: { web: { root: {} } },
        services: { web: { image: 'web', ports: [8080], replicas: 2, health: { command: ['check-web'], interval: '1s' }, stop_grace: '1s', rollout: { batch_size: 1, drain: '0s' }, canary: { watch: '1s', min_requests: 10 } } },
        environments: { dev: { network: 'nat', lb_address: '127.0.0.1' }, prod: { network: 'nat', lb_address: '127.0.0.1' } },
        pipeline: ['dev', 'prod'],
      },
    });
  });
  after(async () => p.close());

  /** The instances of an environment: slot, image and state, and the front door's servers (slot, port, weight). */
  const endState = async (environment: 'dev' | 'prod') => {
    const containers = (await p.containers('web')).filter((c) => c.labels['berth.env'] === environment);
    return {
      instances: containers.map((c) => [c.labels['berth.instance'], c.image, c.running ? 'running' : c.status]),
      servers: doors[environment].servers().map((s) => [s.name, s.address, s.port, s.weight, s.state]),
      ports: Object.fromEntries(containers.map((c) => [c.labels['berth.instance'], c.ports['8080/tcp']])),
    };
  };
  /** The journaled rollout: kind, release, previous, status and every step of its plan. */
  const journal = async (id: number) => {
    const view = await rolloutView(p.db, (await rolloutById(p.db, id))!);
    return { kind: view.kind, release: view.release, previous: view.previous, status: view.status, done: view.done, steps: view.steps };
  };

  it('promote takes the release dev runs (same image and digest) to prod, and records it as prod\'s', async () => {
    await releaseService(p.context, 'web', 'dev', on('dev', { image: 'berth/web:v1' }));
    const result = await promoteService(p.context, 'web', 'prod', on('prod'));
    assert.deepEqual([result.status, result.release, result.environment], ['succeeded', 1, 'prod']);
    assert.deepEqual(await journal(result.rollout), {
      kind: 'promote',
      release: 1,
      previous: null,
      status: 'succeeded',
      done: 3,
      steps: [{ op: 'front-door' }, { op: 'create', slots: ['web-prod-1', 'web-prod-2'] }, { op: 'converge', replicas: 2 }],
    });
    const prod = await endState('prod');
    assert.deepEqual(prod.instances, [['web-prod-1', p.images.v1, 'running'], ['web-prod-2', p.images.v1, 'running']]);
    assert.deepEqual(prod.servers, [['web-prod-1', '127.0.0.1', prod.ports['web-prod-1'], 100, 'ready'], ['web-prod-2', '127.0.0.1', prod.ports['web-prod-2'], 100, 'ready']]);
    assert.deepEqual((await endState('dev')).instances, [['web-dev-1', p.images.v1, 'running'], ['web-dev-2', p.images.v1, 'running']], 'dev is left as it was');
    const [dev, prodRelease] = [await currentRelease(p.db, 'web', 'dev'), await currentRelease(p.db, 'web', 'prod')];
    assert.deepEqual([dev, prodRelease], [1, 1], 'the same release number runs in both');
    assert.equal((await releaseOf(p.db, 'web', 1))?.imageId, p.images.v1);
  });

  it('a second promote of the same release is refused: nothing to do', async () => {
    await assert.rejects(promoteService(p.context, 'web', 'prod', on('prod')), { kind: 'conflict', message: 'prod already runs release 1 of web in every slot' });
  });

  it('scale up to 3 adds web-prod-3 behind the front door, then down to 1 removes two; the store keeps the scale', async () => {
    const up = await scaleService(p.context, 'web', 'prod', 3, on('prod'));
    assert.deepEqual(await journal(up.rollout), {
      kind: 'scale',
      release: 1,
      previous: 1,
      status: 'succeeded',
      done: 4,
      // The new count is recorded by the plan's scale step, after the front door and before any instance changes.
      steps: [{ op: 'front-door' }, { op: 'scale', replicas: 3 }, { op: 'create', slots: ['web-prod-3'] }, { op: 'converge', replicas: 3 }],
    });
    let prod = await endState('prod');
    assert.deepEqual(prod.instances.map((i) => i[0]), ['web-prod-1', 'web-prod-2', 'web-prod-3']);
    assert.deepEqual(prod.servers.map((s) => [s[0], s[2]]), ['web-prod-1', 'web-prod-2', 'web-prod-3'].map((slot) => [slot, prod.ports[slot]]));
    assert.equal(await scaleOf(p.db, 'web', 'prod'), 3);

    const down = await scaleService(p.context, 'web', 'prod', 1, on('prod'));
    assert.deepEqual(await journal(down.rollout), {
      kind: 'scale',
      release: 1,
      previous: 1,
      status: 'succeeded',
      done: 4,
      steps: [{ op: 'front-door' }, { op: 'scale', replicas: 1 }, { op: 'remove', slots: ['web-prod-2', 'web-prod-3'] }, { op: 'converge', replicas: 1 }],
    });
    prod = await endState('prod');
    assert.deepEqual(prod.instances, [['web-prod-1', p.images.v1, 'running']], 'the removed containers are gone, not stopped');
    assert.deepEqual(prod.servers, [['web-prod-1', '127.0.0.1', prod.ports['web-prod-1'], 100, 'ready']]);
    assert.equal(await scaleOf(p.db, 'web', 'prod'), 1);
    await scaleService(p.context, 'web', 'prod', 2, on('prod'));
  });

  it('a canary of release 2 (50%) opens beside release 1, then `canary promote` rolls it to every slot', async () => {
    await releaseService(p.context, 'web', 'dev', on('dev', { image: 'berth/web:v2' }));
    const opened = await promoteService(p.context, 'web', 'prod', on('prod', { canary: 0.5, manual: true }));
    assert.deepEqual([opened.status, opened.release], ['canary', 2]);
    assert.deepEqual(await journal(opened.rollout), { kind: 'canary', release: 2, previous: 1, status: 'canary', done: 2, steps: [{ op: 'front-door' }, { op: 'canary', slots: ['web-prod-3'], share: 0.5 }] });
    let prod = await endState('prod');
    assert.deepEqual(prod.instances, [['web-prod-1', p.images.v1, 'running'], ['web-prod-2', p.images.v1, 'running'], ['web-prod-3', p.images.v2, 'running']]);
    // One canary beside two stable servers at 50%: the canary weighs as much as both together.
    assert.deepEqual(prod.servers.map((s) => [s[0], s[3]]), [['web-prod-1', 128], ['web-prod-2', 128], ['web-prod-3', 256]]);
    assert.equal(await currentRelease(p.db, 'web', 'prod'), 1, 'an open canary is not prod\'s release yet');

    const promoted = await canaryPromote(p.context, 'web', 'prod', on('prod'));
    assert.equal(promoted.rollout, opened.rollout, 'the decision continues the canary\'s own rollout');
    assert.deepEqual(await journal(promoted.rollout), {
      kind: 'canary',
      release: 2,
      previous: 1,
      status: 'succeeded',
      done: 7,
      steps: [
        { op: 'front-door' },
        { op: 'drain', slots: ['web-prod-1'] },
        { op: 'replace', slots: ['web-prod-1'] },
        { op: 'drain', slots: ['web-prod-2'] },
        { op: 'replace', slots: ['web-prod-2'] },
        { op: 'remove', slots: ['web-prod-3'] },
        { op: 'converge', replicas: 2 },
      ],
    });
    prod = await endState('prod');
    assert.deepEqual(prod.instances, [['web-prod-1', p.images.v2, 'running'], ['web-prod-2', p.images.v2, 'running']]);
    assert.deepEqual(prod.servers, [['web-prod-1', '127.0.0.1', prod.ports['web-prod-1'], 100, 'ready'], ['web-prod-2', '127.0.0.1', prod.ports['web-prod-2'], 100, 'ready']]);
    assert.equal(await currentRelease(p.db, 'web', 'prod'), 2);
    assert.deepEqual(JSON.parse((await rolloutById(p.db, opened.rollout))!.evidence!), { gate: 'manual', decision: 'promote', reason: 'promoted by hand', by: 'test' });
  });

  it('a canary aborted by hand: its instance is removed, the weights go back, prod keeps its release', async () => {
    await releaseService(p.context, 'web', 'dev', on('dev', { image: 'berth/web:v1', force: true }));
    const opened = await promoteService(p.context, 'web', 'prod', on('prod', { canary: 0.5, manual: true, force: true }));
    assert.deepEqual([opened.status, opened.release], ['canary', 3]);
    const aborted = await canaryAbort(p.context, 'web', 'prod', on('prod'));
    assert.deepEqual([aborted.status, aborted.release, aborted.message], ['aborted', 3, 'canary aborted: aborted by hand']);
    assert.deepEqual(await journal(aborted.rollout), {
      kind: 'canary',
      release: 3,
      previous: 2,
      status: 'aborted',
      done: 2,
      steps: [{ op: 'remove', slots: ['web-prod-3'] }, { op: 'converge', replicas: 2 }],
    });
    const prod = await endState('prod');
    assert.deepEqual(prod.instances, [['web-prod-1', p.images.v2, 'running'], ['web-prod-2', p.images.v2, 'running']]);
    assert.deepEqual(prod.servers.map((s) => [s[0], s[3], s[4]]), [['web-prod-1', 100, 'ready'], ['web-prod-2', 100, 'ready']]);
    assert.equal(await currentRelease(p.db, 'web', 'prod'), 2);
  });

  it('a canary decided by its gates with no traffic through the front door aborts: not enough evidence', async () => {
    const notes: string[] = [];
    const result = await promoteService(p.context, 'web', 'prod', on('prod', { canary: 0.5, watchMs: 1_000, force: true, onCanary: (text: string) => notes.push(text) }));
    assert.equal(result.status, 'aborted');
    assert.match(result.message, /^canary aborted: not enough evidence: only 0 requests reached the canary over [\d.]+ s \(min_requests 10\)/);
    assert.equal(notes.length, 1);
    const record = (await rolloutById(p.db, result.rollout))!;
    const evidence = JSON.parse(record.evidence!) as { gate: string; decision: string; canary: { servers: string[]; requests: number } };
    assert.deepEqual([evidence.gate, evidence.decision, evidence.canary.servers, evidence.canary.requests], ['canary', 'abort', ['web-prod-3'], 0]);
    const prod = await endState('prod');
    assert.deepEqual(prod.instances, [['web-prod-1', p.images.v2, 'running'], ['web-prod-2', p.images.v2, 'running']]);
    assert.deepEqual(prod.servers.map((s) => [s[0], s[3]]), [['web-prod-1', 100], ['web-prod-2', 100]]);
    assert.equal(await currentRelease(p.db, 'web', 'prod'), 2);
  });

  /** Until the returned function is called: every 50 ms, each server of prod's front door answers 5 requests, a canary server `canaryErrors` of them failed. */
  const traffic = (canary: string, canaryErrors: number) => {
    const timer = setInterval(() => {
      for (const s of doors.prod.servers()) doors.prod.serve(s.name, 5, s.name === canary ? canaryErrors : 0);
    }, 50);
    return () => clearInterval(timer);
  };

  it('a canary whose gates see clean traffic through the front door is promoted by them', async () => {
    const stop = traffic('web-prod-3', 0);
    const [notes, steps] = [[] as string[], [] as string[]];
    const watched = { canary: 0.5, watchMs: 1_000, force: true, onCanary: (text: string) => notes.push(text), emit: (e: RolloutEvent) => void (e.type === 'step' && steps.push(e.text)) };
    const result = await promoteService(p.context, 'web', 'prod', on('prod', watched)).finally(stop);
    assert.deepEqual([result.status, result.release], ['succeeded', 3]);
    assert.ok(steps.includes('canary web-prod-3 with 50% of the traffic'), JSON.stringify(steps));
    assert.equal(notes.length, 1);
    assert.match(notes[0]!, /^canary promote: canary 0\.0% errors \(0 of \d+ requests\) vs baseline 0\.0% errors \(0 of \d+ requests\) over [\d.]+ s \(tolerance 5 points\)/);
    const record = (await rolloutById(p.db, result.rollout))!;
    const evidence = JSON.parse(record.evidence!) as CanaryEvidence;
    assert.deepEqual([evidence.decision, evidence.canary.servers, evidence.canary.errors, evidence.baseline.servers, evidence.baseline.errors], ['promote', ['web-prod-3'], 0, ['web-prod-1', 'web-prod-2'], 0]);
    assert.equal(`canary promote: ${evidence.reason}`, notes[0], 'the note is the recorded reason');
    assert.ok(evidence.canary.requests >= 10, JSON.stringify(evidence));
    // The canary's health probes kept passing through the watch: the evidence names each canary instance's verdict.
    assert.deepEqual(evidence.instances.map((i) => [i.slot, i.verdict]), [['web-prod-3', 'healthy']]);
    assert.ok(evidence.instances.every((i) => i.passed > 0), JSON.stringify(evidence.instances));
    const journal = await rolloutView(p.db, record);
    assert.deepEqual([journal.kind, journal.status, journal.steps.map((s) => s.op)], ['canary', 'succeeded', ['front-door', 'drain', 'replace', 'drain', 'replace', 'remove', 'converge']]);
    const prod = await endState('prod');
    assert.deepEqual(prod.instances, [['web-prod-1', p.images.v1, 'running'], ['web-prod-2', p.images.v1, 'running']]);
    assert.deepEqual(prod.servers.map((s) => [s[0], s[3], s[4]]), [['web-prod-1', 100, 'ready'], ['web-prod-2', 100, 'ready']]);
    assert.equal(await currentRelease(p.db, 'web', 'prod'), 3);
  });

  it('a canary that fails half its requests while the baseline fails none is aborted by its gates', async () => {
    await releaseService(p.context, 'web', 'dev', on('dev', { image: 'berth/web:v2', force: true }));
    const stop = traffic('web-prod-3', 3);
    const result = await promoteService(p.context, 'web', 'prod', on('prod', { canary: 0.5, watchMs: 1_000 })).finally(stop);
    assert.deepEqual([result.status, result.release], ['aborted', 4]);
    assert.match(result.message, /^canary aborted: error rate: canary 60\.0% errors \(\d+ of \d+ requests\) vs baseline 0\.0% errors/);
    const prod = await endState('prod');
    assert.deepEqual(prod.instances, [['web-prod-1', p.images.v1, 'running'], ['web-prod-2', p.images.v1, 'running']], 'the canary instance is gone');
    assert.deepEqual(prod.servers.map((s) => [s[0], s[3]]), [['web-prod-1', 100], ['web-prod-2', 100]]);
    assert.equal(await currentRelease(p.db, 'web', 'prod'), 3);
  });
});
