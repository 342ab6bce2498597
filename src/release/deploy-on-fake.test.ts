/**
 * A whole `berth deploy` of a nat service on the rollout executor, against the FakeEngine: no Docker.
 * It plans, journals, creates the network, launches and gates the instances (a health command the
 * fake's exec answers), replaces them with a new image in rolling batches, and records the release;
 * a create the engine refuses rolls the replacement back, leaving what ran before.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { BerthError } from '../errors.js';
import type { Store } from '../store/db.js';
import { currentRelease, releaseOf, releasesOf } from '../store/releases.js';
import { allRefs } from '../store/refs.js';
import { ipamOf } from '../runtime/context.js';
import { listInstances } from '../runtime/instances.js';
import type { FakeEngine } from '../testing/fake-engine.js';
import { fakeProject, type FakeProject } from '../testing/fake-project.js';
import type { RunContext } from '../runtime/context.js';
import { deployService, type DeployEvent } from './deploy.js';

describe('berth deploy of a nat service on the FakeEngine', () => {
  let project: FakeProject;
  let db: Store;
  let engine: FakeEngine;
  let context: RunContext;
  let images: Record<string, string>;
  const probes: string[] = [];

  before(async () => {
    // The engine of the project's only host ("local", the default socket) is also the build engine.
    project = await fakeProject('deploy-on-fake', {
      config: {
        project: 'shop',
        images: { web: { root: {} } },
        services: { web: { image: 'web', ports: [8080], replicas: 2, health: { command: ['check-web'], interval: '1s' }, stop_grace: '1s' } },
        environments: { dev: { network: 'nat' } },
      },
    });
    ({ db, engine, context, images } = project);
    engine.scriptExec((c, cmd) => {
      if (cmd[0] !== 'check-web') return undefined;
      probes.push(c.name);
      return { exitCode: 0, output: 'ok\n' };
    });
  });

  after(async () => project.close());

  const runningRelease = async () => releaseOf(db, 'web', (await currentRelease(db, 'web', 'dev'))!);
  const running = async () => {
    const ids = await engine.containers.list(['berth.project=shop', 'berth.service=web']);
    const states = await Promise.all(ids.map((id) => engine.containers.inspect(id)));
    return states
      .filter((s) => s?.running)
      .map((s) => ({ name: s!.name, image: s!.image, networks: Object.keys(s!.networks), port: s!.ports['8080/tcp'] }))
      .sort((a, b) => a.name.localeCompare(b.name));
  };

  it('creates the network and two healthy instances, each with a published port, and records release 1', async () => {
    const events: DeployEvent[] = [];
    const result = await deployService(context, 'web', 'dev', { image: 'berth/web:v1', timeoutMs: 10_000, onEvent: (e) => events.push(e) });
    assert.deepEqual(
      result.steps.map((s) => [s.slot, s.action]),
      [
        ['web-dev-1', 'create'],
        ['web-dev-2', 'create'],
      ],
    );
    assert.deepEqual((await engine.networks.list(['berth.project=shop'])).map((n) => [n.name, n.driver]), [['berth-shop-nat', 'bridge']]);
    const now = await running();
    assert.deepEqual(
      now.map((c) => [c.name, c.image, c.networks]),
      [
        ['shop.web-dev-1', images.v1, ['berth-shop-nat']],
        ['shop.web-dev-2', images.v1, ['berth-shop-nat']],
      ],
    );
    assert.ok(now.every((c) => typeof c.port === 'number' && c.port > 0), JSON.stringify(now));
    assert.deepEqual(result.instances.map((i) => [`shop.${i.slot}`, i.ports['8080/tcp']]), now.map((c) => [c.name, c.port]));
    assert.deepEqual([...new Set(probes)].sort(), ['shop.web-dev-1', 'shop.web-dev-2'], 'each instance passed its health command before it counted');
    assert.equal(await currentRelease(db, 'web', 'dev'), result.release);
    assert.deepEqual((await releasesOf(db, 'web')).map((r) => [r.number, r.imageId]), [[1, images.v1]]);
    assert.ok(events.some((e) => e.type === 'ready'));
    // Instances run, but only a pushed digest lives in a registry where retention could delete it (refs.int covers pushed ones).
    assert.deepEqual((await allRefs(db)).filter((r) => r.kind === 'deployed'), [], 'no deployed reference for a build that was never pushed');
  });

  it('keeps instances that are up to date', async () => {
    const before = await engine.containers.list(['berth.service=web']);
    const result = await deployService(context, 'web', 'dev', { image: 'berth/web:v1', timeoutMs: 10_000 });
    assert.deepEqual(result.steps.map((s) => s.action), ['keep', 'keep']);
    assert.deepEqual((await engine.containers.list(['berth.service=web'])).sort(), before.sort());
  });

  it('a create the engine refuses during a replacement puts back what ran before', async () => {
    engine.failCreate((body) => body.Image === images.v2);
    const error = await deployService(context, 'web', 'dev', { image: 'berth/web:v2', timeoutMs: 10_000 }).then(() => assert.fail('the deploy succeeded'), (e: unknown) => e as BerthError);
    assert.deepEqual([error.kind, error.lines], ['rolled-back', ['rolled back to release 1']]);
    assert.match(error.message, /^deploy of web to dev failed: instance web-dev-1 could not start: the engine at \S+ refused to create container shop\.web-dev-1: failed to create the container/);
    assert.deepEqual((await running()).map((c) => [c.name, c.image]), [
      ['shop.web-dev-1', images.v1],
      ['shop.web-dev-2', images.v1],
    ]);
    assert.equal((await runningRelease())?.imageId, images.v1);
  });

  it('replaces both instances with the new image and records release 2', async () => {
    const result = await deployService(context, 'web', 'dev', { image: 'berth/web:v2', timeoutMs: 10_000 });
    assert.deepEqual(result.steps.map((s) => [s.slot, s.action]), [
      ['web-dev-1', 'replace'],
      ['web-dev-2', 'replace'],
    ]);
    assert.deepEqual((await running()).map((c) => [c.name, c.image]), [
      ['shop.web-dev-1', images.v2],
      ['shop.web-dev-2', images.v2],
    ]);
    assert.deepEqual(await engine.containers.list(['berth.service=web']).then((ids) => ids.length), 2, 'the old containers are gone');
    assert.equal((await runningRelease())?.imageId, images.v2);
  });
});

describe('berth deploy onto a flat pool too small, on the FakeEngine', () => {
  let project: FakeProject;
  before(async () => {
    project = await fakeProject('deploy-pool-on-fake', {
      config: {
        project: 'shop',
        images: { web: { root: {} } },
        networks: { tiny: { mode: 'flat', bridge: 'br-fake', create_bridge: true, subnet: '10.77.0.0/24', gateway: '10.77.0.1', range: '10.77.0.10-10.77.0.10' } },
        services: { web: { image: 'web', ports: [8080], replicas: 2, health: { command: ['check-web'], interval: '1s' }, stop_grace: '1s' } },
        environments: { crowded: { network: 'tiny' } },
      },
    });
  });
  after(async () => project.close());

  it('fails naming the pool, and leaves nothing half-deployed: no instance, no address held', async () => {
    await assert.rejects(deployService(project.context, 'web', 'crowded', { image: 'berth/web:v1', timeoutMs: 10_000 }), (error: unknown) => {
      const e = error as BerthError;
      assert.match(e.lines.join('\n') + e.message, /pool "tiny"/);
      return true;
    });
    assert.deepEqual(await listInstances(project.context, { environment: 'crowded' }), []);
    assert.deepEqual(await project.containers('web'), []);
    assert.deepEqual((await ipamOf(project.context).allocations('tiny')).filter((a) => a.state !== 'quarantined'), []);
  });
});
