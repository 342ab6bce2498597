/**
 * Integration: two projects with the same service and environment names run
 * side by side on one engine. Container names carry the project, so each
 * project's release creates its own containers and front door, and removing
 * one project's instances leaves the other's running.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { buildProject } from '../imaging/builder.js';
import { loadProject } from '../config/project.js';
import { removeNetwork } from '../network/docker-network.js';
import { openStore, closeStore } from '../store/db.js';
import { frontDoorPort } from '../store/releases.js';
import { berthOn, showOutcome, type CliOutcome } from '../testing/cli.js';
import { makeFixture, tinyRootTarball, type Fixture } from '../testing/fixture.js';
import { RUN_LABELS } from './labels.js';
import { containerName } from './slots.js';

describe('two projects with the same service and environment names on one engine', () => {
  const fixtures: Fixture[] = [];
  const berth = (fixture: Fixture, args: string[]): Promise<CliOutcome> => berthOn(fixture, args);
  const show = showOutcome;
  const doorOf = async (fixture: Fixture) => {
    const project = loadProject(fixture.dir, fixture.env);
    const db = await openStore(project.stateDir);
    try {
      return await frontDoorPort(db, 'web', 'dev');
    } finally {
      await closeStore(db);
    }
  };

  before(async () => {
    for (const page of ['one', 'two']) {
      const fixture = await makeFixture(
        {
          base: { settings: { root: { tarball: await tinyRootTarball() } } },
          web: { settings: { from: 'base', command: ['busybox', 'httpd', '-f', '-p', '8080', '-h', '/www'] }, static: `#!/bin/sh\nmkdir -p /www\necho "project ${page}" > /www/index.html\n` },
        },
        {
          services: { web: { image: 'web', ports: [8080], replicas: 2, health: { http: '/', interval: '2s' } } },
          environments: { dev: { network: 'nat', lb_address: '127.0.0.1' } },
        },
      );
      fixtures.push(fixture);
      const project = loadProject(fixture.dir, fixture.env);
      const db = await openStore(project.stateDir);
      const summary = await buildProject(project, fixture.engine, db, { env: fixture.env }).finally(() => closeStore(db));
      assert.deepEqual(summary.failed, []);
    }
  });

  after(async () => {
    for (const fixture of fixtures) {
      await berth(fixture, ['rm', 'web', '--env', 'dev']).catch(() => undefined);
      await removeNetwork(fixture.engine, `berth-${fixture.name}-nat`).catch(() => {});
      await fixture.cleanup();
    }
  });

  it('each releases web to dev beside the other, under its own container names, and answers through its own front door', async () => {
    for (const fixture of fixtures) {
      const released = await berth(fixture, ['release', 'web', '--env', 'dev']);
      assert.equal(released.code, 0, show(released));
    }
    for (const [index, fixture] of fixtures.entries()) {
      // The instances (the project's front door is a container of it too, asked for below).
      const containers = await fixture.engine.containers.summaries([`${RUN_LABELS.project}=${fixture.name}`, RUN_LABELS.instance]);
      assert.deepEqual(
        containers.map((c) => [c.name, c.state]).sort(),
        ['web-dev-1', 'web-dev-2'].map((slot) => [containerName(fixture.name, slot), 'running']),
      );
      const door = await doorOf(fixture);
      assert.ok(door, `${fixture.name}: no front door`);
      const answer = await fetch(`http://${door.address}:${door.port}/`, { signal: AbortSignal.timeout(5000) });
      assert.equal((await answer.text()).trim(), `project ${index === 0 ? 'one' : 'two'}`);
    }
  });

  it("removing one project's instances leaves the other's running", async () => {
    const [one, two] = fixtures as [Fixture, Fixture];
    const removed = await berth(one, ['rm', 'web', '--env', 'dev']);
    assert.equal(removed.code, 0, show(removed));
    assert.deepEqual(await one.engine.containers.summaries([`${RUN_LABELS.project}=${one.name}`]), []);
    const ps = await berth(two, ['ps', '--env', 'dev', '--json']);
    assert.equal(ps.code, 0, show(ps));
    const instances = (JSON.parse(ps.stdout) as { instances: { slot: string; state: string }[] }).instances;
    assert.deepEqual(instances.map((i) => [i.slot, i.state]), [['web-dev-1', 'running'], ['web-dev-2', 'running']]);
  });
});
