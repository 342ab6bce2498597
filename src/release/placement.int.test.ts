/**
 * Integration, through the real `berth` command on the local engine: a service
 * that reserves more memory than the host has is refused as a conflict (exit 4)
 * naming the host and what it has free, before anything is journaled or
 * started; one that fits deploys as before, with its capacity read from the engine.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { buildProject } from '../imaging/builder.js';
import { loadProject } from '../config/project.js';
import { openStore, type Store, closeStore, sqliteOf } from '../store/db.js';
import { rolloutsOf } from '../store/releases.js';
import { berthOn, showOutcome } from '../testing/cli.js';
import { makeFixture, tinyRootTarball, type Fixture } from '../testing/fixture.js';
import type { RunContext } from '../runtime/context.js';
import { Hosts } from '../runtime/hosts.js';
import { listInstances } from '../runtime/instances.js';
import { RUN_LABELS } from '../runtime/labels.js';
import { removeInstances } from './operate.js';

describe('placement in a rollout, on the local engine', () => {
  let fixture: Fixture;
  let db: Store;
  const context = (): RunContext => {
    const project = loadProject(fixture.dir, fixture.env);
    return { project, db, hosts: new Hosts(project, fixture.engine), env: fixture.env };
  };

  before(async () => {
    fixture = await makeFixture(
      {
        base: { settings: { root: { tarball: await tinyRootTarball() } } },
        web: { settings: { from: 'base', command: ['busybox', 'httpd', '-f', '-p', '8080', '-h', '/'] } },
      },
      {
        services: {
          huge: { image: 'web', ports: [8080], resources: { memory: '100000g' } },
          small: { image: 'web', ports: [8080], resources: { memory: '64m' }, health: { tcp: 8080, interval: '1s' } },
        },
        environments: { dev: {} },
      },
    );
    db = await openStore(context().project.stateDir);
    const summary = await buildProject(context().project, fixture.engine, db, { env: fixture.env });
    assert.deepEqual(summary.failed, []);
  });

  after(async () => {
    if (!fixture) return;
    const left = await listInstances(context(), { environment: 'dev' }).catch(() => []);
    if (left.length > 0) await removeInstances(context(), left, 'dev').catch(() => {});
    await (db && await closeStore(db));
    await fixture.cleanup();
  });

  it('refuses a service the host has no room for, naming the host, and changes nothing', async () => {
    const refused = await berthOn(fixture, ['deploy', 'huge', '--env', 'dev']);
    assert.equal(refused.code, 4, showOutcome(refused));
    assert.match(refused.stderr, /error \(conflict\): service huge in dev needs room for 1 more instance\(s\) with 100000 GiB free; hosts of dev: local \([\d.]+ (GiB|MiB) free\)/);
    assert.match(refused.stderr, /fix: add hosts to environments\.dev\.hosts/);
    assert.deepEqual(await rolloutsOf(db, 'huge', 'dev'), []);
    assert.deepEqual(sqliteOf(db).prepare('SELECT * FROM leases WHERE service = ?').all('huge'), []);
    assert.deepEqual(await fixture.engine.containers.summaries([`${RUN_LABELS.project}=${fixture.name}`, `${RUN_LABELS.service}=huge`]), []);
  });

  it('deploys a service that fits', async () => {
    const deployed = await berthOn(fixture, ['deploy', 'small', '--env', 'dev']);
    assert.equal(deployed.code, 0, showOutcome(deployed));
    const instances = await listInstances(context(), { environment: 'dev', service: 'small' });
    assert.deepEqual(instances.map((i) => [i.slot, i.host]), [['small-dev-1', 'local']]);
  });
});
