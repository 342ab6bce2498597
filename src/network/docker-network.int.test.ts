/** Integration: flat networks on a named Linux bridge, seen from a LAN host. */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { existsSync } from 'node:fs';
import { after, before, describe } from 'node:test';
import { promisify } from 'node:util';
import type { NetworkSpec } from '../config/model.js';
import { connectEngine } from '../engine/client.js';
import type { CreateBody } from '../engine/containers.js';
import { createLanHost, type LanHost } from '../testing/lan.js';
import { claimTestDir, tinyRootTarball, type TestDir } from '../testing/fixture.js';
import { recordMade } from '../testing/leftovers.js';
import { sleep } from '../time.js';
import { parseSubnet } from './addresses.js';
import { dockerNetworkName, ensureNetwork, removeNetwork } from './docker-network.js';
import { flat } from './ipam-fixture.js';
import { macFor } from './ipam.js';
import { steps } from '../testing/steps.js';

const run = promisify(execFile);
const hex = (bytes: number) => randomBytes(bytes).toString('hex');

/** Two /24s in 10.200-250.x.0 that no Docker network and no host route overlaps. */
async function freeSubnets(count: number): Promise<string[]> {
  const used = (await connectEngine().networks.list([])).flatMap((n) => (n.subnet ? [n.subnet] : []));
  const routes = JSON.parse((await run('ip', ['-j', '-4', 'route', 'show', 'table', 'all'])).stdout) as { dst: string }[];
  used.push(...routes.map((r) => (r.dst.includes('/') ? r.dst : `${r.dst}/32`)));
  const taken = used.flatMap((text) => parseSubnet(text) ?? []);
  const found = new Set<string>();
  while (found.size < count) {
    const candidate = `10.${randomInt(200, 251)}.${randomInt(0, 256)}.0/24`;
    const c = parseSubnet(candidate)!;
    if (!taken.some((t) => t.base <= c.broadcast && c.base <= t.broadcast)) found.add(candidate);
  }
  return [...found];
}

const ipv4Of = async (link: string) =>
  (JSON.parse((await run('ip', ['-j', '-4', 'addr', 'show', 'dev', link])).stdout) as { addr_info: { local: string; prefixlen: number }[] }[])
    .flatMap((l) => l.addr_info)
    .map((a) => `${a.local}/${a.prefixlen}`);

describe('flat Docker networks on a named Linux bridge', () => {
  const step = steps();
  const engine = connectEngine();
  const project = `t-${hex(4)}`;
  const image = `berth-test-net:${project}`;
  const labBridge = `bt${hex(3)}`;
  const operatorBridge = `bo${hex(3)}`;
  let lab: NetworkSpec;
  let operator: NetworkSpec;
  const lanHosts: LanHost[] = [];
  let owned: TestDir;

  before(async () => {
    // A folder naming this process, so a sweep removes what a killed run of this file left.
    owned = await claimTestDir(project);
    for (const bridge of [labBridge, operatorBridge]) recordMade(owned.dir, 'bridge', bridge);
    const [labSubnet, operatorSubnet] = await freeSubnets(2);
    const gatewayOf = (subnet: string) => subnet.replace(/0\/24$/, '1');
    lab = flat({ name: 'lab', bridge: labBridge, subnet: labSubnet!, gateway: gatewayOf(labSubnet!), createBridge: true });
    operator = flat({ name: 'lan', bridge: operatorBridge, subnet: operatorSubnet!, gateway: gatewayOf(operatorSubnet!) });
    await engine.images.importTarball(await tinyRootTarball(), 'berth-test-net', project, { 'berth.project': project });
  });

  after(async () => {
    for (const host of lanHosts) await host.dispose();
    for (const id of await engine.containers.list([`berth.project=${project}`])) await engine.containers.remove(id);
    for (const network of await engine.networks.list([`berth.project=${project}`])) await engine.networks.remove(network.id);
    for (const bridge of [labBridge, operatorBridge]) await run('ip', ['link', 'delete', bridge]).catch(() => {});
    await engine.images.remove(image).catch(() => {});
    await owned?.cleanup();
  });

  /** Starts a container with a static IP and the instance MAC on `network`. */
  async function startOn(network: NetworkSpec, lastByte: number, command: string): Promise<{ id: string; ip: string; mac: string }> {
    const dockerName = dockerNetworkName(project, network);
    const ip = network.subnet!.replace(/0\/24$/, String(lastByte));
    const mac = macFor(ip, network.macPrefix);
    const body: CreateBody = {
      name: `${project}-${network.name}-${lastByte}`,
      Image: image,
      Cmd: ['/bin/sh', '-c', command],
      Labels: { 'berth.project': project },
      MacAddress: mac,
      HostConfig: { NetworkMode: dockerName },
      NetworkingConfig: { EndpointsConfig: { [dockerName]: { IPAMConfig: { IPv4Address: ip } } } },
    };
    const id = await engine.containers.create(body);
    await engine.containers.start(id);
    return { id, ip, mac };
  }

  step('creates the Docker network and its Linux bridge, then reuses it', async () => {
    assert.deepEqual(await ensureNetwork(engine, project, lab, { local: true }), { name: `berth-${project}-lab`, created: true });
    assert.ok(existsSync(`/sys/class/net/${labBridge}/bridge`), `Linux bridge ${labBridge} exists`);
    const state = await engine.networks.inspect(`berth-${project}-lab`);
    assert.equal(state?.options['com.docker.network.bridge.enable_ip_masquerade'], 'false');
    assert.equal(state?.subnet, lab.subnet);
    assert.deepEqual(await ensureNetwork(engine, project, lab, { local: true }), { name: `berth-${project}-lab`, created: false });
  });

  step('refuses a network that drifted from berth.yaml, naming the difference', async () => {
    const drifted = { ...lab, subnet: '10.199.0.0/24', gateway: '10.199.0.1' };
    await assert.rejects(ensureNetwork(engine, project, drifted, { local: true }), (error: { kind: string; message: string; fix: string }) => {
      assert.equal(error.kind, 'conflict');
      assert.match(error.message, new RegExp(`berth-${project}-lab .*subnet: the network has ${lab.subnet}, berth.yaml wants 10.199.0.0/24`));
      assert.match(error.fix, new RegExp(`docker network rm berth-${project}-lab`));
      return true;
    });
  });

  step('names a missing Linux bridge and how to create it', async () => {
    const missing = { ...operator, name: 'missing', bridge: `bm${hex(3)}` };
    await assert.rejects(ensureNetwork(engine, project, missing, { local: true, hostAddress: '10.0.0.1' }), (error: { kind: string; message: string; fix: string }) => {
      assert.equal(error.kind, 'not-found');
      assert.match(error.message, new RegExp(`Linux bridge ${missing.bridge} does not exist on this host`));
      assert.match(error.fix, new RegExp(`ip link add ${missing.bridge} type bridge`));
      return true;
    });
    assert.equal(await engine.networks.inspect(dockerNetworkName(project, missing)), undefined);
  });

  step('serves a container at its static IP and MAC to a LAN host, with no port mapping', async () => {
    const web = await startOn(lab, 20, `mkdir -p /tmp/www && echo "hello from ${project}" > /tmp/www/index.html && exec /bin/busybox httpd -f -p 8080 -h /tmp/www`);
    const lanHost = await createLanHost(labBridge, lab.subnet!.replace(/0\/24$/, '250/24'), owned.dir);
    lanHosts.push(lanHost);
    // Until httpd listens: a deadline only a container that never serves reaches, however busy the machine.
    let answer = { ok: false, body: '' };
    const deadline = Date.now() + 120_000;
    while (!answer.ok && Date.now() < deadline) {
      answer = await lanHost.fetch(`http://${web.ip}:8080/`, 2);
      if (!answer.ok) await sleep(250);
    }
    assert.deepEqual(answer, { ok: true, body: `hello from ${project}\n` }, `the container never answered within 2 minutes: ${JSON.stringify(answer)}`);
    assert.equal(await lanHost.neighbourMac(web.ip), web.mac);
    const state = await engine.containers.inspect(web.id);
    assert.deepEqual(state?.networks[`berth-${project}-lab`], { ip: web.ip, mac: web.mac });
  });

  step("keeps the host's own address on an operator's bridge; containers route through the LAN gateway", async () => {
    const hostAddress = operator.subnet!.replace(/0\/24$/, '250');
    await run('ip', ['link', 'add', operatorBridge, 'type', 'bridge']);
    await run('ip', ['addr', 'add', `${hostAddress}/24`, 'dev', operatorBridge]);
    await run('ip', ['link', 'set', operatorBridge, 'up']);
    await assert.rejects(ensureNetwork(engine, project, operator, { local: true }), { kind: 'invalid', message: /own address on bridge/ });
    assert.deepEqual(await ensureNetwork(engine, project, operator, { local: true, hostAddress }), { name: `berth-${project}-lan`, created: true });
    assert.deepEqual(await ipv4Of(operatorBridge), [`${hostAddress}/24`]);
    const box = await startOn(operator, 30, 'exec sleep 600');
    const routes = await engine.exec(box.id, ['/bin/busybox', 'ip', 'route']);
    assert.match(routes.output, new RegExp(`^default via ${operator.gateway!.replace(/\./g, '\\.')} `, 'm'));
  });

  step('removes the networks: Docker deletes the bridge it created and leaves the operator\'s', async () => {
    for (const id of await engine.containers.list([`berth.project=${project}`])) await engine.containers.remove(id);
    await removeNetwork(engine, `berth-${project}-lab`);
    await removeNetwork(engine, `berth-${project}-lan`);
    await removeNetwork(engine, `berth-${project}-lan`);
    assert.equal(await engine.networks.inspect(`berth-${project}-lab`), undefined);
    assert.equal(existsSync(`/sys/class/net/${labBridge}`), false, 'the bridge Docker created is gone');
    assert.deepEqual(await ipv4Of(operatorBridge), [`${(operator.subnet ?? '').replace(/0\/24$/, '250')}/24`]);
  });
});
