/**
 * Integration on a lab host (a dockerd of its own in a network namespace, the
 * test's to restart; never the machine's engine): instances on a flat network
 * survive a restart of their engine. After dockerd stops and starts again,
 * every instance is back with the same IP and MAC, `berth ps` shows it
 * healthy, and a LAN namespace reaches it at its address and learns its MAC.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe } from 'node:test';
import { parse, stringify } from 'yaml';
import { runBerth, showOutcome, type CliOutcome } from '../testing/cli.js';
import { makeFixture, tinyRootTarball, type Fixture } from '../testing/fixture.js';
import { startLab, type Lab, type LanHost } from '../testing/lab.js';
import { labRegistry, upLabRegistry } from '../testing/lab-registry.js';
import { steps } from '../testing/steps.js';
import { sleep } from '../time.js';

const ENV = 'production';
const REPLICAS = 2;

interface PsInstance {
  slot: string;
  service: string;
  ip: string | null;
  mac: string | null;
  state: string;
  health: string;
}

describe('instances on a lab engine that restarts', () => {
  const step = steps();
  const web = `web${randomBytes(3).toString('hex')}`;
  let fixture: Fixture;
  let lab: Lab;
  let lan: LanHost;
  let before_: PsInstance[];

  const ok = async (command: string, ...rest: string[]): Promise<CliOutcome> => {
    const outcome = await runBerth([command, '-p', fixture.dir, ...rest], { env: fixture.env, timeoutMs: 300_000 });
    assert.equal(outcome.code, 0, showOutcome(outcome));
    return outcome;
  };
  const ps = async (): Promise<PsInstance[]> => (JSON.parse((await ok('ps', '--env', ENV, '--json')).stdout) as { instances: PsInstance[] }).instances.filter((i) => i.service === web);
  const answers = async (instances: PsInstance[]) => {
    for (const instance of instances) {
      assert.deepEqual(await lan.fetch(`http://${instance.ip}:8080/`), { ok: true, body: 'hello\n' }, `${instance.slot} at ${instance.ip}`);
      assert.equal(await lan.neighbourMac(instance.ip!), instance.mac, `${instance.slot}'s MAC as the LAN sees it`);
    }
  };

  before(async () => {
    fixture = await makeFixture({
      base: { settings: { root: { tarball: await tinyRootTarball() } } },
      site: {
        settings: { from: 'base', command: ['busybox', 'httpd', '-f', '-p', '8080', '-h', '/www'] },
        static: '#!/bin/sh\nmkdir -p /www\necho hello > /www/index.html\necho ok > /www/health.html\n',
      },
    });
    lab = await startLab({ hosts: 1, dir: fixture.dir });
    lan = await lab.lanHost();
    const registry = await labRegistry(lab);
    const yaml = parse(readFileSync(join(fixture.dir, 'berth.yaml'), 'utf8')) as Record<string, unknown>;
    yaml.registry = registry.yaml;
    yaml.fleet = { tls: lab.tls };
    yaml.hosts = lab.hosts.map((h) => ({ name: h.name, engine: h.engine, address: h.ip }));
    yaml.networks = { lan: { mode: 'flat', bridge: lab.bridge, subnet: lab.subnet, gateway: lab.gateway, range: `${lab.address(100)}-${lab.address(120)}`, quarantine: '0s' } };
    yaml.services = { [web]: { image: 'site', ports: [8080], health: { http: '/health.html', interval: '2s', timeout: '1s', unhealthy_after: 3 }, stop_grace: '2s' } };
    yaml.environments = { [ENV]: { network: 'lan', hosts: lab.hosts.map((h) => h.name), services: { [web]: { replicas: REPLICAS } } } };
    fixture.write('berth.yaml', stringify(yaml));
    await upLabRegistry(fixture, registry);
    await ok('build');
    await ok('push');
  });

  after(async () => {
    // The engine goes with the lab, its containers and networks with it; the registry and its certs.d entry with the fixture.
    await lab?.dispose();
    await fixture?.cleanup();
  });

  step('deploys the instances on the flat network; each answers the LAN at its IP with its MAC', async () => {
    await ok('deploy', web, '--env', ENV);
    before_ = await ps();
    assert.equal(before_.length, REPLICAS);
    assert.ok(before_.every((i) => i.ip && i.mac && i.state === 'running'), JSON.stringify(before_));
    await answers(before_);
  });

  step("after the host's dockerd restarts, the instances come back with the same IPs and MACs and berth ps shows them healthy", async () => {
    const [host] = lab.hosts;
    await host!.stop();
    assert.equal(host!.running(), false);
    await host!.start();
    // The engine's health check (interval 2 s) decides what ps shows: a deadline only a broken restart reaches.
    const deadline = Date.now() + 180_000;
    let now = await ps();
    while (Date.now() < deadline && !(now.length === REPLICAS && now.every((i) => i.health === 'healthy'))) {
      await sleep(500);
      now = await ps();
    }
    assert.deepEqual(now.map((i) => [i.slot, i.ip, i.mac, i.state, i.health]), before_.map((i) => [i.slot, i.ip, i.mac, 'running', 'healthy']), 'not all healthy within 3 minutes of the restart');
    await answers(now);
  });
});
