/**
 * Read once, plan purely, apply once, on FakeEngines (hosts h1 and h2, images pushed to a
 * FakeRegistry) and a FakeDoor: the journaled plan of a rollout holds every step, those that
 * prepare it included (the network where it is missing, names, stale addresses, the front door,
 * the new release's row, pulls), and nothing is written to the store, the engines or the front
 * door before it is journaled: gathering and planning change nothing, and a rollout whose first
 * step fails is journaled and ends failed with the error the command always gave.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { conflict, type BerthError } from '../errors.js';
import { guard } from '../engine/errors.js';
import { EngineCallError } from '../engine/http.js';
import { deployService } from '../release/deploy.js';
import { releaseService, scaleService } from '../release/operations.js';
import { environmentOf, ipamOf } from '../runtime/context.js';
import { Ipam } from '../network/ipam.js';
import { sqliteOf } from '../store/db.js';
import { leaseOf } from '../store/leases.js';
import { currentRelease, releaseOf, releasesOf, rolloutById, rolloutsOf, scaleOf } from '../store/releases.js';
import { FakeDoor } from '../testing/fake-door.js';
import type { FakeEngine } from '../testing/fake-engine.js';
import { fakeProject, type FakeProject } from '../testing/fake-project.js';
import { configOf, contextFor, rollout, slotStates } from './executor.js';
import { gatherRollout } from './gather.js';
import { planRollout } from './prepare-plan.js';
import { planRolling } from './rollout-plan.js';
import { rolloutView } from './rollout-view.js';
import type { Door, DoorServer } from './door.js';

const config = {
  project: 'shop',
  images: { web: { root: {} } },
  hosts: [
    { name: 'h1', engine: 'unix:///run/berth-fake-h1.sock' },
    { name: 'h2', engine: 'unix:///run/berth-fake-h2.sock' },
  ],
  networks: { lan: { mode: 'flat', bridge: 'br-fake', create_bridge: true, subnet: '10.78.0.0/24', gateway: '10.78.0.1', range: '10.78.0.100-10.78.0.140', quarantine: '0s' } },
  services: {
    web: { image: 'web', ports: [8080], replicas: 2, health: { command: ['check-web'], interval: '1s' }, stop_grace: '1s', rollout: { batch_size: 1, drain: '0s' } },
    api: { image: 'web', ports: [9090], replicas: 2, health: { command: ['check-web'], interval: '1s' }, stop_grace: '1s' },
  },
  environments: {
    dev: { network: 'lan', lb_address: '127.0.0.1', hosts: ['h1', 'h2'] },
    test: { network: 'lan', lb_address: '127.0.0.1', hosts: ['h1', 'h2'] },
  },
};

/** Every table of the store, row by row. */
function storeDump(p: FakeProject): Record<string, unknown[]> {
  const sqlite = sqliteOf(p.db);
  const tables = sqlite.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as { name: string }[];
  return Object.fromEntries(tables.map(({ name }) => [name, sqlite.prepare(`SELECT * FROM "${name}"`).all()]));
}

/** What every engine holds: containers, networks, images with their tags and digests. */
async function engineDump(p: FakeProject): Promise<unknown> {
  const each = async (e: FakeEngine) => ({
    containers: (await e.containers.summaries([])).map((c) => [c.name, c.state, c.labels]),
    networks: (await e.networks.list([])).map((n) => n.name),
    images: await Promise.all((await e.images.list('berth.image=web')).map(async (i) => (await e.images.inspect(i.id))?.tags)),
  });
  return Promise.all([...p.engines.values()].map(each));
}

const journal = async (p: FakeProject, id: number) => {
  const view = await rolloutView(p.db, (await rolloutById(p.db, id))!);
  return { kind: view.kind, release: view.release, status: view.status, done: view.done, steps: view.steps };
};

/** The release row a plan records, as the plan holds it. */
const planned = (p: FakeProject, service: string, number: number, version: string) => ({
  op: 'record-release',
  release: { service, number, image: 'web', imageId: p.images[version], digest: digestOf(p, version), repository: 'berth/web', config: settingsOf(p, service), createdBy: 'test' },
});
const digests = new Map<string, string>();
const configs = new Map<string, string>();
const digestOf = (p: FakeProject, version: string) => digests.get(`${p.dir}:${version}`)!;
const settingsOf = (p: FakeProject, service: string) => configs.get(`${p.dir}:${service}`)!;

async function remember(p: FakeProject): Promise<void> {
  for (const version of Object.keys(p.images)) {
    const pushed = sqliteOf(p.db).prepare('SELECT digest FROM pushes WHERE image_id = ?').get(p.images[version]) as { digest: string };
    digests.set(`${p.dir}:${version}`, pushed.digest);
  }
  for (const [name, service] of p.context.project.services) configs.set(`${p.dir}:${name}`, configOf(service));
}

describe('every step of a rollout is planned and journaled before the first change', () => {
  let p: FakeProject;
  const options = () => ({ door: p.door, timeoutMs: 10_000 });

  before(async () => {
    p = await fakeProject('plan-once-on-fake', { push: true, versions: ['v1', 'v2', 'v3', 'v4'], config });
    await remember(p);
  });
  after(async () => p.close());

  it('a first release: the network on both hosts, the front door, release 1 recorded, the pull where the image is missing, then the instances', async () => {
    const result = await releaseService(p.context, 'web', 'dev', { ...options(), image: 'berth/web:v1' });
    assert.deepEqual([result.status, result.release, result.created.number], ['succeeded', 1, 1]);
    assert.deepEqual(await journal(p, result.rollout), {
      kind: 'release',
      release: 1,
      status: 'succeeded',
      done: 6,
      steps: [
        { op: 'networks', hosts: ['h1', 'h2'] },
        { op: 'front-door' },
        planned(p, 'web', 1, 'v1'),
        // h1 built and pushed the image: it has the digest; h2 pulls it.
        { op: 'pull', hosts: ['h2'] },
        { op: 'create', slots: ['web-dev-1', 'web-dev-2'] },
        { op: 'converge', replicas: 2 },
      ],
    });
    for (const engine of p.engines.values()) assert.ok(await engine.networks.inspect('berth-shop-lan'), 'the network was created');
    assert.deepEqual((await p.containers('web')).map((c) => [c.labels['berth.instance'], c.host, c.image, c.running]), [
      ['web-dev-1', 'h1', p.images.v1, true],
      ['web-dev-2', 'h2', p.images.v1, true],
    ]);
    assert.deepEqual(p.door.servers().map((s) => s.name), ['web-dev-1', 'web-dev-2']);
  });

  it('a release over a running one: a stale address into quarantine, release 2 recorded, pulled on h2, then the batches', async () => {
    // An address a slot of another deploy took 11 minutes ago and never used (no container holds it): past the grace.
    const old = ipamOfAt(p, Date.now() - 11 * 60_000);
    const stale = await old.requestAddress('lan', 'web-test-9');
    const result = await releaseService(p.context, 'web', 'dev', { ...options(), image: 'berth/web:v2' });
    assert.deepEqual([result.status, result.release], ['succeeded', 2]);
    assert.deepEqual((await journal(p, result.rollout)).steps, [
      { op: 'addresses', network: 'lan', stale: [stale.ip] },
      { op: 'front-door' },
      planned(p, 'web', 2, 'v2'),
      { op: 'pull', hosts: ['h2'] },
      { op: 'drain', slots: ['web-dev-1'] },
      { op: 'replace', slots: ['web-dev-1'] },
      { op: 'drain', slots: ['web-dev-2'] },
      { op: 'replace', slots: ['web-dev-2'] },
      { op: 'converge', replicas: 2 },
    ]);
    const after = (await ipamOf(p.context).allocations('lan')).find((a) => a.ip === stale.ip);
    assert.equal(after?.state, 'quarantined');
    assert.deepEqual((await p.containers('web')).map((c) => [c.labels['berth.instance'], c.image, c.running]), [
      ['web-dev-1', p.images.v2, true],
      ['web-dev-2', p.images.v2, true],
    ]);
  });

  it('a deploy: no front door; the network is there and the image too, so only its release row and the instances', async () => {
    const result = await deployService(p.context, 'api', 'dev', { image: 'berth/web:v1', timeoutMs: 10_000 });
    assert.equal(result.release, 1);
    const view = await journal(p, result.deployment);
    assert.deepEqual(view.steps, [planned(p, 'api', 1, 'v1'), { op: 'create', slots: ['api-dev-1', 'api-dev-2'] }, { op: 'converge', replicas: 2 }]);
    assert.equal((await releaseOf(p.db, 'api', 1))?.imageId, p.images.v1);
  });

  it('gathering and planning read only: the store and every engine are as they were, and the plan is every step', async () => {
    const store = storeDump(p);
    const engines = await engineDump(p);
    const environment = environmentOf(p.context.project, 'dev');
    const draft = { service: 'web', number: 3, image: 'web', imageId: p.images.v3!, digest: digestOf(p, 'v3'), repository: 'berth/web', config: settingsOf(p, 'web'), createdAt: 0, createdBy: 'test' };
    const ctx = await contextFor(p.context, draft, environment, options());
    const plan = planRollout(
      await gatherRollout(ctx, {
        door: true,
        record: { ...draft },
        plan: async (c) => ({ target: 3, phase: 'forward', steps: planRolling('web', 'dev', 2, await slotStates(c), c.service.rollout) }),
      }),
    );
    assert.deepEqual(plan.steps.map((s) => s.op), ['front-door', 'record-release', 'pull', 'drain', 'replace', 'drain', 'replace', 'converge']);
    assert.deepEqual(plan.steps[2], { op: 'pull', hosts: ['h2'] });
    assert.deepEqual(storeDump(p), store, 'the store changed');
    assert.deepEqual(await engineDump(p), engines, 'an engine changed');
    assert.equal(await leaseOf(p.db, 'web', 'dev'), undefined);
  });

  it('two environments of one service planning a new release at once: the second to journal gets a conflict, nothing half-written', async () => {
    const before = (await releasesOf(p.db, 'web')).map((r) => r.number);
    const rolloutsBefore = (await rolloutsOf(p.db, 'web')).length;
    let inTest: number | undefined;
    const draft = { service: 'web', number: 0, image: 'web', imageId: p.images.v3!, digest: digestOf(p, 'v3'), repository: 'berth/web', config: settingsOf(p, 'web'), createdAt: 0, createdBy: 'test' };
    const racing = rollout(
      p.context,
      'dev',
      {
        kind: 'release',
        release: draft,
        recordNew: true,
        previous: 2,
        forced: false,
        // While dev plans (its number reserved in its plan, not journaled yet), a deploy of another build records that number in test.
        plan: async (c) => {
          inTest = (await deployService(p.context, 'web', 'test', { image: 'berth/web:v4', timeoutMs: 10_000 })).release;
          return { target: c.release.number, phase: 'forward', steps: planRolling('web', 'dev', 2, await slotStates(c), c.service.rollout) };
        },
      },
      options(),
    );
    await assert.rejects(racing, (e: BerthError) => {
      assert.equal(e.kind, 'conflict');
      assert.equal(e.message, `the release of web to dev planned release number 3, but release 3 of web was recorded meanwhile`);
      assert.equal(e.fix, 'run the command again: it plans the release under a new number');
      return true;
    });
    assert.equal(inTest, 3);
    assert.deepEqual((await releasesOf(p.db, 'web')).map((r) => [r.number, r.imageId]), [[3, p.images.v4], ...before.map((n) => [n, n === 1 ? p.images.v1 : p.images.v2])]);
    assert.equal((await rolloutsOf(p.db, 'web')).length, rolloutsBefore + 1, 'only the deploy in test was journaled');
    assert.equal(await currentRelease(p.db, 'web', 'dev'), 2);
    assert.equal(await leaseOf(p.db, 'web', 'dev'), undefined);
    // Run again, it plans the next number.
    const again = await releaseService(p.context, 'web', 'dev', { ...options(), image: 'berth/web:v3' });
    assert.deepEqual([again.status, again.release, again.created.imageId], ['succeeded', 4, p.images.v3]);
  });
});

/** IPAM with its clock at `at`. */
function ipamOfAt(p: FakeProject, at: number): Ipam {
  return new Ipam(p.db, ipamOf(p.context).pools, () => at);
}

const TAKEN = 'front door: port 18080 on 127.0.0.1 is taken by another process';

/** A front door whose port another process holds: starting it fails as HAProxy's does. */
class TakenDoor extends FakeDoor {
  syncs = 0;
  override async sync(_servers: DoorServer[]): Promise<void> {
    this.syncs++;
    throw conflict(TAKEN, { fix: 'free the port, or set lb_port in berth.yaml' });
  }
}

describe('a rollout whose preparing step fails: journaled, ended failed, with the error as the command gave it before', () => {
  let p: FakeProject;
  before(async () => {
    p = await fakeProject('plan-once-fail-on-fake', { push: true, config });
    await remember(p);
  });
  after(async () => p.close());

  it('a network the engine refuses: nothing else is written, the rollout ends failed, the release only reserved', async () => {
    // The engine of h2 refuses the create as Docker does (a 500, mapped to Berth's category as every engine call is).
    const h2 = p.engines.get('h2')!;
    const create = h2.networks.create.bind(h2.networks);
    h2.networks.create = (body) => guard(h2.endpoint, `create network ${body.Name}`, () => Promise.reject(new EngineCallError(500, 'failed to create the network (a fault the test injected)')));
    let refusal: BerthError | undefined;
    const door = new FakeDoor();
    let synced = false;
    const watched: Door = Object.assign(Object.create(door) as FakeDoor, { sync: async (s: DoorServer[]) => ((synced = true), door.sync(s)) });
    try {
      await assert.rejects(releaseService(p.context, 'web', 'dev', { door: watched, timeoutMs: 10_000, image: 'berth/web:v1' }), (e: BerthError) => {
        assert.equal(e.kind, 'failed');
        assert.match(e.message, /failed to create the network \(a fault the test injected\)/);
        refusal = e;
        return true;
      });
    } finally {
      h2.networks.create = create;
    }
    const [failedRollout] = await rolloutsOf(p.db, 'web', 'dev');
    assert.ok(failedRollout);
    assert.deepEqual(await journal(p, failedRollout.id), {
      kind: 'release',
      release: 1,
      status: 'failed',
      done: 0,
      steps: [{ op: 'networks', hosts: ['h1', 'h2'] }, { op: 'front-door' }, planned(p, 'web', 1, 'v1'), { op: 'pull', hosts: ['h2'] }, { op: 'create', slots: ['web-dev-1', 'web-dev-2'] }, { op: 'converge', replicas: 2 }],
    });
    assert.equal(failedRollout.message, `failed before changing any instance: ${refusal!.message}`);
    assert.equal(synced, false, 'the front door was started');
    assert.deepEqual(await releasesOf(p.db, 'web'), [], 'a release was recorded');
    assert.deepEqual(await ipamOf(p.context).allocations('lan'), []);
    assert.deepEqual(await p.containers('web'), []);
    assert.equal(await leaseOf(p.db, 'web', 'dev'), undefined);

    // Run again: the number the failed rollout reserved stays its own, so this release is 2.
    const again = await releaseService(p.context, 'web', 'dev', { door, timeoutMs: 10_000, image: 'berth/web:v1' });
    assert.deepEqual([again.status, again.release], ['succeeded', 2]);
    assert.deepEqual((await releasesOf(p.db, 'web')).map((r) => r.number), [2]);
  });

  it('a scale whose front door cannot start: the count it asked for is never recorded (its step comes last of those that prepare)', async () => {
    const door = new TakenDoor();
    await assert.rejects(scaleService(p.context, 'web', 'dev', 3, { door, timeoutMs: 10_000 }), { kind: 'conflict', message: TAKEN });
    const [failedScale] = await rolloutsOf(p.db, 'web', 'dev');
    assert.deepEqual([failedScale?.kind, failedScale?.status, failedScale?.done], ['scale', 'failed', 0]);
    assert.deepEqual((await journal(p, failedScale!.id)).steps.map((s) => s.op), ['front-door', 'scale', 'create', 'converge']);
    assert.equal(await scaleOf(p.db, 'web', 'dev'), undefined, 'the scale was recorded');
    assert.deepEqual((await p.containers('web')).map((c) => c.labels['berth.instance']), ['web-dev-1', 'web-dev-2']);
  });

  it('a front door port taken: the conflict as before, no release recorded, no instance', async () => {
    const door = new TakenDoor();
    await assert.rejects(releaseService(p.context, 'api', 'dev', { door, timeoutMs: 10_000, image: 'berth/web:v2' }), {
      kind: 'conflict',
      message: TAKEN,
    });
    assert.equal(door.syncs, 1);
    const [failedRollout] = await rolloutsOf(p.db, 'api', 'dev');
    assert.deepEqual([failedRollout?.status, failedRollout?.done, failedRollout?.message], ['failed', 0, `failed before changing any instance: ${TAKEN}`]);
    assert.deepEqual(await releasesOf(p.db, 'api'), []);
    assert.deepEqual(await p.containers('api'), []);
    assert.equal(await leaseOf(p.db, 'api', 'dev'), undefined);
  });
});
