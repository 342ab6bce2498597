/**
 * Integration on a lab of three real engines, everything as in a real fleet:
 * Berth reaches each host at tcp://IP:2376 with mutual TLS (fleet.tls), and
 * each host pulls the image by digest from the registry on this machine's LAN
 * address (TLS Berth generated, htpasswd). One flat network spans the hosts.
 *
 * - a production deploy of 4 instances over three hosts: each on the host
 *   `berth ps` names, with the IP and MAC Berth reports as that host's engine
 *   sees them, answering a separate LAN namespace, whose neighbour table has
 *   the MAC; the image pulled from the registry by digest;
 * - a secret and a config file reach an instance on a lab host; the secret's
 *   value is in no inspect output, no log and nothing Berth printed;
 * - placement labels: a pinned service lands on the matching hosts only, and a
 *   request the fleet cannot hold is refused naming what is short where,
 *   changing nothing.
 *
 * The test's own look at what the engines run goes through their unix sockets.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { request } from 'node:https';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe } from 'node:test';
import { parse, stringify } from 'yaml';
import { loadProject } from '../config/project.js';
import { connectEngine, type Engine } from '../engine/client.js';
import { runBerth, showOutcome, type CliOutcome } from '../testing/cli.js';
import { makeFixture, tinyRootTarball, type Fixture } from '../testing/fixture.js';
import { rawEngine, type RawEngine } from '../testing/raw-engine.js';
import { startLab, type Lab, type LanHost } from '../testing/lab.js';
import { labRegistry, upLabRegistry, type LabRegistry } from '../testing/lab-registry.js';
import { steps } from '../testing/steps.js';

const ENV = 'production';
const WEB_REPLICAS = 4;
const PINNED_REPLICAS = 3;
const LABELS: Record<string, string> = { h1: 'r1', h2: 'r1', h3: 'r2' };

interface PsInstance {
  slot: string;
  service: string;
  host: string;
  id: string;
  ip: string | null;
  mac: string | null;
  state: string;
}

interface Inspected {
  Id: string;
  Name: string;
  Config: { Image: string; Env: string[] | null; Labels: Record<string, string> };
  Image: string;
  NetworkSettings: { Networks: Record<string, { IPAddress: string; MacAddress: string }> };
}

/** GET https://ADDRESS/v2/ trusting `ca` but with no credentials: the status the registry answers. */
function anonymousStatus(address: string, ca: string): Promise<number | string> {
  const [host, port] = address.split(':');
  return new Promise((resolve) => {
    const req = request({ host, port: Number(port), path: '/v2/', ca: readFileSync(ca), agent: false, timeout: 10_000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
    req.end();
  });
}

describe('a fleet of three lab hosts over mutual TLS, images from the registry', () => {
  const step = steps();
  const secret = `tok-${randomBytes(12).toString('hex')}`;
  const web = `web${randomBytes(3).toString('hex')}`;
  const pinned = `pin${randomBytes(3).toString('hex')}`;
  let fixture: Fixture;
  let lab: Lab;
  let lan: LanHost;
  let registry: LabRegistry;
  let env: NodeJS.ProcessEnv;
  /** Every output of every berth command of this file, searched for the secret at the end. */
  const printed: string[] = [];
  const engines = new Map<string, Engine>();
  /** The same engines' own API, for the whole inspect JSON. */
  const raws = new Map<string, RawEngine>();

  const berth = async (command: string, ...rest: string[]): Promise<CliOutcome> => {
    // -p before the rest: after exec's `--` it would be the command's.
    const outcome = await runBerth([command, '-p', fixture.dir, ...rest], { env, timeoutMs: 300_000 }).catch((error: unknown) => {
      printed.push(String(error));
      throw error;
    });
    printed.push(outcome.stdout, outcome.stderr);
    return outcome;
  };
  const ok = async (command: string, ...rest: string[]): Promise<CliOutcome> => {
    const outcome = await berth(command, ...rest);
    assert.equal(outcome.code, 0, showOutcome(outcome));
    return outcome;
  };
  const ps = async (): Promise<PsInstance[]> => (JSON.parse((await ok('ps', '--env', ENV, '--json')).stdout) as { instances: PsInstance[] }).instances;
  const inspect = (host: string, id: string) => raws.get(host)!.json<Inspected>('GET', `/containers/${id}/json`);
  const writeYaml = (edit: (yaml: Record<string, any>) => void) => {
    const yaml = parse(readFileSync(join(fixture.dir, 'berth.yaml'), 'utf8')) as Record<string, any>;
    edit(yaml);
    fixture.write('berth.yaml', stringify(yaml));
  };

  before(async () => {
    fixture = await makeFixture({
      base: { settings: { root: { tarball: await tinyRootTarball() } } },
      site: {
        // -v: a line per request on stderr, so berth logs has something to show (and to search).
        settings: { from: 'base', command: ['busybox', 'httpd', '-f', '-v', '-p', '8080', '-h', '/www'] },
        static: '#!/bin/sh\nmkdir -p /www\necho hello > /www/index.html\necho ok > /www/health.html\n',
      },
    });
    lab = await startLab({ hosts: 3, dir: fixture.dir });
    lan = await lab.lanHost();
    registry = await labRegistry(lab);
    const health = { http: '/health.html', interval: '2s', timeout: '1s', unhealthy_after: 3 };
    writeYaml((yaml) => {
      yaml.registry = registry.yaml;
      yaml.fleet = { tls: lab.tls };
      yaml.hosts = lab.hosts.map((h) => ({ name: h.name, engine: h.engine, address: h.ip, labels: { rack: LABELS[h.name]! } }));
      yaml.networks = { lan: { mode: 'flat', bridge: lab.bridge, subnet: lab.subnet, gateway: lab.gateway, range: `${lab.address(100)}-${lab.address(140)}`, quarantine: '0s' } };
      yaml.services = {
        [web]: { image: 'site', ports: [8080], health, stop_grace: '2s', secrets: { API_TOKEN: { env: 'T_API_TOKEN' } }, config: { '/etc/site/site.conf': 'site.conf' } },
        [pinned]: { image: 'site', ports: [8080], health, stop_grace: '2s', placement: { labels: { rack: 'r1' } } },
      };
      yaml.environments = { [ENV]: { network: 'lan', hosts: lab.hosts.map((h) => h.name), services: { [web]: { replicas: WEB_REPLICAS }, [pinned]: { replicas: PINNED_REPLICAS } } } };
      yaml.pipeline = [ENV];
    });
    fixture.write('site.conf', 'greeting=hello from the config file\n');
    await upLabRegistry(fixture, registry);
    env = { ...fixture.env, T_API_TOKEN: secret };
    for (const h of lab.hosts) {
      engines.set(h.name, connectEngine({ DOCKER_HOST: `unix://${h.socket}` }));
      raws.set(h.name, rawEngine({ DOCKER_HOST: `unix://${h.socket}` }));
    }
    await ok('build');
    await ok('push');
  });

  after(async () => {
    // The engines go with the lab, and their containers and networks with them; the registry and its certs.d entry with the fixture.
    await lab?.dispose();
    await fixture?.cleanup();
  });

  step('a production deploy spreads 4 instances over the three hosts, each where berth ps says with the IP and MAC Berth reports', async () => {
    await ok('deploy', web, '--env', ENV);
    const instances = (await ps()).filter((i) => i.service === web);
    assert.equal(instances.length, WEB_REPLICAS);
    const perHost = lab.hosts.map((h) => instances.filter((i) => i.host === h.name).length);
    assert.deepEqual([...perHost].sort(), [1, 1, 2], `no two on one host while another has room: ${perHost.join(', ')}`);
    for (const instance of instances) {
      assert.equal(instance.state, 'running');
      const seen = await inspect(instance.host, instance.id);
      assert.equal(seen.Config.Labels['berth.instance'], instance.slot);
      const endpoints = Object.values(seen.NetworkSettings.Networks);
      assert.equal(endpoints.length, 1);
      assert.deepEqual([endpoints[0]!.IPAddress, endpoints[0]!.MacAddress.toLowerCase()], [instance.ip, instance.mac], `${instance.slot} on ${instance.host}`);
      for (const other of lab.hosts.filter((h) => h.name !== instance.host)) {
        const there = await engines.get(other.name)!.containers.summaries([`berth.instance=${instance.slot}`]);
        assert.deepEqual(there, [], `${instance.slot} also has a container on ${other.name}`);
      }
    }
  });

  step('each instance answers from a LAN namespace, whose neighbour table has its MAC', async () => {
    for (const instance of (await ps()).filter((i) => i.service === web)) {
      const answer = await lan.fetch(`http://${instance.ip}:8080/`);
      assert.deepEqual(answer, { ok: true, body: 'hello\n' }, `${instance.slot} at ${instance.ip}`);
      assert.equal(await lan.neighbourMac(instance.ip!), instance.mac);
    }
  });

  step('each host pulled the image by digest from the registry over TLS with the password', async () => {
    assert.equal(await anonymousStatus(registry.address, loadProject(fixture.dir, env).registry.tls!.ca!), 401, 'the registry asks for the password');
    const ref = new RegExp(`^${registry.address.replaceAll('.', '\\.')}/berth/site@sha256:[0-9a-f]{64}$`);
    const refs = new Set<string>();
    for (const instance of (await ps()).filter((i) => i.service === web)) {
      const seen = await inspect(instance.host, instance.id);
      assert.match(seen.Config.Image, ref);
      refs.add(seen.Config.Image);
      const image = await raws.get(instance.host)!.json<{ Id: string; RepoDigests: string[] }>('GET', `/images/${encodeURIComponent(seen.Config.Image)}/json`);
      assert.ok(image.RepoDigests.includes(seen.Config.Image), `${instance.host}: ${image.RepoDigests.join(' ')}`);
      assert.equal(image.Id, seen.Image);
    }
    assert.equal(refs.size, 1, [...refs].join(' '));
  });

  step('the secret and the config file reach an instance on a lab host; it reads the secret', async () => {
    const instance = (await ps()).find((i) => i.service === web && i.host === 'h3')!;
    // A hash, so the value itself is never printed.
    const hashed = await ok('exec', instance.slot, '--env', ENV, '--', 'sh', '-c', 'busybox sha256sum /run/secrets/API_TOKEN');
    assert.equal(hashed.stdout.trim().split(/\s+/)[0], createHash('sha256').update(secret).digest('hex'));
    const inEnv = await ok('exec', instance.slot, '--env', ENV, '--', 'sh', '-c', 'test -n "$(cat /run/secrets/API_TOKEN)" && echo read');
    assert.equal(inEnv.stdout.trim(), 'read');
    const config = await ok('exec', instance.slot, '--env', ENV, '--', 'cat', '/etc/site/site.conf');
    assert.equal(config.stdout, 'greeting=hello from the config file\n');
  });

  step("the secret's value is in no inspect output of any host, no log and nothing berth printed", async () => {
    for (const [host, engine] of engines) {
      for (const c of await engine.containers.summaries([`berth.project=${fixture.name}`])) {
        const raw = JSON.stringify(await raws.get(host)!.json<unknown>('GET', `/containers/${c.id}/json`));
        assert.ok(!raw.includes(secret), `inspect of ${c.name} on ${host}`);
        assert.ok(!(await engine.containers.logs(c.id)).includes(secret), `engine logs of ${c.name} on ${host}`);
      }
    }
    const logs = await ok('logs', web, '--env', ENV);
    assert.ok(logs.stdout.length > 0, 'berth logs printed the instances\' logs');
    for (const text of printed) assert.ok(!text.includes(secret), 'a berth output holds the secret');
  });

  step('a service placed by labels runs only on the hosts that carry them', async () => {
    await ok('deploy', pinned, '--env', ENV);
    const instances = (await ps()).filter((i) => i.service === pinned);
    assert.equal(instances.length, PINNED_REPLICAS);
    assert.deepEqual(new Set(instances.map((i) => i.host)), new Set(['h1', 'h2']));
    assert.deepEqual(await engines.get('h3')!.containers.summaries([`berth.service=${pinned}`]), []);
    for (const instance of instances) assert.equal((await lan.fetch(`http://${instance.ip}:8080/`)).ok, true, instance.slot);
  });

  step('a request the labelled hosts cannot hold is refused naming what is short on which hosts, changing nothing', async () => {
    const before = await ps();
    // Two CPUs per lab host: five instances of 1.5 CPU do not fit on h1 and h2 (h3 has room but not the label).
    // More instances, not only bigger ones: a running instance is kept on its host even when its reservation grew.
    writeYaml((yaml) => {
      yaml.services[pinned].resources = { cpus: 1.5 };
      yaml.environments[ENV].services[pinned].replicas = 5;
    });
    const refused = await berth('deploy', pinned, '--env', ENV);
    assert.equal(refused.code, 4, showOutcome(refused));
    const [first] = refused.stderr.split('\n');
    assert.match(first!, new RegExp(`^error \\(conflict\\): service ${pinned} in ${ENV} needs room for \\d+ more instance\\(s\\) with 1\\.5 CPU free each on hosts with rack=r1; rack=r1 hosts: h1 \\(.*\\), h2 \\(.*\\)$`));
    assert.doesNotMatch(first!, /h3/);
    assert.deepEqual((await ps()).map((i) => [i.slot, i.host, i.id, i.state]), before.map((i) => [i.slot, i.host, i.id, i.state]));
    for (const text of printed) assert.ok(!text.includes(secret), 'a berth output holds the secret');
  });
});
