import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseSubnet } from '../network/addresses.js';
import { addressIn, pickFreeSubnet, planLab } from './lab-plan.js';
import { randomTestPrefix } from './test-subnet.js';
import { parseMade } from './sweep-plan.js';

describe('planLab', () => {
  it("names every host's namespace, veths, exec-root and cgroup after the lab, and gives it the next address from .11", () => {
    const plan = planLab('0123abcd', '10.201.7.0/24', 2);
    assert.deepEqual(plan, {
      id: '0123abcd',
      bridge: 'lb0123abcd',
      subnet: '10.201.7.0/24',
      gateway: '10.201.7.1',
      hosts: [
        { name: 'h1', ip: '10.201.7.11', netns: 'berth-lab-0123abcd-1', vethOutside: 'lb0123abcdh1', vethInside: 'lb0123abcdp1', execRoot: '/run/berth-lab-0123abcd-1', cgroup: 'berth-lab-0123abcd-1' },
        { name: 'h2', ip: '10.201.7.12', netns: 'berth-lab-0123abcd-2', vethOutside: 'lb0123abcdh2', vethInside: 'lb0123abcdp2', execRoot: '/run/berth-lab-0123abcd-2', cgroup: 'berth-lab-0123abcd-2' },
      ],
    });
  });

  it('keeps interface names within 15 characters and every name one the sweep acts on', () => {
    const plan = planLab('ffffffff', '10.250.255.0/24', 99);
    const last = plan.hosts.at(-1)!;
    assert.ok([plan.bridge, last.vethOutside, last.vethInside].every((name) => name.length <= 15));
    const record = [`bridge ${plan.bridge}`, `forward ${plan.bridge}`, ...plan.hosts.flatMap((h) => [`netns ${h.netns}`, `link ${h.vethOutside}`, `execroot ${h.execRoot.slice(5)}`, `cgroup ${h.cgroup}`])];
    assert.equal(parseMade(record.join('\n')).length, record.length);
  });

  it('refuses what it cannot name', () => {
    assert.throws(() => planLab('0123', '10.201.7.0/24', 1), /8 hex digits/);
    assert.throws(() => planLab('0123abcd', '10.201.0.0/16', 1), /a \/24/);
    assert.throws(() => planLab('0123abcd', '10.201.7.0/24', 100), /1 to 99 hosts/);
  });
});

describe('addresses of a lab', () => {
  it('gives the address .last of the LAN', () => {
    assert.equal(addressIn('10.201.7.0/24', 100), '10.201.7.100');
    assert.throws(() => addressIn('10.201.7.0/24', 255), /no address/);
  });

  it('picks a /24 that overlaps nothing taken, trying again after a taken one', () => {
    // The second and third octets of each candidate in turn: 10.241.7.0/24 is taken, 10.242.9.0/24 is not.
    const octets = [241, 7, 242, 9];
    const random = () => octets.shift()!;
    const taken = [parseSubnet('10.241.0.0/16')!, parseSubnet('10.242.8.5/32')!];
    assert.equal(pickFreeSubnet(taken, random), '10.242.9.0/24');
  });

  it("picks from 10.240-250, apart from the integration files' 10.210-239", () => {
    const asked: Array<[number, number]> = [];
    pickFreeSubnet([], (min, max) => {
      asked.push([min, max]);
      return min;
    });
    assert.deepEqual(asked[0], [240, 251]);
    for (let i = 0; i < 200; i++) {
      const second = Number(randomTestPrefix().split('.')[1]);
      assert.ok(second >= 210 && second < 240, `test prefix second octet ${second}`);
    }
  });
});
