/**
 * `berth stop`, `berth rm` and `berth restart` as rollouts of their kind, on the FakeEngine: each
 * journals its whole plan before the first change and runs under the service's lease, so one asked
 * while another rollout holds the lease is refused as a conflict naming it, and one killed at a
 * checkpoint is finished by the next command. A flat network, so `rm` shows its addresses going
 * into quarantine.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { injectCheckpointFault } from '../fault.js';
import { recoverInterrupted } from '../rollout/executor.js';
import { acquire } from '../rollout/lease.js';
import { rolloutView } from '../rollout/rollout-view.js';
import { ipamOf, type RunContext } from '../runtime/context.js';
import { Hosts } from '../runtime/hosts.js';
import { closeStore, openStore, type Store } from '../store/db.js';
import { slotsOf } from '../store/deployments.js';
import { leaseOf } from '../store/leases.js';
import { currentRelease, rolloutsOf, setRolloutStatus, startRollout } from '../store/releases.js';
import { Doomed, doomedRuns, killAtCheckpoints, severed } from '../testing/doomed.js';
import { fakeProject, type FakeProject } from '../testing/fake-project.js';
import { deployService } from './deploy.js';
import { rmInstances, selectInstances, stopInstances } from './operate.js';
import { restartService } from './restart.js';

const config = (bridge: string, subnet: string) => ({
  project: 'shop',
  images: { web: { root: {} } },
  networks: { lan: { mode: 'flat', bridge, subnet: `${subnet}.0/24`, gateway: `${subnet}.1`, range: `${subnet}.10-${subnet}.20`, create_bridge: true, quarantine: '1h' } },
  services: { web: { image: 'web', ports: [8080], replicas: 2, health: { command: ['check-web'], interval: '1s' }, stop_grace: '1s' } },
  environments: { dev: { network: 'lan' } },
});

/** The service's containers as [slot, running], by slot. */
async function states(p: FakeProject): Promise<[string, boolean][]> {
  return (await p.containers('web')).map((c) => [c.labels['berth.instance']!, c.running]);
}

/** The last rollout of web in dev, as `berth rollout show` reads it. */
async function lastRollout(db: Store) {
  const [last] = await rolloutsOf(db, 'web', 'dev');
  const view = await rolloutView(db, last!);
  return { kind: view.kind, status: view.status, release: view.release, done: view.done, steps: view.steps, message: view.message };
}

describe('berth stop and rm as rollouts, on the FakeEngine', () => {
  let p: FakeProject;

  before(async () => {
    p = await fakeProject('operate-on-fake', { config: config('bropfake', '10.98.0') });
    await deployService(p.context, 'web', 'dev', { image: 'berth/web:v1', timeoutMs: 10_000 });
  });
  after(async () => p.close());

  it('stop of one instance: a journaled rollout of kind stop; the others run on, the release stays the same', async () => {
    await stopInstances(p.context, await selectInstances(p.context, 'web-dev-1', 'dev'), 'dev');
    assert.deepEqual(await states(p), [['web-dev-1', false], ['web-dev-2', true]]);
    assert.deepEqual(await lastRollout(p.db), { kind: 'stop', status: 'succeeded', release: 1, done: 1, steps: [{ op: 'stop', slots: ['web-dev-1'], at: { 'web-dev-1': 'local' } }], message: '' });
    assert.equal(await currentRelease(p.db, 'web', 'dev'), 1, 'a stop runs no release');
    assert.equal(await leaseOf(p.db, 'web', 'dev'), undefined, 'the lease is let go');
  });

  it('a stop while another rollout holds the lease is a conflict naming it, and changes nothing', async () => {
    const { lease } = await acquire(p.db, 'web', 'dev', 0, { ttlMs: 60_000, now: Date.now, as: { holder: 'other', pid: 4242, hostname: 'another-host' } });
    const plan = JSON.stringify({ target: 1, phase: 'forward', steps: [] });
    const holder = await startRollout(p.db, { service: 'web', environment: 'dev', release: 1, previous: 1, kind: 'release', forced: false, actor: 'ana', plan }, lease);
    try {
      const before = (await rolloutsOf(p.db, 'web', 'dev')).length;
      await assert.rejects(stopInstances(p.context, await selectInstances(p.context, 'web', 'dev'), 'dev'), (error: { kind?: string; message?: string }) => {
        assert.equal(error.kind, 'conflict');
        assert.match(error.message ?? '', new RegExp(`^a rollout of web in dev is in progress: rollout #${holder} \\(release of release 1, by ana, .*\\), berth process 4242 on another-host$`));
        return true;
      });
      assert.deepEqual(await states(p), [['web-dev-1', false], ['web-dev-2', true]], 'nothing stopped');
      assert.equal((await rolloutsOf(p.db, 'web', 'dev')).length, before, 'nothing journaled');
      assert.equal((await leaseOf(p.db, 'web', 'dev'))?.holder, 'other', 'the lease stays its holder\'s');
    } finally {
      await setRolloutStatus(p.db, holder, 'failed', lease, 'ended by the test');
      await lease.release();
    }
  });

  it('rm of one instance: its container and record go, its address into quarantine; the front door and the rest stay', async () => {
    const ipam = ipamOf(p.context);
    const own = (await ipam.allocations('lan')).find((a) => a.slot === 'web-dev-2')!;
    const released = await rmInstances(p.context, await selectInstances(p.context, 'web-dev-2', 'dev', { withMissing: true }), 'dev');
    assert.deepEqual(released, [own.ip]);
    assert.deepEqual(await states(p), [['web-dev-1', false]]);
    assert.deepEqual((await slotsOf(p.db, 'web', 'dev')).map((s) => s.slot), ['web-dev-1']);
    assert.deepEqual((await ipam.allocations('lan')).filter((a) => a.ip === own.ip).map((a) => a.state), ['quarantined']);
    assert.deepEqual(await lastRollout(p.db), { kind: 'rm', status: 'succeeded', release: 1, done: 1, steps: [{ op: 'rm', slots: ['web-dev-2'], at: { 'web-dev-2': 'local' } }], message: '' });
  });

  it('rm of the whole service: every instance goes, and the plan ends the service there (retire)', async () => {
    const own = (await ipamOf(p.context).allocations('lan')).find((a) => a.slot === 'web-dev-1')!;
    const released = await rmInstances(p.context, await selectInstances(p.context, 'web', 'dev', { withMissing: true }), 'dev');
    assert.deepEqual(released, [own.ip]);
    assert.deepEqual(await states(p), []);
    assert.deepEqual(await slotsOf(p.db, 'web', 'dev'), []);
    assert.deepEqual((await ipamOf(p.context).allocations('lan')).filter((a) => a.state !== 'quarantined'), [], 'no address held');
    assert.deepEqual(await lastRollout(p.db), { kind: 'rm', status: 'succeeded', release: 1, done: 2, steps: [{ op: 'rm', slots: ['web-dev-1'], at: { 'web-dev-1': 'local' } }, { op: 'retire' }], message: '' });
    assert.equal(await currentRelease(p.db, 'web', 'dev'), 1, 'the history still says which release ran last');
    assert.equal(await leaseOf(p.db, 'web', 'dev'), undefined);
  });
});

describe('berth restart killed at each of its checkpoints in turn, on the FakeEngine', () => {
  const TTL_MS = 30_000;
  let p: FakeProject;

  before(async () => {
    p = await fakeProject('restart-kill-on-fake', { config: config('brrsfake', '10.97.0') });
    await deployService(p.context, 'web', 'dev', { image: 'berth/web:v1', timeoutMs: 10_000 });
    injectCheckpointFault(killAtCheckpoints);
  });
  after(async () => {
    injectCheckpointFault(undefined);
    await p.close();
  });

  const context = (db: Store, engine = p.engine): RunContext => ({ ...p.context, db, hosts: new Hosts(p.context.project, engine, () => assert.fail('a second host')) });

  /** A restart by another process (its own store handle, its clock stopped at its start) that dies at its `at`-th checkpoint. */
  async function doomedRestart(at: number) {
    const doomed = new Doomed(at);
    const store = await openStore(p.context.project.stateDir);
    const bornAt = Date.now();
    const lease = { ttlMs: TTL_MS, now: () => bornAt, as: { holder: `killed-restart-${at}`, pid: 4_100_000 + at, hostname: 'a-host-that-died' } };
    const outcome = doomedRuns.run(doomed, () => restartService(context(store, severed(p.engine, () => doomed.dead)), 'web', 'dev', { timeoutMs: 10_000, lease })).then(
      (result) => result,
      (error: unknown) => error,
    );
    const where = await Promise.race([doomed.death, outcome.then(() => undefined)]);
    await closeStore(store);
    return { doomed, where, outcome };
  }

  /** This process, after the doomed one: its clock past the dead holder's lease. */
  const next = { ttlMs: TTL_MS, now: () => Date.now() + 2 * TTL_MS };

  it('the next command finishes the interrupted restart from its journal: the same containers, running, nothing left open', async () => {
    const ids = (await p.containers('web')).map((c) => c.id);
    const counted = await doomedRestart(0);
    assert.equal(counted.where, undefined);
    assert.deepEqual(await counted.outcome, { service: 'web', environment: 'dev', recreated: [], restarted: ['web-dev-1', 'web-dev-2'], failed: [] });
    const checkpoints = counted.doomed.passed;
    assert.deepEqual(checkpoints.filter((c) => c === 'step' || c === 'restart'), ['step', 'restart', 'step', 'restart'], checkpoints.join(' '));

    for (let n = 1; n <= checkpoints.length; n++) {
      const killed = await doomedRestart(n);
      const label = `kill ${n} at "${killed.where}"`;
      assert.equal(killed.where, checkpoints[n - 1], label);
      // Every checkpoint comes after the plan was journaled: what the kill left is a restart still running, under the dead holder's lease.
      const [journal] = await rolloutsOf(p.db, 'web', 'dev');
      assert.deepEqual([journal?.kind, journal?.status], ['restart', 'running'], label);
      const lease = await leaseOf(p.db, 'web', 'dev');
      assert.deepEqual([lease?.hostname, lease?.rollout], ['a-host-that-died', journal!.id], `${label}: the lease ${JSON.stringify(lease)}`);
      assert.deepEqual(JSON.parse(journal!.plan).steps, [
        { op: 'restart', slots: ['web-dev-1'], at: { 'web-dev-1': 'local' } },
        { op: 'restart', slots: ['web-dev-2'], at: { 'web-dev-2': 'local' } },
      ], label);
      const notes: string[] = [];
      if (n % 2 === 1) {
        const resumed = await recoverInterrupted(context(p.db), 'web', 'dev', { timeoutMs: 10_000, lease: next, emit: (e) => void (e.type === 'note' && notes.push(e.text)) });
        assert.deepEqual([resumed?.rollout, resumed?.status], [journal!.id, 'succeeded'], `${label}: ${JSON.stringify(resumed)}`);
        assert.match(notes.join('\n'), new RegExp(`^rollout #${journal!.id} \\(restart\\) was interrupted after step \\d of 2`, 'm'), label);
      } else {
        const result = await restartService(context(p.db), 'web', 'dev', { timeoutMs: 10_000, lease: next });
        assert.deepEqual(result.failed, [], label);
        assert.deepEqual(result.restarted, ['web-dev-1', 'web-dev-2'], label);
      }
      assert.equal((await rolloutsOf(p.db, 'web', 'dev')).find((r) => r.id === journal!.id)?.status, 'succeeded', `${label}: the interrupted restart was not finished`);
      assert.equal(await leaseOf(p.db, 'web', 'dev'), undefined, `${label}: a lease is left`);
      assert.deepEqual((await rolloutsOf(p.db, 'web', 'dev')).filter((r) => r.status === 'running'), [], `${label}: a rollout is still running`);
      const now = await p.containers('web');
      assert.deepEqual(now.map((c) => [c.id, c.running]), ids.map((id) => [id, true]), `${label}: the same containers, running`);
      assert.equal(await currentRelease(p.db, 'web', 'dev'), 1, label);
    }
  });

  it('an instance not healthy after its restart: the next one still restarts, nothing is rolled back, the restart is recorded failed naming it', async () => {
    const ids = (await p.containers('web')).map((c) => c.id);
    let sick = true;
    p.engine.scriptExec((c, cmd) => (sick && cmd[0] === 'check-web' && c.name === 'shop.web-dev-1' ? { exitCode: 1, output: 'not ready\n' } : undefined));
    try {
      const result = await restartService(p.context, 'web', 'dev', { timeoutMs: 2_000 });
      assert.deepEqual(result.restarted, ['web-dev-2']);
      assert.deepEqual(result.failed.map((f) => f.slot), ['web-dev-1']);
      const [restart] = await rolloutsOf(p.db, 'web', 'dev');
      assert.deepEqual([restart!.kind, restart!.status, restart!.done], ['restart', 'failed', 2]);
      assert.match(restart!.message, /^web-dev-1 not healthy after its restart: /);
      assert.deepEqual((await p.containers('web')).map((c) => c.id), ids, 'the same containers: nothing removed or replaced');
      assert.equal(await leaseOf(p.db, 'web', 'dev'), undefined);
    } finally {
      sick = false;
    }
  });
});
