/**
 * Integration, through the real `berth` command: a deploy is a rollout on the
 * journaled, locked executor. Killed (SIGKILL, src/testing/berth-killed-at.ts) at a
 * representative checkpoint, the next `berth deploy` says it found the
 * interrupted deploy, resumes it and leaves everything converged; two deploys
 * of one service and environment at once are serialised (the second is
 * refused, naming the first); a first release that fails leaves no front door
 * behind, so `berth deploy` of that service works afterwards.
 *
 * One kill point runs here: mid-create (a container created, never started). The
 * other states a kill leaves on a real engine, mid-replace (the old container renamed
 * aside, still running and holding the slot's address) and after the start, before
 * the health check passed, are release/crash.int.test.ts's: a release and a deploy
 * resume on the same executor. Every checkpoint of a deploy in turn (15 of them), with
 * the same end-state checks, runs on the FakeEngine in release/deploy-crash-on-fake.test.ts.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { buildProject } from '../imaging/builder.js';
import { loadProject } from '../config/project.js';
import { doorContainerName } from '../lb/door-container.js';
import { removeNetwork } from '../network/docker-network.js';
import { openStore, type Store, closeStore, sqliteOf } from '../store/db.js';
import { currentRelease, frontDoorPort, openRollout, releaseOf, rolloutsOf } from '../store/releases.js';
import { berthOn, showOutcome, type CliOutcome } from '../testing/cli.js';
import { makeFixture, tinyRootTarball, type Fixture } from '../testing/fixture.js';
import { ipamOf, type RunContext } from '../runtime/context.js';
import { Hosts } from '../runtime/hosts.js';
import { listInstances } from '../runtime/instances.js';
import { RUN_LABELS } from '../runtime/labels.js';
import { removeInstances } from './operate.js';
import { asideName, containerName } from '../runtime/slots.js';
import { randomTestPrefix } from '../testing/test-subnet.js';

const run = promisify(execFile);
const WEB = ['web-dev-1', 'web-dev-2'];
/**
 * Where the deploy is killed (the n-th checkpoint of a deploy to a release that exists, which replaces
 * web-dev-1 then web-dev-2, as deploy-crash-on-fake.test.ts counts them), and the containers of web-dev-1
 * the kill leaves (web-dev-2 runs the old release throughout).
 */
const KILL_POINTS: { n: number; at: string; left: (slot1: string, aside1: string) => string[] }[] = [
  { n: 5, at: 'mid-create: the new container created, not started', left: (slot, aside) => [`${aside}:exited`, `${slot}:created`] },
];
const HEALTH = { http: '/', interval: '2s' };

describe('berth deploy on the rollout executor', () => {
  let fixture: Fixture;
  let db: Store;
  let bridge: string;
  const images: Record<'A' | 'B' | 'broken', string> = { A: '', B: '', broken: '' };
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
    const prefix = randomTestPrefix();
    bridge = `bd${randomBytes(3).toString('hex')}`;
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
          web: { image: 'web', ports: [8080], replicas: 2, health: HEALTH },
          // Serves only once /tmp/go exists: the test decides when its deploy can finish. Its failed probes
          // until then fall in its start period (as long as the rollout's timeout), so however long the
          // test takes to touch /tmp/go on a busy machine, the deploy waits for it instead of failing.
          gate: { image: 'web', ports: [8080], command: ['sh', '-c', 'while [ ! -e /tmp/go ]; do sleep 0.2; done; exec busybox httpd -f -p 8080 -h /www'], health: { ...HEALTH, start_period: '120s' } },
          site: { image: 'web', ports: [8080], health: HEALTH },
        },
        environments: { dev: { network: 'lan', lb_address: '127.0.0.1' } },
      },
    );
    db = await openStore(stateDir());
    // Two good builds of web, and one whose "/" answers 404 (its health check never passes).
    for (const [version, script] of [['A', page('A')], ['B', page('B')], ['broken', '#!/bin/sh\nmkdir -p /www\n']] as const) {
      fixture.write('images/web/static.sh', script, 0o755);
      const summary = await buildProject(context().project, fixture.engine, db, { env: fixture.env, only: ['web'] });
      assert.deepEqual(summary.failed, []);
      images[version] = [...summary.built, ...summary.upToDate].find((b) => b.name === 'web')!.imageId;
    }
    assert.equal(new Set(Object.values(images)).size, 3);
  });

  after(async () => {
    if (!fixture) return;
    const left = await listInstances(context(), { environment: 'dev' }).catch(() => []);
    if (left.length > 0) await removeInstances(context(), left, 'dev').catch(() => {});
    await removeNetwork(fixture.engine, `berth-${fixture.name}-lan`).catch(() => {});
    await run('ip', ['link', 'delete', bridge]).catch(() => {});
    await (db && await closeStore(db));
    await fixture.cleanup();
  });

  /** Exactly web's 2 slots running `image` under their project-qualified names, IPAM bound to them, nothing left open, no front door. */
  async function assertConverged(label: string, image: string, version: string): Promise<void> {
    assert.deepEqual(sqliteOf(db).prepare('SELECT * FROM leases WHERE service = ?').all('web'), [], `${label}: a lease row is left`);
    assert.equal(await openRollout(db, 'web', 'dev'), undefined, `${label}: a rollout is still open`);
    const current = await currentRelease(db, 'web', 'dev');
    assert.ok(current !== undefined, `${label}: dev runs no release of web`);
    assert.equal((await releaseOf(db, 'web', current))!.imageId, image, `${label}: dev runs release ${current}, not the one deployed`);
    const containers = await fixture.engine.containers.summaries([`${RUN_LABELS.project}=${fixture.name}`, `${RUN_LABELS.service}=web`]);
    assert.deepEqual(
      containers.map((c) => [c.name, c.state]).sort(),
      WEB.map((slot) => [containerName(fixture.name, slot), 'running']),
      `${label}: containers ${containers.map((c) => `${c.name} (${c.state})`).join(', ')}`,
    );
    const instances = await listInstances(context(), { environment: 'dev', service: 'web' });
    for (const i of instances) assert.equal((await fixture.engine.containers.inspect(i.id))!.image, image, `${label}: ${i.slot}'s image`);
    const live = (await ipamOf(context()).allocations('lan')).filter((a) => a.state !== 'quarantined' && a.slot !== null && WEB.includes(a.slot));
    assert.deepEqual(
      live.map((a) => [a.slot, a.state, a.containerId, a.ip]).sort(),
      instances.map((i) => [i.slot, 'bound', i.id, i.ip]).sort(),
      `${label}: IPAM ${JSON.stringify(live)}`,
    );
    assert.equal(await frontDoorPort(db, 'web', 'dev'), undefined, `${label}: a deploy recorded a front door`);
    for (const i of instances) {
      const answer = await fetch(`http://${i.ip ?? "none"}:8080/`, { signal: AbortSignal.timeout(5000) });
      assert.equal((await answer.text()).trim(), `hello ${version}`, `${label}: ${i.slot} at ${i.ip}`);
    }
  }

  it('a deploy killed at a representative checkpoint is resumed by the next berth deploy, and everything converges', async (t) => {
    const first = await berth(['deploy', 'web', '--env', 'dev', '--image', images.A]);
    assert.equal(first.code, 0, show(first));
    assert.match(first.stdout, /deployed web release \d+ to dev .*: 2 instance\(s\) healthy/);
    await assertConverged('first deploy', images.A, 'A');
    // B's release is recorded now (its own record-release step, one checkpoint more): the kills go back and forth between releases that exist.
    const second = await berth(['deploy', 'web', '--env', 'dev', '--image', images.B]);
    assert.equal(second.code, 0, show(second));
    await assertConverged('second deploy', images.B, 'B');

    let running: 'A' | 'B' = 'B';
    for (const { n, at, left } of KILL_POINTS) {
      const next: 'A' | 'B' = running === 'A' ? 'B' : 'A';
      const killed = await berth(['deploy', 'web', '--env', 'dev', '--image', images[next]], n);
      assert.equal(killed.signal, 'SIGKILL', `kill ${n} (${at}): ${show(killed)}`);
      const journal = await openRollout(db, 'web', 'dev');
      assert.ok(journal && journal.status === 'running' && journal.kind === 'deploy', `kill ${n}: no running deploy in the journal`);
      const containers = (await fixture.engine.containers.summaries([`${RUN_LABELS.project}=${fixture.name}`, `${RUN_LABELS.service}=web`])).map((c) => `${c.name}:${c.state}`);
      const expected = [...left(containerName(fixture.name, WEB[0]!), asideName(fixture.name, WEB[0]!)), `${containerName(fixture.name, WEB[1]!)}:running`];
      assert.deepEqual(containers.sort(), expected.sort(), `kill ${n}: not killed ${at}`);

      const recovered = await berth(['deploy', 'web', '--env', 'dev', '--image', images[next]]);
      assert.equal(recovered.code, 0, `kill ${n}: recovery failed\n${show(recovered)}`);
      const note = recovered.stdout.split('\n').find((l) => /interrupted/.test(l));
      assert.ok(note, `kill ${n}: the recovery did not say it found the interrupted deploy\n${show(recovered)}`);
      assert.match(note, new RegExp(`rollout #${journal.id} \\(deploy`), `kill ${n}: the recovery names another rollout`);
      assert.match(note, /resumes/);
      // The resumed deploy reached what the command asked for: its own plan then had nothing to do, and journaled nothing.
      const [resumed] = await rolloutsOf(db, 'web', 'dev');
      assert.deepEqual([resumed!.id, resumed!.kind, resumed!.status], [journal.id, 'deploy', 'succeeded'], `kill ${n}: ${JSON.stringify(resumed)}`);
      await assertConverged(`kill ${n} (${at})`, images[next], next);
      t.diagnostic(`kill ${n} (${at}): left ${containers.sort().join(' ')}; resumed (${killed.ms + recovered.ms} ms)`);
      running = next;
    }
  });

  it('two deploys of one service and environment at once: the second is refused, naming the first, which then finishes', async () => {
    const firstDeploy = berth(['deploy', 'gate', '--env', 'dev', '--image', images.A]);
    // The first one holds the lock while its instance waits for /tmp/go.
    let journal = await openRollout(db, 'gate', 'dev');
    for (let i = 0; i < 600 && !(journal && (await fixture.engine.containers.inspect(containerName(fixture.name, 'gate-dev-1')))?.running); i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      journal = await openRollout(db, 'gate', 'dev');
    }
    assert.ok(journal, 'the first deploy never started its rollout');
    const second = await berth(['deploy', 'gate', '--env', 'dev', '--image', images.A]);
    assert.equal(second.code, 4, show(second));
    assert.match(second.stderr, new RegExp(`error \\(conflict\\): a rollout of gate in dev is in progress: rollout #${journal.id} \\(deploy of release ${journal.release}`));
    await fixture.engine.exec(containerName(fixture.name, 'gate-dev-1'), ['touch', '/tmp/go']);
    const first = await firstDeploy;
    assert.equal(first.code, 0, show(first));
    assert.deepEqual((await rolloutsOf(db, 'gate', 'dev')).map((r) => [r.id, r.kind, r.status]), [[journal.id, 'deploy', 'succeeded']]);
  });

  it('a first release that fails leaves no front door, so berth deploy of the service works afterwards', async () => {
    const release = await berth(['release', 'site', '--env', 'dev', '--image', images.broken, '--timeout', '10s']);
    assert.equal(release.code, 1, show(release));
    assert.match(release.stderr, /instance site-dev-1 did not become healthy/);
    assert.equal(await frontDoorPort(db, 'site', 'dev'), undefined, 'the failed release left a front door row');
    assert.equal(await fixture.engine.containers.inspect(doorContainerName(fixture.name, 'dev-site')), undefined, 'the failed release left its front door container');
    assert.deepEqual(await listInstances(context(), { environment: 'dev', service: 'site' }), []);

    const deploy = await berth(['deploy', 'site', '--env', 'dev', '--image', images.A]);
    assert.equal(deploy.code, 0, show(deploy));
    assert.match(deploy.stdout, /1 instance\(s\) healthy/);
    assert.deepEqual((await rolloutsOf(db, 'site', 'dev')).map((r) => [r.kind, r.status]), [['deploy', 'succeeded'], ['release', 'failed']]);
  });
});
