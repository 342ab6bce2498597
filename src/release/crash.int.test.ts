/**
 * Integration: crash safety of rollouts, with a real engine and a real kill. The real `berth`
 * CLI rolls a release out to 2 instances on a flat network behind their HAProxy front door,
 * and kills itself (SIGKILL; src/testing/berth-killed-at.ts) at a checkpoint. After the kill,
 * the next command on the service and environment (`berth scale web=2`) must say that it
 * found the interrupted rollout and resumes it, and leave everything converged: exactly the
 * 2 slots running the release the history says the environment runs, no set-aside or surplus
 * containers, IPAM holding exactly their addresses, Docker's network holding exactly their
 * endpoints, the front door holding exactly them, ready, no lock, no rollout left running,
 * and the service answering through its front door.
 *
 * Only two representative kill points run here, where a real engine and a real process
 * matter most: mid-replace (the old container renamed aside, still running and holding the
 * slot's address) and after the start, before the health check passed. The third state a
 * kill leaves on a real engine, mid-create (a container created, never started), is
 * release/deploy-rollout.int.test.ts's: a deploy and a release resume on the same executor.
 * Every checkpoint of a release in turn (26 of them), with the same end-state checks, runs on
 * the FakeEngine in rollout/crash-on-fake.test.ts, where the "kill" is a checkpoint that
 * never returns (fault.ts).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { buildProject } from '../imaging/builder.js';
import { loadProject } from '../config/project.js';
import type { RunContext } from '../runtime/context.js';
import { Hosts } from '../runtime/hosts.js';
import { listInstances } from '../runtime/instances.js';
import { doorContainerName } from '../lb/door-container.js';
import { RUN_LABELS } from '../runtime/labels.js';
import { asideName, containerName } from '../runtime/slots.js';
import { removeInstances } from './operate.js';
import { recordedDoorStatus } from '../rollout/front-door.js';
import { removeNetwork } from '../network/docker-network.js';
import { openStore, type Store, closeStore, sqliteOf } from '../store/db.js';
import { currentRelease, frontDoorPort, openRollout, releaseOf, releasesOf, rolloutsOf } from '../store/releases.js';
import { berthOn, showOutcome, type CliOutcome } from '../testing/cli.js';
import { assertSlotsHoldTheirAddresses } from '../testing/crash-assertions.js';
import { makeFixture, tinyRootTarball, type Fixture } from '../testing/fixture.js';
import { randomTestPrefix } from '../testing/test-subnet.js';

const run = promisify(execFile);
/** Two slots: each kill lands in the first one's replacement; the second shows what a kill leaves untouched. */
const SLOTS = ['web-dev-1', 'web-dev-2'];
/**
 * Where a release of 2 instances, one at a time, is killed: the n-th checkpoint it passes
 * (the order rollout/crash-on-fake.test.ts lists: step (front-door), step (record-release),
 * step (drain), step (replace), renamed, replace, launch, created, started, healthy, …), and
 * the containers the kill must leave there (so a change in the order fails here instead of
 * killing somewhere else unnoticed).
 */
const KILL_POINTS: { n: number; at: string; left: (slot1: string, aside1: string) => string[] }[] = [
  { n: 5, at: 'mid-replace: the old instance renamed aside, still running', left: (_s, aside) => [`${aside}:running`] },
  { n: 9, at: 'started, not yet healthy', left: (slot, aside) => [`${aside}:exited`, `${slot}:running`] },
];

describe('a rollout killed at each of its checkpoints in turn', () => {
  let fixture: Fixture;
  let db: Store;
  let bridge: string;
  let prefix: string;
  const images: Record<'A' | 'B', string> = { A: '', B: '' };
  const page = (v: string) => `#!/bin/sh\nmkdir -p /www\necho "hello ${v}" > /www/index.html\n`;
  const context = (): RunContext => {
    const project = loadProject(fixture.dir, fixture.env);
    return { project, db, hosts: new Hosts(project, fixture.engine), env: fixture.env };
  };
  const stateDir = () => context().project.stateDir;

  /** The CLI on the fixture's project; with `killAt`, it kills itself at that checkpoint. */
  const berth = (args: string[], killAt?: number): Promise<CliOutcome> => berthOn(fixture, args, killAt === undefined ? {} : { killAt });
  const show = showOutcome;

  before(async () => {
    prefix = randomTestPrefix();
    bridge = `bc${randomBytes(3).toString('hex')}`;
    fixture = await makeFixture(
      {
        base: { settings: { root: { tarball: await tinyRootTarball() } } },
        web: { settings: { from: 'base', command: ['busybox', 'httpd', '-f', '-p', '8080', '-h', '/www'] }, static: page('A') },
      },
      {
        networks: {
          lan: { mode: 'flat', bridge, subnet: `${prefix}.0/24`, gateway: `${prefix}.1`, range: `${prefix}.10-${prefix}.20`, create_bridge: true, quarantine: '0s' },
        },
        services: {
          web: { image: 'web', ports: [8080], health: { http: '/', interval: '2s', timeout: '1s', unhealthy_after: 3 }, rollout: { batch_size: 1, drain: '1s' } },
        },
        environments: { dev: { network: 'lan', lb_address: '127.0.0.1', services: { web: { replicas: 2 } } } },
      },
    );
    db = await openStore(stateDir());
    // Two builds of web up front: every rollout below alternates between them.
    for (const version of ['A', 'B'] as const) {
      fixture.write('images/web/static.sh', page(version), 0o755);
      const summary = await buildProject(context().project, fixture.engine, db, { env: fixture.env, only: ['web'] });
      assert.deepEqual(summary.failed, []);
      images[version] = [...summary.built, ...summary.upToDate].find((b) => b.name === 'web')!.imageId;
    }
    assert.notEqual(images.A, images.B);
  });

  after(async () => {
    if (!fixture) return;
    const left = await listInstances(context(), { environment: 'dev' }).catch(() => []);
    if (left.length > 0) await removeInstances(context(), left, 'dev').catch(() => {});
    for (const network of ['lan', 'nat']) await removeNetwork(fixture.engine, `berth-${fixture.name}-${network}`).catch(() => {});
    await run('ip', ['link', 'delete', bridge]).catch(() => {});
    await (db && await closeStore(db));
    await fixture.cleanup();
  });

  /** Everything the requirement calls converged, for the release the history says dev runs. */
  async function assertConverged(label: string, expectedImage: string): Promise<void> {
    const ctx = context();
    // The store: no lock, nothing running, and the release dev runs is the one we asked for.
    const leases = sqliteOf(db).prepare('SELECT * FROM leases WHERE service = ? AND environment = ?').all('web', 'dev');
    assert.deepEqual(leases, [], `${label}: a lease row is left`);
    assert.equal(await openRollout(db, 'web', 'dev'), undefined, `${label}: a rollout is still open`);
    assert.deepEqual((await rolloutsOf(db, 'web', 'dev')).filter((r) => r.status === 'running'), [], `${label}: a rollout is still running`);
    const current = await currentRelease(db, 'web', 'dev');
    assert.ok(current !== undefined, `${label}: dev runs no release`);
    const release = (await releaseOf(db, 'web', current))!;
    assert.equal(release.imageId, expectedImage, `${label}: dev runs release ${current}, not the one rolled out`);

    // The engine: exactly the 2 slots, running, under their own names, all on that release's image, and the front door.
    const all = await fixture.engine.containers.summaries([`${RUN_LABELS.project}=${fixture.name}`]);
    assert.deepEqual(
      all.map((c) => c.name).sort(),
      [doorContainerName(fixture.name, 'dev-web'), ...SLOTS.map((slot) => containerName(fixture.name, slot))].sort(),
      `${label}: containers ${all.map((c) => `${c.name} (${c.state})`).join(', ')}`,
    );
    const instances = await assertSlotsHoldTheirAddresses(ctx, fixture.engine, SLOTS, release.imageId, label);
    // Docker's side of the addresses: the network has exactly these endpoints.
    const network = await fixture.raw.json<{ Containers: Record<string, { IPv4Address: string; MacAddress: string }> }>('GET', `/networks/berth-${fixture.name}-lan`);
    assert.deepEqual(
      Object.entries(network.Containers ?? {}).map(([id, e]) => [id, e.IPv4Address.split('/')[0]]).sort(),
      instances.map((i) => [i.id, i.ip]).sort(),
      `${label}: Docker network endpoints`,
    );

    // The front door: exactly the 2 slots at their current addresses, ready.
    const port = await frontDoorPort(db, 'web', 'dev');
    assert.ok(port, `${label}: no front door port recorded`);
    const door = (await recordedDoorStatus(ctx, 'web', 'dev'))!;
    assert.ok(door.running, `${label}: the front door does not run`);
    assert.equal(door.problem, undefined, `${label}: ${door.problem}`);
    assert.deepEqual(
      door.servers.map((s) => [s.name, s.address, s.state]).sort(),
      instances.map((i) => [i.slot, `${i.ip}:8080`, 'ready']).sort(),
      `${label}: front door servers ${JSON.stringify(door.servers.map((s) => [s.name, s.address, s.status, s.weight]))}`,
    );
    assert.ok(door.servers.every((s) => s.weight > 0), `${label}: a server has weight 0`);

    // It answers through the front door, with the version that runs.
    const version = expectedImage === images.A ? 'A' : 'B';
    for (let i = 0; i < 6; i++) {
      const answer: Response = await fetch(`http://${port.address}:${port.port}/`, { signal: AbortSignal.timeout(5000) });
      assert.equal(answer.status, 200, `${label}: the front door answered ${answer.status}`);
      assert.equal((await answer.text()).trim(), `hello ${version}`, `${label}: answer through the front door`);
    }
  }

  it('after a kill at a representative checkpoint, the next command resumes the rollout and everything converges', async (t) => {
    const started = Date.now();
    const first = await berth(['release', 'web', '--env', 'dev', '--image', images.A]);
    assert.equal(first.code, 0, show(first));
    await assertConverged('first release', images.A);

    let running: 'A' | 'B' = 'A';
    for (const { n, at, left } of KILL_POINTS) {
      const next: 'A' | 'B' = running === 'A' ? 'B' : 'A';
      const releasesBefore = (await releasesOf(db, 'web')).length;
      const killed = await berth(['release', 'web', '--env', 'dev', '--image', images[next]], n);
      assert.equal(killed.signal, 'SIGKILL', `kill ${n} (${at}): ${show(killed)}`);
      assert.equal((await releasesOf(db, 'web')).length, releasesBefore + 1, `kill ${n}: the release was not recorded`);
      // What the kill left: the journal of a rollout still running, under a lock whose holder is gone.
      const journal = await openRollout(db, 'web', 'dev');
      assert.ok(journal && journal.status === 'running', `kill ${n}: no running rollout in the journal`);
      const lock = sqliteOf(db).prepare('SELECT pid FROM leases WHERE service = ? AND environment = ?').get('web', 'dev') as { pid: number } | undefined;
      assert.ok(lock, `kill ${n}: no lock row`);
      assert.throws(() => process.kill(lock.pid, 0), `kill ${n}: the lock's holder ${lock.pid} still runs`);
      // The instances (the front door stays up throughout: assertConverged checks it).
      const containers = (await fixture.engine.containers.summaries([`${RUN_LABELS.project}=${fixture.name}`, RUN_LABELS.instance])).map((c) => `${c.name}:${c.state}`);
      const slot1 = containerName(fixture.name, SLOTS[0]!);
      const expected = [...left(slot1, asideName(fixture.name, SLOTS[0]!)), ...SLOTS.slice(1).map((s) => `${containerName(fixture.name, s)}:running`)];
      assert.deepEqual(containers.sort(), expected.sort(), `kill ${n}: not killed ${at}`);

      const recovered = await berth(['scale', 'web=2', '--env', 'dev']);
      assert.equal(recovered.code, 0, `kill ${n} (${at}): recovery failed\n${show(recovered)}`);
      const note = recovered.stdout.split('\n').find((l) => /interrupted/.test(l));
      assert.ok(note, `kill ${n}: the recovery did not say it found the interrupted rollout\n${show(recovered)}`);
      assert.match(note, new RegExp(`rollout #${journal.id} `), `kill ${n}: the recovery names another rollout`);
      assert.match(note, /resumes/, `kill ${n}: the recovery did not say it resumes`);
      // Resumed forward: the killed rollout itself succeeded, then the scale.
      const [scale, resumed] = await rolloutsOf(db, 'web', 'dev');
      assert.equal(scale!.kind, 'scale');
      assert.equal(scale!.status, 'succeeded', `kill ${n}: ${JSON.stringify(scale)}`);
      assert.equal(resumed!.id, journal.id);
      assert.equal(resumed!.kind, 'release');
      assert.equal(resumed!.status, 'succeeded', `kill ${n}: ${JSON.stringify(resumed)}`);
      await assertConverged(`kill ${n} (${at})`, images[next]);
      t.diagnostic(`kill ${n} (${at}): left ${containers.sort().join(' ')}; resumed (${killed.ms + recovered.ms} ms)`);
      running = next;
    }
    t.diagnostic(`${KILL_POINTS.length} kill points, ${Math.round((Date.now() - started) / 1000)} s`);
  });
});
