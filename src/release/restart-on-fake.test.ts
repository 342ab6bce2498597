/**
 * `berth restart` of a deployed nat service on the FakeEngine: no Docker. Restarting keeps each
 * container (same ID, started again, health-gated by Berth's probe); an instance removed behind
 * Berth's back is recreated by a rollout of the release the environment runs, on its slot, and
 * journaled as such.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { rolloutView } from '../rollout/rollout-view.js';
import { currentRelease, rolloutsOf } from '../store/releases.js';
import { fakeProject, type FakeProject } from '../testing/fake-project.js';
import { restartProgress } from '../cli/commands/lifecycle.js';
import type { Output } from '../cli/output.js';
import { deployService } from './deploy.js';
import { restartService, type RestartEvent } from './restart.js';

describe('berth restart of a deployed service on the FakeEngine', () => {
  let p: FakeProject;
  /** Each health probe, by container name: the evidence that a restarted instance was gated. */
  const probes: string[] = [];

  before(async () => {
    p = await fakeProject('restart-on-fake', {
      config: {
        project: 'shop',
        images: { web: { root: {} } },
        services: { web: { image: 'web', ports: [8080], replicas: 2, health: { command: ['check-web'], interval: '1s' }, stop_grace: '1s' } },
        environments: { dev: { network: 'nat' } },
      },
    });
    p.engine.scriptExec((c, cmd) => {
      if (cmd[0] !== 'check-web') return undefined;
      probes.push(c.name);
      return { exitCode: 0, output: '' };
    });
    await deployService(p.context, 'web', 'dev', { image: 'berth/web:v1', timeoutMs: 10_000 });
  });
  after(async () => p.close());

  const instances = async () => (await p.containers('web')).map((c) => ({ slot: c.labels['berth.instance']!, id: c.id, image: c.image, running: c.running}));

  it('restarts every instance in place, each probed healthy again', async () => {
    const before = await instances();
    probes.splice(0);
    const events: RestartEvent[] = [];
    const result = await restartService(p.context, 'web', 'dev', { timeoutMs: 10_000, emit: (e) => events.push(e) });
    assert.deepEqual(result, { service: 'web', environment: 'dev', recreated: [], restarted: ['web-dev-1', 'web-dev-2'], failed: [] });
    assert.deepEqual(events, [{ type: 'restarted', slot: 'web-dev-1', healthy: true }, { type: 'restarted', slot: 'web-dev-2', healthy: true }]);
    const after = await instances();
    assert.deepEqual(after.map((i) => [i.slot, i.id, i.image, i.running]), before.map((i) => [i.slot, i.id, p.images.v1, true]), 'the same containers, running again');
    assert.deepEqual([...new Set(probes)].sort(), ['shop.web-dev-1', 'shop.web-dev-2'], 'each was probed after its restart');
    const [restart, deploy] = await rolloutsOf(p.db, 'web', 'dev');
    assert.equal(deploy!.kind, 'deploy');
    const view = await rolloutView(p.db, restart!);
    assert.deepEqual(
      [view.kind, view.status, view.release, view.done, view.steps],
      ['restart', 'succeeded', 1, 2, [{ op: 'restart', slots: ['web-dev-1'], at: { 'web-dev-1': 'local' } }, { op: 'restart', slots: ['web-dev-2'], at: { 'web-dev-2': 'local' } }]],
      'a restart in place is a rollout of its own, one slot per step',
    );
    assert.equal(await currentRelease(p.db, 'web', 'dev'), 1, 'it runs the same release');
  });

  it('an instance removed behind Berth\'s back is recreated on its slot by a journaled rollout; the other is restarted', async () => {
    const [one, two] = await instances();
    await p.engine.containers.remove(two!.id);
    const result = await restartService(p.context, 'web', 'dev', { timeoutMs: 10_000 });
    assert.deepEqual(result, { service: 'web', environment: 'dev', recreated: ['web-dev-2'], restarted: ['web-dev-1'], failed: [] });
    const [restart, recreation] = await rolloutsOf(p.db, 'web', 'dev');
    const view = await rolloutView(p.db, recreation!);
    assert.deepEqual([view.kind, view.status, view.release, view.steps], ['scale', 'succeeded', 1, [{ op: 'front-door' }, { op: 'create', slots: ['web-dev-2'] }, { op: 'converge', replicas: 2 }]]);
    const restarts = await rolloutView(p.db, restart!);
    assert.deepEqual([restarts.kind, restarts.status, restarts.steps], ['restart', 'succeeded', [{ op: 'restart', slots: ['web-dev-1'], at: { 'web-dev-1': 'local' } }]], 'then the restart of the other, journaled');
    const after = await instances();
    assert.deepEqual(after.map((i) => [i.slot, i.image, i.running]), [['web-dev-1', p.images.v1, true], ['web-dev-2', p.images.v1, true]]);
    assert.equal(after[0]!.id, one!.id, 'web-dev-1 kept its container');
    assert.notEqual(after[1]!.id, two!.id, 'web-dev-2 has a new one');
    assert.equal(await currentRelease(p.db, 'web', 'dev'), 1);
  });

  it('berth restart prints the recreation\'s steps, then one line per instance (what the server\'s CLI prints too: restart-missing.int)', async () => {
    const [one] = await instances();
    await p.engine.containers.remove(one!.id);
    const lines: string[] = [];
    const output: Output = { isTTY: false, color: false, out: (text) => lines.push(text), err: (text) => lines.push(`stderr: ${text}`) };
    await restartService(p.context, 'web', 'dev', { timeoutMs: 10_000, door: p.door, emit: restartProgress(output) });
    assert.deepEqual(
      lines.map((line) => line.replace(/\d+ ms/g, '<n> ms')),
      [
        '[1/3] front door up with the running instances',
        '[2/3] create web-dev-1',
        '  web-dev-1: starting',
        '  web-dev-1: healthy in <n> ms, in the front door',
        '[3/3] converge on 2 instance(s)',
        '✓ web-dev-1: recreated on its slot, healthy',
        '✓ web-dev-2: restarted, healthy',
      ],
    );
  });

  it('an instance that is not the service\'s is refused, naming how to fix it', async () => {
    await assert.rejects(restartService(p.context, 'web', 'dev', { instance: 'api-dev-1' }), { kind: 'invalid', message: 'api-dev-1 is not an instance of web in dev' });
  });
});
