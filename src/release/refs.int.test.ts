/** Integration: a deployed build that was pushed is protected from registry GC by its digest, and only while it runs. */
import assert from 'node:assert/strict';
import { after, before, describe } from 'node:test';
import { loadProject } from '../config/project.js';
import { registryDown, registryUp } from '../registry/process.js';
import { build, freePort, push, target } from '../registry/testing.js';
import { openStore, type Store, closeStore } from '../store/db.js';
import { pushesTo } from '../store/pushes.js';
import { allRefs } from '../store/refs.js';
import { makeFixture, tinyRootTarball, type Fixture } from '../testing/fixture.js';
import type { RunContext } from '../runtime/context.js';
import { deployService } from './deploy.js';
import { Hosts } from '../runtime/hosts.js';
import { listInstances } from '../runtime/instances.js';
import { removeInstances } from './operate.js';
import { removeNetwork } from '../network/docker-network.js';
import { steps } from '../testing/steps.js';

describe('deployed digests in the reference database', () => {
  const step = steps();
  let fixture: Fixture;
  let db: Store;
  const context = (): RunContext => {
    const project = loadProject(fixture.dir, fixture.env);
    return { project, db, hosts: new Hosts(project, fixture.engine), env: fixture.env };
  };
  const page = (v: string) => `#!/bin/sh\nmkdir -p /www\necho ${v} > /www/index.html\n`;

  before(async () => {
    const port = await freePort();
    fixture = await makeFixture(
      {
        base: { settings: { root: { tarball: await tinyRootTarball() } } },
        web: { settings: { from: 'base', command: ['busybox', 'httpd', '-f', '-p', '8080', '-h', '/www'] }, static: page('v1') },
      },
      {
        registry: { listen: `127.0.0.1:${port}` },
        services: { web: { image: 'web', ports: [8080], health: { tcp: 8080, interval: '1s' } } },
        environments: { dev: { network: 'nat' } },
      },
    );
    db = await openStore(loadProject(fixture.dir, fixture.env).stateDir);
    await registryUp(target(fixture));
  });

  after(async () => {
    const left = await listInstances(context(), { environment: 'dev' }).catch(() => []);
    if (left.length > 0) await removeInstances(context(), left, 'dev').catch(() => {});
    await removeNetwork(fixture.engine, `berth-${fixture.name}-nat`).catch(() => {});
    await registryDown(target(fixture)).catch(() => {});
    await closeStore(db);
    await fixture.cleanup();
  });

  const deployedRefs = async () => (await allRefs(db)).filter((r) => r.kind === 'deployed').map((r) => [r.repository, r.digest, r.environment, r.service]);

  step('protects the registry digest of what an environment runs, moves the protection on redeploy, and ends it on rm', async () => {
    assert.deepEqual((await build(fixture)).failed, []);
    const first = (await push(fixture)).pushed.find((p) => p.name === 'web')!;
    const one = await deployService(context(), 'web', 'dev', { timeoutMs: 120_000 });
    assert.equal(one.image.digest, first.digest);
    assert.deepEqual(await deployedRefs(), [['berth/web', first.digest, 'dev', 'web']]);
    assert.equal((await listInstances(context(), { environment: 'dev' }))[0]!.digest, first.digest);

    fixture.write('images/web/static.sh', page('v2'), 0o755);
    assert.deepEqual((await build(fixture)).failed, []);
    const second = (await push(fixture)).pushed.find((p) => p.name === 'web')!;
    assert.notEqual(second.digest, first.digest);
    await deployService(context(), 'web', 'dev', { timeoutMs: 120_000 });
    assert.deepEqual(await deployedRefs(), [['berth/web', second.digest, 'dev', 'web']]);

    await removeInstances(context(), await listInstances(context(), { environment: 'dev' }), 'dev');
    assert.deepEqual(await deployedRefs(), []);
  });

  step('--image takes a registry digest Berth pushed and runs that build', async () => {
    const pushes = await allRefs(db);
    assert.deepEqual(pushes.filter((r) => r.kind === 'deployed'), []);
    const oldest = (await pushesTo(db, target(fixture).address)).filter((p) => p.image === 'web').at(-1)!;
    const result = await deployService(context(), 'web', 'dev', { image: oldest.digest, timeoutMs: 120_000 });
    assert.equal(result.image.digest, oldest.digest);
    assert.equal(result.image.id, oldest.imageId);
    const port = result.instances[0]!.ports['8080/tcp'];
    assert.equal((await (await fetch(`http://127.0.0.1:${port}/`)).text()).trim(), 'v1');
  });
});
