/**
 * Crash safety of `berth deploy` (Run's path: no front door) on the FakeEngine: a deploy that
 * replaces 2 instances on a flat network is "killed" at each checkpoint it passes, in turn
 * (testing/doomed.ts: in-process, the run stops there for good, as another process on
 * another host whose lease clock stopped when it died), and the next `berth deploy` of the same
 * image must say it found the interrupted deploy, resume it, and leave everything converged:
 * exactly the 2 slots running the deployed release, IPAM holding exactly their addresses, no
 * lease, no rollout open, no front door recorded. release/deploy-rollout.int.test.ts keeps a
 * few representative kill points of the same with the real CLI, a real SIGKILL and a real engine.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Engine } from '../engine/engine.js';
import { injectCheckpointFault } from '../fault.js';
import type { RunContext } from '../runtime/context.js';
import { Hosts } from '../runtime/hosts.js';
import { RUN_LABELS } from '../runtime/labels.js';
import { containerName } from '../runtime/slots.js';
import { closeStore, openStore, type Store } from '../store/db.js';
import { leaseOf } from '../store/leases.js';
import { currentRelease, frontDoorPort, openRollout, releaseOf, rolloutsOf } from '../store/releases.js';
import { assertSlotsHoldTheirAddresses } from '../testing/crash-assertions.js';
import { Doomed, doomedRuns as runs, severed } from '../testing/doomed.js';
import { fakeProject, type FakeProject } from '../testing/fake-project.js';
import { deployService, type DeployOptions } from './deploy.js';

const WEB = ['web-dev-1', 'web-dev-2'];
const TTL_MS = 30_000;
/** A deploy that replaces 2 instances passes more checkpoints than this. */
const MIN_KILL_POINTS = 6;
/** A safety net: a fault that never stops killing would loop forever. */
const MAX_KILL_POINTS = 40;

describe('a deploy killed at each of its checkpoints in turn, on the FakeEngine', () => {
  let p: FakeProject;
  const noRealEngine = (spec: { name: string }): Engine => assert.fail(`the test connected to a real engine for host ${spec.name}`);
  const context = (store: Store, reach: Engine = p.engine): RunContext => ({ ...p.context, db: store, hosts: new Hosts(p.context.project, reach, noRealEngine) });

  before(async () => {
    p = await fakeProject('deploy-crash-on-fake', {
      versions: ['A', 'B'],
      config: {
        project: 'shop',
        images: { web: { root: {} } },
        networks: { lan: { mode: 'flat', bridge: 'brdeploy', subnet: '10.98.0.0/24', gateway: '10.98.0.1', range: '10.98.0.10-10.98.0.20', create_bridge: true, quarantine: '0s' } },
        services: { web: { image: 'web', ports: [8080], replicas: 2, health: { command: ['check-web'], interval: '1s' }, stop_grace: '1s' } },
        environments: { dev: { network: 'lan' } },
      },
    });
    injectCheckpointFault((where) => runs.getStore()?.reach(where));
  });

  after(async () => {
    injectCheckpointFault(undefined);
    await p.close();
  });

  /** A deploy of `image` by a run that dies at its `at`-th checkpoint, with its own store handle. */
  async function doomedDeploy(image: string, at: number) {
    const doomed = new Doomed(at);
    const store = await openStore(p.context.project.stateDir);
    const bornAt = Date.now();
    const options: DeployOptions = {
      image,
      timeoutMs: 10_000,
      lease: { ttlMs: TTL_MS, now: () => bornAt, as: { holder: `killed-run-${at}`, pid: 4_000_000 + at, hostname: 'a-host-that-died' } },
    };
    let settled: 'pending' | 'succeeded' | 'failed' = 'pending';
    let failure: unknown;
    const attempt = runs.run(doomed, () => deployService(context(store, severed(p.engine, () => doomed.dead)), 'web', 'dev', options));
    const outcome = attempt.then(
      (result) => ((settled = 'succeeded'), result),
      (error: unknown) => ((settled = 'failed'), (failure = error), undefined),
    );
    const where = await Promise.race([doomed.death, outcome.then(() => undefined)]);
    await closeStore(store);
    return { doomed, where, outcome, settled: () => settled, failure: () => failure };
  }

  /** The next `berth deploy`, in this process, its clock past the dead holder's lease. */
  const nextDeploy = (image: string, notes: string[]) =>
    deployService(p.context, 'web', 'dev', {
      image,
      timeoutMs: 10_000,
      lease: { ttlMs: TTL_MS, now: () => Date.now() + 2 * TTL_MS },
      onEvent: (event) => void (event.type === 'note' && notes.push(event.text)),
    });

  /** Exactly web's 2 slots running `imageId` under their project-qualified names, IPAM bound to them, no lease, nothing open, no front door. */
  async function assertConverged(label: string, imageId: string): Promise<void> {
    assert.equal(await leaseOf(p.db, 'web', 'dev'), undefined, `${label}: a lease is left`);
    assert.equal(await openRollout(p.db, 'web', 'dev'), undefined, `${label}: a rollout is still open`);
    const current = await currentRelease(p.db, 'web', 'dev');
    assert.ok(current !== undefined, `${label}: dev runs no release of web`);
    assert.equal((await releaseOf(p.db, 'web', current))!.imageId, imageId, `${label}: dev runs release ${current}, not the one deployed`);
    const all = await p.engine.containers.summaries([`${RUN_LABELS.project}=shop`]);
    assert.deepEqual(all.map((c) => [c.name, c.state]).sort(), WEB.map((slot) => [containerName('shop', slot), 'running']), `${label}: containers ${all.map((c) => `${c.name} (${c.state})`).join(', ')}`);
    await assertSlotsHoldTheirAddresses(context(p.db), p.engine, WEB, imageId, label);
    assert.equal(await frontDoorPort(p.db, 'web', 'dev'), undefined, `${label}: a deploy recorded a front door`);
  }

  it('after a kill at any checkpoint, the next berth deploy says it found the interrupted deploy, resumes it, and everything converges', async (t) => {
    const first = await deployService(p.context, 'web', 'dev', { image: 'berth/web:A', timeoutMs: 10_000 });
    assert.deepEqual(first.instances.map((i) => i.slot), WEB);
    await assertConverged('first deploy', p.images.A!);

    // B's release is recorded by this deploy (a record-release step); every deploy after it goes back and forth between releases that exist.
    const toB = await deployService(p.context, 'web', 'dev', { image: 'berth/web:B', timeoutMs: 10_000 });
    assert.deepEqual(toB.instances.map((i) => i.slot), WEB);
    await assertConverged('deploy of B', p.images.B!);

    // The checkpoints a deploy from B back to A passes, counted by a run that never dies.
    const counted = await doomedDeploy('berth/web:A', 0);
    assert.equal(counted.where, undefined);
    await counted.outcome;
    assert.equal(counted.settled(), 'succeeded', String(counted.failure()));
    await assertConverged('counting deploy', p.images.A!);
    const checkpoints = counted.doomed.passed;
    assert.ok(checkpoints.length >= MIN_KILL_POINTS, `only ${checkpoints.length} checkpoints: ${checkpoints.join(' ')}`);
    for (const where of ['step', 'created', 'started', 'healthy', 'renamed', 'replace']) assert.ok(checkpoints.includes(where), `a deploy passes no "${where}" checkpoint: ${checkpoints.join(' ')}`);

    let running: 'A' | 'B' = 'A';
    const kills: string[] = [];
    for (let n = 1; ; n++) {
      assert.ok(n <= MAX_KILL_POINTS, `still killed at checkpoint ${MAX_KILL_POINTS}: the fault never stops`);
      const next: 'A' | 'B' = running === 'A' ? 'B' : 'A';
      const killed = await doomedDeploy(`berth/web:${next}`, n);
      if (killed.where === undefined) {
        await killed.outcome;
        assert.equal(killed.settled(), 'succeeded', String(killed.failure()));
        assert.equal(n, checkpoints.length + 1, `the deploy passed ${n - 1} checkpoints, the counted one ${checkpoints.length}`);
        await assertConverged(`kill at ${n} (not killed)`, p.images[next]!);
        break;
      }
      const label = `kill ${n} at "${killed.where}"`;
      assert.equal(killed.where, checkpoints[n - 1], `${label}: the checkpoints are not those counted`);
      const journal = await openRollout(p.db, 'web', 'dev');
      assert.ok(journal && journal.status === 'running' && journal.kind === 'deploy', `${label}: no running deploy in the journal`);
      const left = (await p.engine.containers.summaries([`${RUN_LABELS.project}=shop`])).map((c) => `${c.name}:${c.state}`).sort().join(' ');

      const notes: string[] = [];
      await nextDeploy(`berth/web:${next}`, notes);
      const note = notes.find((text) => /interrupted/.test(text));
      assert.ok(note, `${label}: the next deploy did not say it found the interrupted deploy: ${notes.join(' | ')}`);
      assert.match(note, new RegExp(`rollout #${journal.id} \\(deploy`), `${label}: the note names another rollout: ${note}`);
      assert.match(note, /resumes/, `${label}: ${note}`);
      // The resumed deploy reached what the command asked for: the command's own plan then had nothing to do, and journaled nothing.
      const [resumed] = await rolloutsOf(p.db, 'web', 'dev');
      assert.deepEqual([resumed!.id, resumed!.kind, resumed!.status], [journal.id, 'deploy', 'succeeded'], `${label}: ${JSON.stringify(resumed)}`);
      await assertConverged(label, p.images[next]!);

      // Nothing more of the killed run ever happened: it is still stopped where it died.
      await new Promise((resolve) => setImmediate(resolve));
      assert.equal(killed.settled(), 'pending', `${label}: the killed run went on and ${killed.settled()} (${String(killed.failure())})`);
      kills.push(`${label}, left ${left}`);
      running = next;
    }
    for (const k of kills) t.diagnostic(k);
    assert.equal(kills.length, checkpoints.length);
  });
});
