import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BerthError, BerthErrors } from '../errors.js';
import { flat } from './ipam-fixture.js';
import { poolFromNetwork } from './pool.js';

function messagesOf(run: () => unknown): string[] {
  try {
    run();
  } catch (error) {
    assert.ok(error instanceof BerthError, String(error));
    return error instanceof BerthErrors ? error.problems.map((p) => p.message) : [error.message];
  }
  assert.fail('expected the network to be rejected');
}

describe('poolFromNetwork', () => {
  it('defaults the range to the subnet minus network and broadcast, and reserves the gateway', () => {
    assert.deepEqual(poolFromNetwork(flat(), []), {
      network: 'lan',
      subnet: '10.77.0.0/24',
      gateway: '10.77.0.1',
      first: '10.77.0.1',
      last: '10.77.0.254',
      reserved: ['10.77.0.1'],
      macPrefix: '02:42',
      quarantineMs: 60_000,
    });
  });

  it("reserves the listed addresses and the hosts' own addresses inside the subnet, sorted and once each", () => {
    const hosts = [
      { name: 'a', engine: 'tcp://10.77.0.11:2375', address: '10.77.0.11', insecure: true, labels: {} },
      { name: 'b', engine: 'tcp://192.168.1.5:2375', address: '192.168.1.5', insecure: true, labels: {} },
      { name: 'c', engine: 'unix:///var/run/docker.sock', insecure: false, labels: {} },
    ];
    const pool = poolFromNetwork(flat({ range: { first: '10.77.0.10', last: '10.77.0.20' }, reserved: ['10.77.0.15', '10.77.0.11'], macPrefix: '06:AB' }), hosts);
    assert.deepEqual(pool.reserved, ['10.77.0.1', '10.77.0.11', '10.77.0.15']);
    assert.deepEqual([pool.first, pool.last, pool.macPrefix], ['10.77.0.10', '10.77.0.20', '06:ab']);
  });

  it('refuses nat and host networks', () => {
    assert.deepEqual(messagesOf(() => poolFromNetwork(flat({ name: 'nat', mode: 'nat' }), [])), ['network "nat" is a nat network; only flat networks have an address pool']);
  });

  it('refuses a missing subnet', () => {
    assert.deepEqual(messagesOf(() => poolFromNetwork(flat({ subnet: undefined }), [])), ['networks.lan.subnet: a flat network needs a subnet like 10.77.0.0/24, got undefined']);
  });

  it('reports every addressing problem at once, with its key', () => {
    const spec = flat({ subnet: '10.77.0.9/24', gateway: '10.78.0.1', range: { first: '10.77.0.50', last: '10.77.0.255' }, reserved: ['10.77.1.1'], macPrefix: '03:00', quarantineMs: -1 });
    assert.deepEqual(messagesOf(() => poolFromNetwork(spec, [])), [
      'networks.lan.subnet: 10.77.0.9/24 has host bits set',
      'networks.lan.gateway: 10.78.0.1 is not a host address of 10.77.0.0/24',
      'networks.lan.range: 10.77.0.255 is not a host address of 10.77.0.0/24',
      'networks.lan.reserved[0]: 10.77.1.1 is not a host address of 10.77.0.0/24',
      'networks.lan.mac_prefix: 03:00 is a multicast prefix (the lowest bit of the first byte is set)',
      'networks.lan.quarantine: expected a duration of 0 or more, got -1 ms',
    ]);
  });

  it('refuses a vendor MAC prefix, a reversed range, a tiny subnet and a range with nothing left', () => {
    assert.match(messagesOf(() => poolFromNetwork(flat({ macPrefix: '00:1a' }), []))[0]!, /mac_prefix: 00:1a is not locally administered/);
    assert.deepEqual(messagesOf(() => poolFromNetwork(flat({ range: { first: '10.77.0.20', last: '10.77.0.10' } }), [])), ['networks.lan.range: 10.77.0.20 comes after 10.77.0.10']);
    assert.match(messagesOf(() => poolFromNetwork(flat({ subnet: '10.77.0.0/31', gateway: '10.77.0.1' }), []))[0]!, /\/31 leaves no room/);
    assert.deepEqual(messagesOf(() => poolFromNetwork(flat({ range: { first: '10.77.0.1', last: '10.77.0.2' }, reserved: ['10.77.0.2'] }), [])), [
      'networks.lan.range: 10.77.0.1-10.77.0.2 has no address left once the gateway, hosts and reserved addresses are taken out',
    ]);
  });

  it('accepts the smallest useful subnet, a /30', () => {
    const pool = poolFromNetwork(flat({ subnet: '10.77.0.0/30', gateway: '10.77.0.1' }), []);
    assert.deepEqual([pool.first, pool.last], ['10.77.0.1', '10.77.0.2']);
  });
});
