/**
 * Integration: images travel through a real registry on loopback with TLS
 * (certificates Berth generated) and htpasswd. A pushed build removed from the
 * engine is pulled by digest before its instance is created, a second deploy
 * pulls nothing, and a build never pushed runs on the build engine only.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe } from 'node:test';
import bcrypt from 'bcryptjs';
import { loadProject } from '../config/project.js';
import { BerthError } from '../errors.js';
import { registryDown, registryStatus, registryUp } from '../registry/process.js';
import { build, freePort, push, target } from '../registry/testing.js';
import { openStore, type Store, closeStore } from '../store/db.js';
import { releasesOf, rolloutsOf } from '../store/releases.js';
import { makeFixture, tinyRootTarball, type Fixture } from '../testing/fixture.js';
import { rawEngine } from '../testing/raw-engine.js';
import { steps } from '../testing/steps.js';
import { removeNetwork } from '../network/docker-network.js';
import type { RunContext } from '../runtime/context.js';
import { deployService, type DeployEvent } from './deploy.js';
import { Hosts } from '../runtime/hosts.js';
import { listInstances } from '../runtime/instances.js';
import { removeInstances } from './operate.js';

const PASSWORD = `pw-${Math.random().toString(36).slice(2)}`;

describe('images pulled by digest from a TLS registry with a password', () => {
  const step = steps();
  let fixture: Fixture;
  let db: Store;
  let address: string;
  let digest: string;
  const context = (): RunContext => {
    const project = loadProject(fixture.dir, fixture.env);
    return { project, db, hosts: new Hosts(project, fixture.engine), env: fixture.env };
  };
  const page = (v: string) => `#!/bin/sh\nmkdir -p /www\necho ${v} > /www/index.html\n`;
  /**
   * Pull events from now until the returned function is called. A live stream, not a `since`/`until`
   * query afterwards: the engine keeps only its last 256 events, which a busy machine overwrites in seconds.
   */
  const watchPulls = async (): Promise<(expected: number) => Promise<string[]>> => {
    const since = String(Math.floor(Date.now() / 1000) - 1);
    const response = await rawEngine(fixture.env).call('GET', '/events', { query: { since, filters: JSON.stringify({ type: ['image'], event: ['pull'] }) }, timeoutMs: 0 });
    const chunks: Buffer[] = [];
    response.on('data', (chunk: Buffer) => chunks.push(chunk));
    response.on('error', () => {});
    const seen = () => Buffer.concat(chunks).toString('utf8').split('\n').filter((l) => l.trim() !== '').map((l) => (JSON.parse(l) as { id: string }).id).filter((id) => id.startsWith(address));
    // The engine hands an event to its subscribers after the call it belongs to has returned: wait for
    // as many as the caller expects (bounded), then a moment for any extra one.
    return async (expected: number) => {
      for (const until = Date.now() + 30_000; seen().length < expected && Date.now() < until; ) await new Promise((resolve) => setTimeout(resolve, 100));
      await new Promise((resolve) => setTimeout(resolve, 500));
      response.destroy();
      return seen();
    };
  };

  // h2 is this machine's engine under another socket path: a host that answers but is not the build engine.
  const h2Socket = join(tmpdir(), `berth-h2-${randomBytes(4).toString('hex')}.sock`);

  before(async () => {
    symlinkSync('/var/run/docker.sock', h2Socket);
    const port = await freePort();
    address = `127.0.0.1:${port}`;
    fixture = await makeFixture(
      {
        base: { settings: { root: { tarball: await tinyRootTarball() } } },
        web: { settings: { from: 'base', command: ['busybox', 'httpd', '-f', '-p', '8080', '-h', '/www'] }, static: page('v1') },
      },
      {
        registry: { listen: address, tls: 'generate', htpasswd: 'htpasswd', username: 'berth', password: { env: 'T_REGISTRY_PASSWORD' } },
        hosts: [{ name: 'local' }, { name: 'h2', engine: `unix://${h2Socket}` }],
        services: { web: { image: 'web', ports: [8080], health: { tcp: 8080, interval: '1s' } } },
        environments: { dev: { network: 'nat', hosts: ['local'] }, prod: { network: 'nat', hosts: ['local', 'h2'] } },
      },
    );
    fixture.env.T_REGISTRY_PASSWORD = PASSWORD;
    fixture.write('htpasswd', `berth:${bcrypt.hashSync(PASSWORD, 10)}\n`);
    db = await openStore(loadProject(fixture.dir, fixture.env).stateDir);
  });

  after(async () => {
    rmSync(h2Socket, { force: true });
    const left = await listInstances(context(), { environment: 'dev' }).catch(() => []);
    if (left.length > 0) await removeInstances(context(), left, 'dev').catch(() => {});
    await removeNetwork(fixture.engine, `berth-${fixture.name}-nat`).catch(() => {});
    await registryDown(target(fixture)).catch(() => {});
    rmSync(join(target(fixture).certsDir, address), { recursive: true, force: true });
    await closeStore(db);
    await fixture.cleanup();
  });

  step('berth registry up makes a CA and a certificate once (keys 0600), and this machine trusts the CA', async () => {
    const up = await registryUp(target(fixture));
    const status = await registryStatus(target(fixture));
    assert.equal(status.healthy, true, String(status.problem));
    assert.equal(status.tls?.generated, true);
    const tlsDir = join(loadProject(fixture.dir, fixture.env).stateDir, 'registry', 'tls');
    assert.equal(status.tls?.ca, join(tlsDir, 'ca.crt'));
    for (const key of ['ca.key', 'server.key']) assert.equal(statSync(join(tlsDir, key)).mode & 0o777, 0o600, key);
    assert.deepEqual(up.trust, { path: join('/etc/docker/certs.d', address, 'ca.crt'), installed: true });
    assert.equal(readFileSync(up.trust!.path, 'utf8'), readFileSync(status.tls!.ca, 'utf8'));
    assert.equal(status.tls?.trust.installed, true);
    assert.match(target(fixture).client.url, /^https:/);

    const ca = readFileSync(status.tls!.ca, 'utf8');
    const cert = readFileSync(join(tlsDir, 'server.crt'), 'utf8');
    await registryDown(target(fixture));
    await registryUp(target(fixture));
    assert.equal(readFileSync(status.tls!.ca, 'utf8'), ca, 'the CA is reused');
    assert.equal(readFileSync(join(tlsDir, 'server.crt'), 'utf8'), cert, 'the certificate is reused');
  });

  step('a pushed build missing from the engine is pulled by digest before its instance is created', async () => {
    assert.deepEqual((await build(fixture)).failed, []);
    const summary = await push(fixture);
    assert.deepEqual(summary.failed, []);
    const web = summary.pushed.find((p) => p.name === 'web')!;
    digest = web.digest;
    await fixture.engine.images.remove(web.imageId);
    assert.equal(await fixture.engine.images.inspect(web.imageId), undefined);

    const pulls = await watchPulls();
    const notes: string[] = [];
    const result = await deployService(context(), 'web', 'dev', { image: digest, timeoutMs: 120_000, onEvent: (e: DeployEvent) => e.type === 'note' && notes.push(e.text) });
    const ref = `${address}/berth/web@${digest}`;
    const image = (await rawEngine(fixture.env).json<{ Id: string; RepoDigests: string[] }>('GET', `/images/${encodeURIComponent(ref)}/json`));
    assert.equal(image.Id, web.imageId);
    assert.ok(image.RepoDigests.includes(ref), image.RepoDigests.join(' '));
    const container = await rawEngine(fixture.env).json<{ Config: { Image: string } }>('GET', `/containers/${result.instances[0]!.id}/json`);
    assert.equal(container.Config.Image, ref, 'created from the digest reference');
    assert.deepEqual(await pulls(1), [ref]);
    assert.ok(notes.some((n) => n.startsWith(`local: pulled ${ref}`)), notes.join('\n'));
    const port = result.instances[0]!.ports['8080/tcp'];
    assert.equal((await (await fetch(`http://127.0.0.1:${port}/`)).text()).trim(), 'v1');
  });

  step('a second deploy on a host that has the digest pulls nothing', async () => {
    const pulls = await watchPulls();
    const notes: string[] = [];
    const result = await deployService(context(), 'web', 'dev', { image: digest, force: true, timeoutMs: 120_000, onEvent: (e: DeployEvent) => e.type === 'note' && notes.push(e.text) });
    assert.deepEqual(result.steps.map((s) => s.action), ['replace']);
    assert.deepEqual(await pulls(0), []);
    assert.ok(!notes.some((n) => n.includes('pulled')), notes.join('\n'));
  });

  step('a build never pushed runs on the build engine, and a deploy needing it on another host fails before changing anything', async () => {
    fixture.write('images/web/static.sh', page('v2'), 0o755);
    assert.deepEqual((await build(fixture)).failed, []);
    const dev = await deployService(context(), 'web', 'dev', { timeoutMs: 120_000 });
    assert.equal(dev.image.repository, '');
    const container = await rawEngine(fixture.env).json<{ Config: { Image: string } }>('GET', `/containers/${dev.instances[0]!.id}/json`);
    assert.equal(container.Config.Image, dev.image.id, 'created from the image ID on the build engine');

    const releases = (await releasesOf(db, 'web')).length;
    const error = await deployService(context(), 'web', 'prod', { timeoutMs: 120_000 }).then(
      () => assert.fail('the deploy to prod should fail'),
      (e: unknown) => e,
    );
    assert.ok(error instanceof BerthError);
    assert.equal(error.message, `image web (${dev.image.id}) was never pushed to the registry; run: berth push web`);
    assert.deepEqual(await rolloutsOf(db, 'web', 'prod'), []);
    assert.equal((await releasesOf(db, 'web')).length, releases);
    assert.ok(!JSON.stringify(error).includes(PASSWORD) && !error.message.includes(PASSWORD));
  });
});
