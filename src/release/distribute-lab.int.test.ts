/**
 * Integration on the lab: the registry on this machine's LAN address (TLS that
 * Berth generated, htpasswd), a real second engine (a lab host's dockerd in its
 * own network namespace, reached at tcp://IP:2376 with mutual TLS) that pulls a
 * pushed build by digest over TLS with the password, once, and runs it
 * health-checked on a nat network; and a build never pushed refused for an
 * environment with that host.
 */
import assert from 'node:assert/strict';
import { after, before, describe } from 'node:test';
import bcrypt from 'bcryptjs';
import { loadProject } from '../config/project.js';
import { BerthError } from '../errors.js';
import { registryDown, registryUp } from '../registry/process.js';
import { build, freePort, push, target } from '../registry/testing.js';
import { openStore, type Store, closeStore } from '../store/db.js';
import { releasesOf, rolloutsOf } from '../store/releases.js';
import { makeFixture, tinyRootTarball, type Fixture } from '../testing/fixture.js';
import { rawEngine, type RawEngine } from '../testing/raw-engine.js';
import { recordMade } from '../testing/leftovers.js';
import { startLab, type Lab } from '../testing/lab.js';
import { steps } from '../testing/steps.js';
import type { RunContext } from '../runtime/context.js';
import { deployService, type DeployEvent } from './deploy.js';
import { Hosts } from '../runtime/hosts.js';
import { listInstances } from '../runtime/instances.js';
import { removeInstances } from './operate.js';

const PASSWORD = `pw-${Math.random().toString(36).slice(2)}`;

describe('a second real engine pulls by digest from the registry on the LAN', () => {
  const step = steps();
  let lab: Lab;
  let fixture: Fixture;
  let db: Store;
  let h1: RawEngine;
  let address: string;
  let digest: string;
  const context = (): RunContext => {
    const project = loadProject(fixture.dir, fixture.env);
    return { project, db, hosts: new Hosts(project, fixture.engine), env: fixture.env };
  };
  const pullsOn = async (engine: RawEngine, since: number) => {
    const until = Math.ceil(Date.now() / 1000) + 1;
    const stream = await engine.call('GET', '/events', { query: { since: String(since), until: String(until), filters: JSON.stringify({ type: ['image'], event: ['pull'] }) } });
    const text = Buffer.concat((await stream.toArray()) as Buffer[]).toString('utf8');
    return text.split('\n').filter((l) => l.trim() !== '').map((l) => (JSON.parse(l) as { id: string }).id).filter((id) => id.startsWith(address));
  };

  before(async () => {
    lab = await startLab({ hosts: 1 });
    address = `${lab.hostIp}:${await freePort()}`;
    fixture = await makeFixture(
      {
        base: { settings: { root: { tarball: await tinyRootTarball() } } },
        app: { settings: { from: 'base', command: ['busybox', 'httpd', '-f', '-p', '8080', '-h', '/www'] }, static: '#!/bin/sh\nmkdir -p /www\necho v1 > /www/v.txt\n' },
      },
      {
        registry: { listen: address, htpasswd: 'htpasswd', username: 'berth', password: { env: 'T_REGISTRY_PASSWORD' } },
        hosts: [{ name: 'local' }, { name: 'h1', engine: lab.hosts[0]!.engine, tls: lab.hosts[0]!.tls }],
        services: { app: { image: 'app', ports: [8080], health: { http: '/v.txt', interval: '2s', timeout: '1s' } } },
        environments: { dev: { network: 'nat', hosts: ['local'] }, production: { network: 'nat', hosts: ['h1'] }, both: { network: 'nat', hosts: ['local', 'h1'] } },
        pipeline: ['dev', 'production', 'both'],
      },
    );
    fixture.env.T_REGISTRY_PASSWORD = PASSWORD;
    fixture.write('htpasswd', `berth:${bcrypt.hashSync(PASSWORD, 10)}\n`);
    db = await openStore(loadProject(fixture.dir, fixture.env).stateDir);
    // The test's own look at h1, behind Berth's back.
    h1 = rawEngine({ DOCKER_HOST: `unix://${lab.hosts[0]!.socket}` });
    recordMade(fixture.dir, 'certs', address);
    const up = await registryUp(target(fixture));
    // Berth's own install into certs.d, recorded above so the fixture's cleanup (or a sweep) removes it.
    assert.equal(up.trust?.installed, true);
  });

  after(async () => {
    for (const environment of ['production', 'both', 'dev']) {
      const left = await listInstances(context(), { environment }).catch(() => []);
      if (left.length > 0) await removeInstances(context(), left, environment).catch(() => {});
    }
    await registryDown(target(fixture)).catch(() => {});
    await (db && await closeStore(db));
    await fixture?.cleanup();
    await lab?.dispose();
  });

  step('the build engine pushes over verified TLS; the other host pulls the digest before its instance starts', async () => {
    assert.deepEqual((await build(fixture)).failed, []);
    const summary = await push(fixture);
    assert.deepEqual(summary.failed, [], JSON.stringify(summary.failed));
    digest = summary.pushed.find((p) => p.name === 'app')!.digest;

    const since = Math.floor(Date.now() / 1000) - 1;
    const notes: string[] = [];
    const result = await deployService(context(), 'app', 'production', { timeoutMs: 120_000, onEvent: (e: DeployEvent) => e.type === 'note' && notes.push(e.text) });
    assert.equal(result.image.digest, digest);
    assert.deepEqual(result.instances.map((i) => i.host), ['h1']);
    const ref = `${address}/berth/app@${digest}`;
    const pulled = await h1.json<{ RepoDigests: string[] }>('GET', `/images/${encodeURIComponent(ref)}/json`);
    assert.ok(pulled.RepoDigests.includes(ref), pulled.RepoDigests.join(' '));
    const container = await h1.json<{ Config: { Image: string }; State: { Running: boolean } }>('GET', `/containers/${result.instances[0]!.id}/json`);
    assert.equal(container.Config.Image, ref);
    assert.equal(container.State.Running, true);
    assert.deepEqual(await pullsOn(h1, since), [ref]);
    assert.ok(notes.some((n) => n.startsWith(`h1: pulled ${ref}`)), notes.join('\n'));
    assert.ok(!notes.join('\n').includes(PASSWORD));
  });

  step('a second deploy to the host that has the digest pulls nothing', async () => {
    const since = Math.floor(Date.now() / 1000) - 1;
    const result = await deployService(context(), 'app', 'production', { force: true, timeoutMs: 120_000 });
    assert.deepEqual(result.steps.map((s) => s.action), ['replace']);
    assert.deepEqual(await pullsOn(h1, since), []);
  });

  step('a build never pushed is refused for an environment with the other host, before anything changes', async () => {
    fixture.write('images/app/static.sh', '#!/bin/sh\necho v2 > /v.txt\n', 0o755);
    assert.deepEqual((await build(fixture)).failed, []);
    const releases = (await releasesOf(db, 'app')).length;
    const error = await deployService(context(), 'app', 'both', { timeoutMs: 120_000 }).then(
      () => assert.fail('the deploy should fail'),
      (e: unknown) => e,
    );
    assert.ok(error instanceof BerthError);
    assert.match(error.message, /^image app \(sha256:[0-9a-f]{64}\) was never pushed to the registry; run: berth push app$/);
    assert.deepEqual(error.lines, [`only the build engine has it, and host h1 can get it only from the registry at ${address}`]);
    assert.deepEqual(await rolloutsOf(db, 'app', 'both'), []);
    assert.equal((await releasesOf(db, 'app')).length, releases);
    assert.equal((await listInstances(context(), { environment: 'both' })).length, 0);
  });
});
