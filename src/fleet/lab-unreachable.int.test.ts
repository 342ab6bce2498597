/**
 * Integration on the lab (real dockerds in network namespaces, reached at
 * tcp://IP:2376 with mutual TLS; the build pushed to the registry on the LAN):
 * one host's dockerd stopped. berth ps and berth hosts still answer for the
 * machine's own engine and the running lab host and mark the stopped one with
 * its reason; a deploy to an environment that includes it fails naming it and
 * changes nothing on the other hosts.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { after, before, describe } from 'node:test';
import { parse, stringify } from 'yaml';
import { buildProject } from '../imaging/builder.js';
import { loadProject } from '../config/project.js';
import { connectEngine } from '../engine/client.js';
import { removeNetwork } from '../network/docker-network.js';
import { push } from '../registry/testing.js';
import { openStore, closeStore } from '../store/db.js';
import { runBerth } from '../testing/cli.js';
import { makeFixture, tinyRootTarball, type Fixture } from '../testing/fixture.js';
import { startLab, type Lab } from '../testing/lab.js';
import { labRegistry, upLabRegistry } from '../testing/lab-registry.js';
import { steps } from '../testing/steps.js';

type Ps = { instances: { slot: string; host: string; id: string; state: string }[]; unreachable: { host: string; error: string }[] };
type HostsJson = { hosts: { name: string; state: string; reachable: boolean; error?: string; apiVersion: string | null; instances: number }[] };

describe('the lab with one host stopped', () => {
  const step = steps();
  let fixture: Fixture;
  let lab: Lab;
  const service = `lab${randomBytes(3).toString('hex')}`;
  const berth = (...args: string[]) => runBerth([args[0]!, '-p', fixture.dir, ...args.slice(1)], { env: fixture.env, timeoutMs: 120_000 });
  let running: Ps['instances'];

  before(async () => {
    fixture = await makeFixture({ base: { settings: { root: { tarball: await tinyRootTarball() } } }, web: { settings: { from: 'base', command: ['busybox', 'httpd', '-f', '-p', '8080', '-h', '/'] } } });
    lab = await startLab({ hosts: 2, dir: fixture.dir });
    const registry = await labRegistry(lab);
    // The berth.yaml is written once the lab's addresses are known.
    const yaml = parse(readFileSync(`${fixture.dir}/berth.yaml`, 'utf8')) as Record<string, unknown>;
    yaml.registry = registry.yaml;
    yaml.hosts = [{ name: 'local', engine: 'unix:///var/run/docker.sock' }, ...lab.hosts.map((h) => ({ name: h.name, engine: h.engine, tls: h.tls }))];
    yaml.services = { [service]: { image: 'web', ports: [8080], replicas: 2 } };
    yaml.environments = { one: { network: 'nat', hosts: ['local'] }, wide: { network: 'nat', hosts: ['local', ...lab.hosts.map((h) => h.name)] } };
    fixture.write('berth.yaml', stringify(yaml));
    await upLabRegistry(fixture, registry);
    const project = loadProject(fixture.dir, fixture.env);
    const db = await openStore(project.stateDir);
    const summary = await buildProject(project, fixture.engine, db, { env: fixture.env }).finally(() => closeStore(db));
    assert.deepEqual(summary.failed, []);
    // Pushed, so the one reason the deploy to wide cannot run is the stopped host.
    assert.deepEqual((await push(fixture)).failed, []);
  });

  after(async () => {
    await berth('rm', service, '--env', 'one').catch(() => undefined);
    await removeNetwork(fixture.engine, `berth-${fixture.name}-nat`).catch(() => {});
    await lab?.dispose();
    await fixture.cleanup();
  });

  step('the service runs on local; then the second lab host\'s dockerd is stopped', async () => {
    const deploy = await berth('deploy', service, '--env', 'one');
    assert.equal(deploy.code, 0, deploy.stderr);
    running = (JSON.parse((await berth('ps', '--json')).stdout) as Ps).instances;
    assert.deepEqual(running.map((i) => [i.host, i.state]), [['local', 'running'], ['local', 'running']]);
    await lab.hosts[1]!.stop();
  });

  step('berth ps answers for local and h1 and marks h2 with its reason, exit 0', async () => {
    const out = await berth('ps', '--json');
    assert.equal(out.code, 0, out.stderr);
    const ps = JSON.parse(out.stdout) as Ps;
    assert.deepEqual(ps.instances.map((i) => [i.slot, i.id, i.state]), running.map((i) => [i.slot, i.id, 'running']));
    assert.deepEqual(ps.unreachable.map((u) => u.host), ['h2']);
    assert.match(ps.unreachable[0]!.error, new RegExp(`the engine at ${lab.hosts[1]!.engine} refused the connection`));
  });

  step('berth hosts --json: local and h1 ready with their API versions, h2 unreachable', async () => {
    const out = await berth('hosts', '--json');
    assert.equal(out.code, 0, out.stderr);
    const { hosts } = JSON.parse(out.stdout) as HostsJson;
    assert.deepEqual(hosts.map((h) => [h.name, h.state, h.reachable, h.instances]), [['local', 'ready', true, 2], ['h1', 'ready', true, 0], ['h2', 'unreachable', false, 0]]);
    assert.ok(hosts[1]!.apiVersion, 'h1 answered with its API version');
    assert.match(hosts[2]!.error ?? '', new RegExp(`the engine at ${lab.hosts[1]!.engine} refused the connection`));
  });

  step('a deploy to wide (local, h1, h2) fails naming h2, exit 5, and nothing changed on local or h1', async () => {
    const out = await berth('deploy', service, '--env', 'wide');
    assert.equal(out.code, 5, out.stdout + out.stderr);
    assert.match(out.stderr, /^error \(unavailable\): host h2 is unreachable; the deploy of .* to wide needs it, so nothing was changed/m);
    const ps = JSON.parse((await berth('ps', '--json')).stdout) as Ps;
    assert.deepEqual(ps.instances.map((i) => [i.slot, i.id, i.state]), running.map((i) => [i.slot, i.id, 'running']));
    const h1 = connectEngine({ DOCKER_HOST: `unix://${lab.hosts[0]!.socket}` }); // the test's own look, behind Berth's back
    assert.deepEqual(await h1.containers.list([`berth.project=${fixture.name}`]), []);
    assert.equal(await h1.networks.inspect(`berth-${fixture.name}-nat`), undefined, 'no network was created on h1');
  });
});
