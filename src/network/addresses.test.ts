import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BerthError } from '../errors.js';
import {
  addressesIn,
  compareIps,
  formatSubnet,
  inRange,
  inSubnet,
  intToIp,
  ipToInt,
  isNetworkAddress,
  macFor,
  macPrefixProblem,
  parseIp,
  parseSubnet,
} from './addresses.js';

describe('parseIp / intToIp', () => {
  it('round-trips the edges of the address space', () => {
    for (const ip of ['0.0.0.0', '255.255.255.255', '10.77.0.1', '192.168.1.254', '128.0.0.0']) {
      assert.equal(intToIp(ipToInt(ip)), ip);
    }
  });

  it('reads the address as an unsigned big-endian integer', () => {
    assert.equal(parseIp('10.0.0.1'), 0x0a000001);
    assert.equal(parseIp('255.255.255.255'), 0xffffffff);
  });

  it('rejects malformed addresses, leading zeros and octets above 255', () => {
    for (const bad of ['', '10.0.0', '10.0.0.0.1', '10.0.0.256', '10.0.0.01', '10.0.0.-1', ' 10.0.0.1', '10.0.0.1/24', 'a.b.c.d']) {
      assert.equal(parseIp(bad), undefined, bad);
    }
  });

  it('throws an invalid-input error from ipToInt', () => {
    assert.throws(() => ipToInt('10.0.0'), (e: unknown) => e instanceof BerthError && e.kind === 'invalid' && /not an IPv4 address: "10.0.0"/.test(e.message));
  });
});

describe('parseSubnet', () => {
  it('gives the network and broadcast address', () => {
    const s = parseSubnet('10.77.0.0/24')!;
    assert.equal(intToIp(s.base), '10.77.0.0');
    assert.equal(intToIp(s.broadcast), '10.77.0.255');
    assert.equal(s.prefix, 24);
  });

  it('masks host bits, and isNetworkAddress tells', () => {
    assert.equal(formatSubnet(parseSubnet('10.77.0.5/24')!), '10.77.0.0/24');
    assert.equal(isNetworkAddress('10.77.0.5/24'), false);
    assert.equal(isNetworkAddress('10.77.0.0/24'), true);
  });

  it('handles /0 and /32', () => {
    assert.deepEqual(parseSubnet('0.0.0.0/0'), { base: 0, prefix: 0, broadcast: 0xffffffff });
    assert.deepEqual(parseSubnet('10.0.0.7/32'), { base: 0x0a000007, prefix: 32, broadcast: 0x0a000007 });
  });

  it('rejects malformed subnets', () => {
    for (const bad of ['10.0.0.0', '10.0.0.0/33', '10.0.0.0/', '10.0.0/24', '10.0.0.0/24/1', '10.0.0.0/024']) {
      assert.equal(parseSubnet(bad), undefined, bad);
    }
  });
});

describe('inSubnet / inRange / addressesIn / compareIps', () => {
  const s = parseSubnet('192.168.10.0/25')!;

  it('includes the network and broadcast addresses and nothing outside', () => {
    assert.ok(inSubnet(ipToInt('192.168.10.0'), s));
    assert.ok(inSubnet(ipToInt('192.168.10.127'), s));
    assert.ok(!inSubnet(ipToInt('192.168.10.128'), s));
    assert.ok(!inSubnet(ipToInt('192.168.9.255'), s));
  });

  it('checks ranges inclusively', () => {
    const [a, b] = [ipToInt('10.0.0.10'), ipToInt('10.0.0.20')];
    assert.ok(inRange(a, a, b) && inRange(b, a, b));
    assert.ok(!inRange(a - 1, a, b) && !inRange(b + 1, a, b));
  });

  it('iterates a range in order, across an octet boundary', () => {
    assert.deepEqual([...addressesIn(ipToInt('10.0.0.254'), ipToInt('10.0.1.1'))].map(intToIp), ['10.0.0.254', '10.0.0.255', '10.0.1.0', '10.0.1.1']);
    assert.deepEqual([...addressesIn(2, 1)], []);
  });

  it('orders numerically, not as text', () => {
    assert.deepEqual(['10.0.0.100', '10.0.0.20', '9.0.0.1'].sort(compareIps), ['9.0.0.1', '10.0.0.20', '10.0.0.100']);
  });
});

describe('MACs', () => {
  it('puts the four IPv4 bytes after the prefix', () => {
    assert.equal(macFor('10.77.0.5', '02:42'), '02:42:0a:4d:00:05');
    assert.equal(macFor('192.168.255.1', '06:AB'), '06:ab:c0:a8:ff:01');
  });

  it('is 1:1 over a whole /20', () => {
    const seen = new Set<string>();
    for (const ip of addressesIn(ipToInt('172.16.0.0'), ipToInt('172.16.15.255'))) seen.add(macFor(intToIp(ip), '02:42'));
    assert.equal(seen.size, 4096);
  });

  it('accepts locally administered unicast prefixes', () => {
    for (const ok of ['02:42', '06:00', '0a:ff', 'fe:01', 'AE:00']) assert.equal(macPrefixProblem(ok), undefined, ok);
  });

  it('rejects multicast, vendor-assigned and malformed prefixes, saying why', () => {
    assert.match(macPrefixProblem('03:42')!, /multicast/);
    assert.match(macPrefixProblem('01:00')!, /multicast/);
    assert.match(macPrefixProblem('00:1a')!, /not locally administered/);
    assert.match(macPrefixProblem('02-42')!, /two MAC bytes/);
    assert.match(macPrefixProblem('02:42:00')!, /two MAC bytes/);
    assert.throws(() => macFor('10.0.0.1', '01:00'), (e: unknown) => e instanceof BerthError && e.kind === 'invalid' && /multicast/.test(e.message));
  });
});
