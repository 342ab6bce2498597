/**
 * `berth rollout abandon` as a rollout of kind 'abandon', on the FakeEngine and a FakeDoor: it
 * journals its plan (put set-aside containers back, remove half-launched ones, tidy) before the
 * first change, and ends the abandoned rollout as abandoned. Killed itself, the next command
 * finishes it from its journal.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { injectCheckpointFault } from '../fault.js';
import { releaseService, scaleService } from '../release/operations.js';
import { ipamOf, type RunContext } from '../runtime/context.js';
import { Hosts } from '../runtime/hosts.js';
import { closeStore, openStore, type Store } from '../store/db.js';
import { leaseOf } from '../store/leases.js';
import { rolloutById, rolloutsOf, scaleOf, type Rollout } from '../store/releases.js';
import { Doomed, doomedRuns, killAtCheckpoints, severed } from '../testing/doomed.js';
import { FakeDoor } from '../testing/fake-door.js';
import { fakeProject, type FakeProject } from '../testing/fake-project.js';
import { abandonRollout } from './abandon.js';
import { recoverInterrupted, type RolloutOptions } from './executor.js';

const TTL_MS = 30_000;

describe('berth rollout abandon as a rollout, on the FakeEngine', () => {
  let p: FakeProject;
  const door = new FakeDoor();

  before(async () => {
    p = await fakeProject('abandon-on-fake', {
      config: {
        project: 'shop',
        images: { web: { root: {} } },
        networks: { lan: { mode: 'flat', bridge: 'brabfake', subnet: '10.96.0.0/24', gateway: '10.96.0.1', range: '10.96.0.10-10.96.0.20', create_bridge: true, quarantine: '1h' } },
        services: { web: { image: 'web', ports: [8080], replicas: 2, health: { command: ['check-web'], interval: '1s' }, stop_grace: '1s', rollout: { batch_size: 1, drain: '0s' } } },
        environments: { dev: { network: 'lan', lb_address: '127.0.0.1' } },
      },
    });
    injectCheckpointFault(killAtCheckpoints);
    await releaseService(p.context, 'web', 'dev', { door, timeoutMs: 10_000, image: 'berth/web:v1' });
  });
  after(async () => {
    injectCheckpointFault(undefined);
    await p.close();
  });

  const context = (db: Store, engine = p.engine): RunContext => ({ ...p.context, db, hosts: new Hosts(p.context.project, engine, () => assert.fail('a second host')) });

  /** `act` run by another process (its own store, its clock `skew` ahead) that dies at the first checkpoint named `at`. */
  async function killedAt(at: string, skew: number, name: string, act: (run: RunContext, options: RolloutOptions) => Promise<unknown>): Promise<void> {
    const doomed = new Doomed(at);
    const store = await openStore(p.context.project.stateDir);
    const bornAt = Date.now() + skew;
    const options: RolloutOptions = { door: severed(door, () => doomed.dead), timeoutMs: 10_000, lease: { ttlMs: TTL_MS, now: () => bornAt, as: { holder: name, pid: 4_200_000, hostname: 'a-host-that-died' } } };
    const outcome = doomedRuns.run(doomed, () => act(context(store, severed(p.engine, () => doomed.dead)), options)).catch((error: unknown) => error);
    const where = await Promise.race([doomed.death, outcome.then((o) => assert.fail(`${name} was not killed: ${String(o)}`))]);
    assert.equal(where, at);
    await closeStore(store);
  }

  const slots = async () => (await p.containers('web')).map((c) => [c.labels['berth.instance'], c.image, c.running]);
  const running = async (): Promise<Rollout[]> => (await rolloutsOf(p.db, 'web', 'dev')).filter((r) => r.status === 'running');

  it('a release killed with slot 1 set aside: the abandon, killed too, is finished by the next command and puts it back', async () => {
    const first = (await p.containers('web')).find((c) => c.labels['berth.instance'] === 'web-dev-1')!;
    await killedAt('replace', 0, 'killed-release', (run, options) => releaseService(run, 'web', 'dev', { ...options, image: 'berth/web:v2' }));
    const [release] = await running();
    assert.equal(release?.kind, 'release');
    assert.deepEqual(await slots(), [['web-dev-1', p.images.v1, false], ['web-dev-2', p.images.v1, true]], 'slot 1 set aside and stopped');

    // The abandon, by a process that takes over the dead one's lease and dies before it puts slot 1 back.
    await killedAt('restore', 2 * TTL_MS, 'killed-abandon', (run, options) => abandonRollout(run, release!.id, options));
    const [abandon, ...others] = await running();
    assert.equal(abandon?.kind, 'abandon');
    assert.deepEqual(others, [], 'the abandoned release is not running any more');
    assert.match((await rolloutById(p.db, release!.id))!.message, new RegExp(`^abandoned: stopped after step \\d+ of \\d+; rollout #${abandon!.id} converges on what runs$`));
    assert.deepEqual(JSON.parse(abandon!.plan), { target: 2, phase: 'forward', abandons: release!.id, steps: [{ op: 'restore', slots: ['web-dev-1'] }, { op: 'tidy' }] });
    assert.equal((await leaseOf(p.db, 'web', 'dev'))?.rollout, abandon!.id, 'the lease names the abandon');

    const notes: string[] = [];
    const resumed = await recoverInterrupted(p.context, 'web', 'dev', { door, timeoutMs: 10_000, lease: { ttlMs: TTL_MS, now: () => Date.now() + 4 * TTL_MS }, emit: (e) => void notes.push(e.type === 'instance' ? `${e.slot}: ${e.text}` : e.type === 'note' ? e.text : '') });
    assert.deepEqual([resumed?.rollout, resumed?.status], [abandon!.id, 'succeeded']);
    assert.ok(notes.includes('web-dev-1: put the set-aside container back'), notes.join(' | '));

    const ended = (await rolloutById(p.db, release!.id))!;
    assert.equal(ended.status, 'abandoned');
    assert.match(ended.message, /^abandoned by test: stopped after step \d+ of \d+; converged on what runs \(2 instance\(s\), web-dev-1 put back\)$/);
    assert.deepEqual(await slots(), [['web-dev-1', p.images.v1, true], ['web-dev-2', p.images.v1, true]]);
    assert.equal((await p.containers('web'))[0]!.id, first.id, 'slot 1 runs its own container again');
    assert.deepEqual(door.servers().map((s) => s.name), ['web-dev-1', 'web-dev-2'], 'the front door holds both');
    assert.equal(await leaseOf(p.db, 'web', 'dev'), undefined);
    assert.deepEqual(await running(), []);
  });

  it('a scale killed with a half-launched slot: the abandon removes it with its address, and the scale is what runs', async () => {
    await killedAt('created', 0, 'killed-scale', (run, options) => scaleService(run, 'web', 'dev', 3, options));
    const [scale] = await running();
    assert.equal(scale?.kind, 'scale');
    assert.deepEqual(await slots(), [['web-dev-1', p.images.v1, true], ['web-dev-2', p.images.v1, true], ['web-dev-3', p.images.v1, false]]);

    const result = await abandonRollout(p.context, scale!.id, { door, timeoutMs: 10_000, lease: { ttlMs: TTL_MS, now: () => Date.now() + 2 * TTL_MS } });
    assert.deepEqual({ ...result, message: undefined }, { rollout: scale!.id, service: 'web', environment: 'dev', restored: [], removed: ['web-dev-3'], running: ['web-dev-1', 'web-dev-2'], message: undefined });
    assert.match(result.message, /^abandoned by test: stopped after step \d+ of \d+; converged on what runs \(2 instance\(s\)\)$/);
    const [abandon] = await rolloutsOf(p.db, 'web', 'dev');
    assert.deepEqual([abandon!.kind, abandon!.status, abandon!.done], ['abandon', 'succeeded', 2]);
    assert.deepEqual(JSON.parse(abandon!.plan).steps, [{ op: 'rm', slots: ['web-dev-3'], at: { 'web-dev-3': 'local' } }, { op: 'tidy' }]);
    assert.deepEqual(await slots(), [['web-dev-1', p.images.v1, true], ['web-dev-2', p.images.v1, true]]);
    assert.deepEqual((await ipamOf(p.context).allocations('lan')).filter((a) => a.slot === 'web-dev-3' && a.state !== 'quarantined'), [], 'web-dev-3 holds no address');
    assert.equal(await scaleOf(p.db, 'web', 'dev'), 2);
    assert.deepEqual(door.servers().map((s) => s.name), ['web-dev-1', 'web-dev-2']);
    assert.equal(await leaseOf(p.db, 'web', 'dev'), undefined);
  });
});
