import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { NetworkState } from '../engine/networks.js';
import { FakeEngine } from '../testing/fake-engine.js';
import { dockerNetworkName, ensureNetwork, networkCreateBody, networkDrift } from './docker-network.js';
import { flat } from './ipam-fixture.js';

const nat = flat({ name: 'web', mode: 'nat' });
const lan = flat({ bridge: 'br0', subnet: '10.77.0.0/24', gateway: '10.77.0.1' });

/** What the engine reports for a network created from `body`. */
function stateOf(body: ReturnType<typeof networkCreateBody>): NetworkState {
  const pool = body.IPAM?.Config[0];
  return {
    id: 'abc',
    name: body.Name,
    driver: body.Driver,
    options: body.Options ?? {},
    ...(pool ? { subnet: pool.Subnet, gateway: pool.Gateway! } : { subnet: '172.18.0.0/16', gateway: '172.18.0.1' }),
    auxAddresses: pool?.AuxiliaryAddresses ?? {},
    labels: body.Labels,
  };
}

describe('dockerNetworkName', () => {
  it('is the host network for host mode and berth-<project>-<network> otherwise', () => {
    assert.equal(dockerNetworkName('shop', flat({ name: 'h', mode: 'host' })), 'host');
    assert.equal(dockerNetworkName('shop', lan), 'berth-shop-lan');
    assert.equal(dockerNetworkName('my shop', flat({ name: 'lan/2' })), 'berth-my-shop-lan-2');
  });
});

describe('networkCreateBody', () => {
  it('lets Docker pick the subnet of a nat network', () => {
    assert.deepEqual(networkCreateBody('shop', nat), {
      Name: 'berth-shop-web',
      Driver: 'bridge',
      Labels: { 'berth.project': 'shop', 'berth.network': 'web' },
      CheckDuplicate: true,
    });
  });

  it('puts a flat network on the named bridge without masquerading', () => {
    assert.deepEqual(networkCreateBody('shop', lan), {
      Name: 'berth-shop-lan',
      Driver: 'bridge',
      Options: { 'com.docker.network.bridge.name': 'br0', 'com.docker.network.bridge.enable_ip_masquerade': 'false' },
      IPAM: { Driver: 'default', Config: [{ Subnet: '10.77.0.0/24', Gateway: '10.77.0.1' }] },
      Labels: { 'berth.project': 'shop', 'berth.network': 'lan' },
      CheckDuplicate: true,
    });
  });

  it("gives the host's own address as gateway and routes containers through the LAN's", () => {
    const body = networkCreateBody('shop', lan, '10.77.0.5');
    assert.deepEqual(body.IPAM?.Config, [{ Subnet: '10.77.0.0/24', Gateway: '10.77.0.5', AuxiliaryAddresses: { DefaultGatewayIPv4: '10.77.0.1' } }]);
    assert.deepEqual(networkCreateBody('shop', lan, '10.77.0.1').IPAM?.Config, [{ Subnet: '10.77.0.0/24', Gateway: '10.77.0.1' }]);
  });

  it('has no body for host mode', () => {
    assert.throws(() => networkCreateBody('shop', flat({ mode: 'host' })), { kind: 'invalid' });
  });
});

describe('networkDrift', () => {
  it('finds nothing when the network is what Berth would create', () => {
    for (const body of [networkCreateBody('shop', nat), networkCreateBody('shop', lan), networkCreateBody('shop', lan, '10.77.0.5')]) {
      assert.deepEqual(networkDrift(body, stateOf(body)), []);
    }
  });

  it('names every difference that matters', () => {
    const body = networkCreateBody('shop', lan);
    const existing = {
      ...stateOf(networkCreateBody('shop', flat({ bridge: 'br1', subnet: '10.78.0.0/24', gateway: '10.78.0.1' }))),
      options: { 'com.docker.network.bridge.name': 'br1' },
    };
    assert.deepEqual(networkDrift(body, existing), [
      'Linux bridge: the network has br1, berth.yaml wants br0',
      'IP masquerading: the network has on, berth.yaml wants off',
      'subnet: the network has 10.78.0.0/24, berth.yaml wants 10.77.0.0/24',
      'gateway: the network has 10.78.0.1, berth.yaml wants 10.77.0.1',
    ]);
  });

  it("notices a network of another project and a changed containers' gateway", () => {
    const body = networkCreateBody('shop', lan, '10.77.0.5');
    const existing = { ...stateOf(body), auxAddresses: {}, labels: { 'berth.project': 'other' } };
    assert.deepEqual(networkDrift(body, existing), [
      "containers' default gateway: the network has none, berth.yaml wants 10.77.0.1",
      'berth.project label: the network has other, berth.yaml wants shop',
    ]);
  });
});

describe('ensureNetwork', () => {
  const shopNetworks = (engine: FakeEngine) => engine.networks.list(['berth.project=shop']);

  it('uses the host network for host mode without asking the engine', async () => {
    const engine = new FakeEngine();
    engine.stopAnswering();
    assert.deepEqual(await ensureNetwork(engine, 'shop', flat({ mode: 'host' }), { local: true }), { name: 'host', created: false });
  });

  it('creates a missing network, reuses a matching one and refuses a drifted one with the fix', async () => {
    const engine = new FakeEngine();
    const options = { local: false, hostAddress: '10.77.0.5' };
    const lab = flat({ bridge: 'br9', createBridge: true, subnet: '10.77.0.0/24', gateway: '10.77.0.1' });
    assert.deepEqual(await ensureNetwork(engine, 'shop', lab, options), { name: 'berth-shop-lan', created: true });
    assert.deepEqual(await ensureNetwork(engine, 'shop', lab, options), { name: 'berth-shop-lan', created: false });
    assert.deepEqual((await shopNetworks(engine)).map((n) => [n.name, n.subnet, n.gateway, n.auxAddresses]), [['berth-shop-lan', '10.77.0.0/24', '10.77.0.5', { DefaultGatewayIPv4: '10.77.0.1' }]]);
    const moved = flat({ bridge: 'br9', createBridge: true, subnet: '10.9.0.0/24', gateway: '10.9.0.1' });
    await assert.rejects(ensureNetwork(engine, 'shop', moved, { local: false, hostAddress: '10.9.0.5' }), (error: { kind: string; message: string; fix: string }) => {
      assert.equal(error.kind, 'conflict');
      assert.match(error.message, /berth-shop-lan .*subnet: the network has 10\.77\.0\.0\/24, berth\.yaml wants 10\.9\.0\.0\/24/);
      assert.match(error.fix, /docker network rm berth-shop-lan/);
      return true;
    });
  });

  it("refuses an operator's bridge without the host's address, before creating anything", async () => {
    const engine = new FakeEngine();
    await assert.rejects(ensureNetwork(engine, 'shop', lan, { local: false }), { kind: 'invalid', message: /own address on bridge br0/ });
    assert.deepEqual(await shopNetworks(engine), []);
  });

  it('reuses a network another process created between its look and its create', async () => {
    const engine = new FakeEngine();
    const lab = flat({ bridge: 'br9', createBridge: true });
    const look = engine.networks.inspect.bind(engine.networks);
    let other: string | undefined;
    engine.networks.inspect = async (name) => {
      const seen = await look(name);
      other ??= await engine.networks.create(networkCreateBody('shop', lab));
      return seen;
    };
    assert.deepEqual(await ensureNetwork(engine, 'shop', lab, { local: false }), { name: 'berth-shop-lan', created: false });
    assert.deepEqual((await shopNetworks(engine)).map((n) => n.id), [other]);
  });
});
