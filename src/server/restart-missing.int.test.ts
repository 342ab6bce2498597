/**
 * berth restart of a service one of whose containers was removed by hand, in-process and
 * through a real `berth server` (its reconciler off, or it would recreate the container
 * itself first): the missing slot comes back on its address through a rollout, which the
 * server answers with its id and the CLI follows, then the other instance restarts; both
 * front doors print the same lines (addresses and the project's name left out) and exit 0.
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
type Mode = 'in-process' | 'server';

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

describe('berth restart recreates a missing instance, then restarts the others, the same in-process and through a server', () => {
  const fixtures = {} as Record<Mode, Fixture>;
  let server: TestServer;
  const lines: Record<Mode, string[]> = { 'in-process': [], server: [] };

  before(async () => {
    fixtures['in-process'] = await project();
    fixtures.server = await project();
    server = await startTestServer(fixtures.server.dir, fixtures.server.env, ['--reconcile-interval', '0s']);
    const applied = await berthOn(fixtures.server, ['apply'], { env: server.envFor(fixtures.server.env) });
    assert.equal(applied.code, 0, showOutcome(applied));
  });
  after(async () => {
    await server?.stop();
    await Promise.all(Object.values(fixtures).map((f) => f.cleanup()));
  });

  const berth = (mode: Mode, args: string[]): Promise<CliOutcome> => berthOn(fixtures[mode], args, mode === 'server' ? { env: server.envFor(fixtures.server.env) } : {});
  const ps = async (mode: Mode) => {
    const o = await berth(mode, ['ps', '--env', 'dev', '--json']);
    assert.equal(o.code, 0, showOutcome(o));
    return (JSON.parse(o.stdout) as { instances: { slot: string; id: string; state: string; ip?: string }[] }).instances;
  };

  for (const mode of ['in-process', 'server'] as const) {
    it(mode, async () => {
      for (const args of [['release', 'web', '--env', 'dev'], ['scale', 'web=2', '--env', 'dev']]) {
        const o = await berth(mode, args);
        assert.equal(o.code, 0, showOutcome(o));
      }
      const [first, second] = await ps(mode);
      await fixtures[mode].engine.containers.remove(first!.id);
      const shown = await ps(mode);
      assert.deepEqual(shown.map((i) => [i.slot, i.state]), [['web-dev-1', 'missing'], ['web-dev-2', 'running']]);
      // The address the store records for the slot (none on a nat network): where it comes back.
      const recorded = shown[0]!.ip;

      const restart = await berth(mode, ['restart', 'web', '--env', 'dev']);
      assert.equal(restart.code, 0, showOutcome(restart));
      const out = restart.stdout.trim().split('\n');
      assert.ok(out.includes(`✓ web-dev-1: recreated on its slot${recorded ? ` (${recorded})` : ''}, healthy`), restart.stdout);
      assert.equal(out.at(-1), '✓ web-dev-2: restarted, healthy');
      const now = await ps(mode);
      assert.deepEqual(now.map((i) => [i.slot, i.state]), [['web-dev-1', 'running'], ['web-dev-2', 'running']]);
      assert.notEqual(now[0]!.id, first!.id);
      assert.equal(now[1]!.id, second!.id, 'web-dev-2 restarted in place');
      assert.ok(out.some((line) => /^\[\d+\/\d+\] create web-dev-1$/.test(line)), restart.stdout);
      lines[mode] = out.map((line) => line.split(fixtures[mode].name).join('<project>').replace(/\d+\.\d+\.\d+\.\d+(:\d+)?/g, '<address>').replace(/\d+ ms/g, '<n> ms'));
      assert.ok(lines[mode].length > 2);
    });
  }

  it('both front doors printed the same lines', () => {
    assert.deepEqual(lines.server, lines['in-process']);
  });
});
