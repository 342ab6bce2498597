import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Engine } from '../engine/client.js';
import type { NetworkState } from '../engine/networks.js';
import { conflict } from '../errors.js';
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
  /** An engine whose network calls are scripted; records what was created. */
  function fakeEngine(existing: NetworkState | undefined, onCreate: () => Promise<string> = async () => 'new-id') {
    const created: unknown[] = [];
    const networks = {
      inspect: async () => existing,
      create: async (body: unknown) => (created.push(body), onCreate()),
    };
    return { engine: { networks } as unknown as Engine, created };
  }

  it('uses the host network for host mode without asking the engine', async () => {
    assert.deepEqual(await ensureNetwork({} as Engine, 'shop', flat({ mode: 'host' }), { local: true }), { name: 'host', created: false });
  });

  it('reuses a matching network and refuses a drifted one with the fix', async () => {
    const body = networkCreateBody('shop', lan, '10.77.0.5');
    const same = fakeEngine(stateOf(body));
    assert.deepEqual(await ensureNetwork(same.engine, 'shop', lan, { local: false, hostAddress: '10.77.0.5' }), { name: 'berth-shop-lan', created: false });
    const drifted = fakeEngine({ ...stateOf(body), subnet: '10.9.0.0/24' });
    await assert.rejects(ensureNetwork(drifted.engine, 'shop', lan, { local: false, hostAddress: '10.77.0.5' }), (error: { kind: string; message: string; fix: string }) => {
      assert.equal(error.kind, 'conflict');
      assert.match(error.message, /berth-shop-lan .*subnet: the network has 10\.9\.0\.0\/24, berth\.yaml wants 10\.77\.0\.0\/24/);
      assert.match(error.fix, /docker network rm berth-shop-lan/);
      return true;
    });
  });

  it("refuses an operator's bridge without the host's address, before creating anything", async () => {
    const { engine, created } = fakeEngine(undefined);
    await assert.rejects(ensureNetwork(engine, 'shop', lan, { local: false }), { kind: 'invalid', message: /own address on bridge br0/ });
    assert.deepEqual(created, []);
  });

  it('lets the engine create a lab bridge and reuses a network another process created first', async () => {
    const lab = flat({ bridge: 'br9', createBridge: true });
    const body = networkCreateBody('shop', lab);
    let inspected = 0;
    const networks = {
      inspect: async () => (inspected++ === 0 ? undefined : stateOf(body)),
      create: async () => Promise.reject(conflict('create network berth-shop-lan: network with name berth-shop-lan already exists')),
    };
    assert.deepEqual(await ensureNetwork({ networks } as unknown as Engine, 'shop', lab, { local: false }), { name: 'berth-shop-lan', created: false });
  });
});
