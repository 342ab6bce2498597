/**
 * One reconciler pass on the FakeEngine: no Docker. A container removed behind Berth's back comes
 * back on its slot and address, by a rollout of kind reconcile the reconciler journals under its
 * own actor; a pass over a service that runs as released changes nothing.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { doorCreateBody } from '../lb/door-container.js';
import { deployService } from '../release/deploy.js';
import { listInstances } from '../runtime/instances.js';
import { rolloutView } from '../rollout/rollout-view.js';
import { slotsOf } from '../store/deployments.js';
import { currentRelease, rolloutsOf } from '../store/releases.js';
import { fakeProject, type FakeProject } from '../testing/fake-project.js';
import { reconcileOnce, type ReconcileAuditEntry } from './reconcile.js';

describe('one reconciler pass on the FakeEngine', () => {
  let p: FakeProject;

  before(async () => {
    p = await fakeProject('reconcile-on-fake', {
      config: {
        project: 'shop',
        images: { web: { root: {} } },
        services: { web: { image: 'web', ports: [8080], replicas: 2, health: { command: ['check-web'], interval: '1s' }, stop_grace: '1s' } },
        environments: { dev: { network: 'nat' } },
      },
    });
    await deployService(p.context, 'web', 'dev', { image: 'berth/web:v1', timeoutMs: 10_000 });
  });
  after(async () => p.close());

  const instances = async () => (await p.containers('web')).map((c) => ({ slot: c.labels['berth.instance']!, id: c.id, image: c.image, running: c.running, ip: c.networks['berth-shop-nat']?.ip }));

  it('a pass over what runs as released does nothing', async () => {
    const before = await instances();
    const report = await reconcileOnce(p.context, { timeoutMs: 10_000 });
    assert.deepEqual([report.actions, report.drift], [[], []]);
    assert.deepEqual(await instances(), before);
    assert.deepEqual((await rolloutsOf(p.db, 'web', 'dev')).map((r) => r.kind), ['deploy']);
  });

  it('a front door container of the project is neither an instance nor drift', async () => {
    const door = await p.engine.containers.create(doorCreateBody({ project: 'shop', spec: { id: 'dev-web', bind: { address: '127.0.0.1', port: 8088 } }, image: p.images.v1!, vrrp: false }));
    try {
      await p.engine.containers.start(door);
      assert.deepEqual((await listInstances(p.context)).map((i) => i.slot), ['web-dev-1', 'web-dev-2']);
      const report = await reconcileOnce(p.context, { timeoutMs: 10_000 });
      assert.deepEqual([report.actions, report.drift], [[], []]);
    } finally {
      await p.engine.containers.remove(door);
    }
  });

  it('a container removed behind Berth\'s back comes back on its slot and IP, by a journaled reconcile rollout', async () => {
    const [one, two] = await instances();
    await p.engine.containers.remove(two!.id);
    const audit: ReconcileAuditEntry[] = [];
    const report = await reconcileOnce(p.context, { timeoutMs: 10_000, audit: (e) => void audit.push(e) });
    const [rollout] = await rolloutsOf(p.db, 'web', 'dev');
    assert.equal(report.actions.length, 1, JSON.stringify(report));
    const [action] = report.actions;
    assert.deepEqual({ ...action, message: undefined }, { type: 'reconcile', action: 'recreate', service: 'web', environment: 'dev', slot: 'web-dev-2', outcome: 'succeeded', message: undefined, rollout: rollout!.id });
    assert.match(action!.message, /^recreated slot web-dev-2 on local \(it was .+\)$/);
    assert.deepEqual(report.drift, []);
    assert.deepEqual(audit.map((a) => [a.action, a.target, a.outcome]), [['reconcile.recreate', 'web/dev/web-dev-2', 'succeeded']]);
    const view = await rolloutView(p.db, rollout!);
    assert.deepEqual([view.kind, view.status, view.release, view.actor, view.steps], ['reconcile', 'succeeded', 1, 'reconciler', [{ op: 'front-door' }, { op: 'create', slots: ['web-dev-2'] }, { op: 'converge', replicas: 2 }]]);
    const after = await instances();
    assert.deepEqual(after.map((i) => [i.slot, i.image, i.running, i.ip]), [['web-dev-1', p.images.v1, true, one!.ip], ['web-dev-2', p.images.v1, true, two!.ip]], 'both run the release again, each on its own IP');
    assert.equal(after[0]!.id, one!.id, 'web-dev-1 was left alone');
    assert.deepEqual((await slotsOf(p.db, 'web', 'dev')).map((s) => [s.slot, s.host]), [['web-dev-1', 'local'], ['web-dev-2', 'local']]);
    assert.equal(await currentRelease(p.db, 'web', 'dev'), 1);
  });
});
