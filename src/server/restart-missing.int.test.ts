/**
 * berth restart of a service one of whose containers was removed by hand, through a real
 * `berth server` (its reconciler off, or it would recreate the container itself first): the
 * missing slot comes back on its address through a rollout, which the server answers with its
 * id and the CLI follows, then the other instance restarts; it prints the lines the in-process
 * command prints (release/restart-on-fake.test.ts asserts the same lines for the in-process
 * command on the FakeEngine; the logic of the recreation and the restarts is tested there too)
 * and exits 0.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { buildProject } from '../imaging/builder.js';
import { loadProject } from '../config/project.js';
import { closeStore, openStore } from '../store/db.js';
import { berthOn, showOutcome, type CliOutcome } from '../testing/cli.js';
import { makeFixture, tinyRootTarball, type Fixture } from '../testing/fixture.js';
import { startTestServer, type TestServer } from '../testing/server.js';

const page = '#!/bin/sh\nmkdir -p /www\necho "hello" > /www/index.html\necho ok > /www/health.html\n';
async function project(): Promise<Fixture> {
  const fixture = await makeFixture(
    {
      base: { settings: { root: { tarball: await tinyRootTarball() } } },
      web: { settings: { from: 'base', command: ['busybox', 'httpd', '-f', '-p', '8080', '-h', '/www'] }, static: page },
    },
    {
      services: { web: { image: 'web', ports: [8080], health: { http: '/health.html', interval: '2s', timeout: '1s', unhealthy_after: 3 }, stop_grace: '1s', rollout: { batch_size: 1, drain: '1s' } } },
      environments: { dev: { network: 'nat', lb_address: '127.0.0.1' } },
      pipeline: ['dev'],
    },
  );
  const db = await openStore(loadProject(fixture.dir, fixture.env).stateDir);
  try {
    assert.deepEqual((await buildProject(loadProject(fixture.dir, fixture.env), fixture.engine, db, { env: fixture.env })).failed, []);
  } finally {
    await closeStore(db);
  }
  return fixture;
}

describe('berth restart through a server recreates a missing instance, then restarts the others', () => {
  let fixture: Fixture;
  let server: TestServer;

  before(async () => {
    fixture = await project();
    server = await startTestServer(fixture.dir, fixture.env, ['--reconcile-interval', '0s']);
    const applied = await berthOn(fixture, ['apply'], { env: server.envFor(fixture.env) });
    assert.equal(applied.code, 0, showOutcome(applied));
  });
  after(async () => {
    await server?.stop();
    await fixture?.cleanup();
  });

  const berth = (args: string[]): Promise<CliOutcome> => berthOn(fixture, args, { env: server.envFor(fixture.env) });
  const ps = async () => {
    const o = await berth(['ps', '--env', 'dev', '--json']);
    assert.equal(o.code, 0, showOutcome(o));
    return (JSON.parse(o.stdout) as { instances: { slot: string; id: string; state: string; ip?: string }[] }).instances;
  };

  it('the missing slot comes back through a rollout the CLI follows, the other restarts in place, and it prints what the in-process command prints', async () => {
    for (const args of [['release', 'web', '--env', 'dev'], ['scale', 'web=2', '--env', 'dev']]) {
      const o = await berth(args);
      assert.equal(o.code, 0, showOutcome(o));
    }
    const [first, second] = await ps();
    await fixture.engine.containers.remove(first!.id);
    const shown = await ps();
    assert.deepEqual(shown.map((i) => [i.slot, i.state]), [['web-dev-1', 'missing'], ['web-dev-2', 'running']]);
    // No address recorded for the slot on a nat network: it comes back on its slot, with none to name.
    assert.ok(!shown[0]!.ip, JSON.stringify(shown[0]));

    const restart = await berth(['restart', 'web', '--env', 'dev']);
    assert.equal(restart.code, 0, showOutcome(restart));
    const now = await ps();
    assert.deepEqual(now.map((i) => [i.slot, i.state]), [['web-dev-1', 'running'], ['web-dev-2', 'running']]);
    assert.notEqual(now[0]!.id, first!.id);
    assert.equal(now[1]!.id, second!.id, 'web-dev-2 restarted in place');
    // The lines release/restart-on-fake.test.ts asserts for the in-process command.
    assert.deepEqual(
      restart.stdout.trim().split('\n').map((line) => line.replace(/\d+ ms/g, '<n> ms')),
      [
        '[1/3] front door up with the running instances',
        '[2/3] create web-dev-1',
        '  web-dev-1: starting',
        '  web-dev-1: healthy in <n> ms, in the front door',
        '[3/3] converge on 2 instance(s)',
        '✓ web-dev-1: recreated on its slot, healthy',
        '✓ web-dev-2: restarted, healthy',
      ],
      restart.stdout,
    );
  });
});
