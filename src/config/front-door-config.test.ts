/** environments.<env>.front_door as loadProject reads and checks it: hosts, and the address they share. */
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { loadForTest, problemsOf, tempProjects } from './problems-for-test.js';

const projects = tempProjects('berth-front-door-config-test-');
afterEach(() => projects.cleanup());

const HOSTS = 'hosts:\n  - { name: lb1, engine: "unix:///run/lb1.sock", address: 10.88.0.11 }\n  - { name: lb2, engine: "unix:///run/lb2.sock", address: 10.88.0.12 }\n  - { name: app, engine: "unix:///run/app.sock", address: 10.88.0.13 }\n';
const LAN = 'networks:\n  lan:\n    mode: flat\n    bridge: br0\n    subnet: 10.88.0.0/24\n    gateway: 10.88.0.1\n    range: 10.88.0.100-10.88.0.199\n';

function project(frontDoor: string): string {
  return projects.make({
    'berth.yaml': `project: shop\nimages:\n  base:\n    root: {}\nservices:\n  web:\n    image: base\n${HOSTS}${LAN}environments:\n  production:\n    hosts: [app]\n    network: lan\n${frontDoor}`,
    'images/base/static.sh': ['#!/bin/sh\n', 0o755],
  });
}

describe('front_door', () => {
  it('names the door hosts and the address they share; the doors listen on every address of their hosts', () => {
    const p = loadForTest(project('    front_door: { hosts: [lb1, lb2], address: 10.88.0.250 }\n'));
    const production = p.environments.get('production')!;
    assert.deepEqual(production.frontDoor, { hosts: ['lb1', 'lb2'], address: '10.88.0.250' });
    assert.equal(production.lbAddress, '0.0.0.0');
  });

  it('refuses an lb_address other than 0.0.0.0 for doors behind a shared address, at its key', () => {
    const yaml = (lb: string) => project(`    lb_address: ${lb}\n    front_door: { hosts: [lb1, lb2], address: 10.88.0.250 }\n`);
    assert.deepEqual(problemsOf(yaml('10.88.0.250')), [
      {
        message: "berth.yaml:23: environments.production.lb_address: the doors behind the shared address 10.88.0.250 listen on all their hosts' addresses, not on 10.88.0.250",
        fix: 'remove lb_address (or set it to 0.0.0.0): clients use the shared address',
      },
    ]);
    assert.equal(loadForTest(yaml('0.0.0.0')).environments.get('production')!.lbAddress, '0.0.0.0');
    assert.equal(loadForTest(project('    lb_address: 10.88.0.11\n    front_door: { hosts: [lb1] }\n')).environments.get('production')!.lbAddress, '10.88.0.11', 'one door host may listen on one of its addresses');
  });

  it('one door host needs no address; without front_door the door stays on this machine', () => {
    assert.deepEqual(loadForTest(project('    front_door: { hosts: [lb1] }\n')).environments.get('production')!.frontDoor, { hosts: ['lb1'] });
    assert.equal(loadForTest(project('    front_door: { hosts: [lb1] }\n')).environments.get('production')!.lbAddress, '0.0.0.0');
    const plain = loadForTest(project(''));
    assert.equal(plain.environments.get('production')!.frontDoor, undefined);
    assert.equal(plain.environments.get('production')!.lbAddress, '127.0.0.1');
  });

  it('reports unknown and repeated hosts, a missing address for two hosts and an address for one, at their keys', () => {
    assert.deepEqual(problemsOf(project('    front_door:\n      hosts: [lb1, lb9, lb1]\n')), [
      { message: 'berth.yaml:24: environments.production.front_door.hosts[1]: unknown host "lb9"', fix: 'declare it under "hosts:", or use one of: lb1, lb2, app' },
      { message: 'berth.yaml:24: environments.production.front_door.hosts[2]: host "lb1" is named twice', fix: 'name each door host once' },
      { message: 'berth.yaml:23: environments.production.front_door.address: 3 door hosts share one address, and none is given', fix: 'add address: a free address of the LAN the door hosts are on, e.g. address: 10.88.0.250' },
    ]);
    assert.deepEqual(problemsOf(project('    front_door:\n      hosts: [lb1]\n      address: 10.88.0.250\n')).map((p) => p.message), [
      'berth.yaml:25: environments.production.front_door.address: a shared address needs two or more door hosts',
    ]);
    assert.deepEqual(problemsOf(project('    front_door:\n      hosts: []\n')).map((p) => p.message), ['berth.yaml:24: environments.production.front_door.hosts: name at least one host the doors run on']);
    assert.match(problemsOf(project('    front_door:\n      hosts: [lb1, lb2]\n      address: 10.88.0.250\n      port: 80\n'))[0]!.message, /^berth\.yaml:26: environments\.production\.front_door\.port: /);
  });

  it('refuses an address outside the LAN, a host\'s, the gateway or one Berth may give an instance', () => {
    const problem = (address: string) => problemsOf(project(`    front_door:\n      hosts: [lb1, lb2]\n      address: ${address}\n`)).map((p) => p.message.replace('berth.yaml:25: environments.production.front_door.address: ', ''));
    assert.deepEqual(problem('10.99.0.250'), ['10.99.0.250 is not a host address of the LAN 10.88.0.0/24 (network lan)']);
    assert.deepEqual(problem('10.88.0.255'), ['10.88.0.255 is not a host address of the LAN 10.88.0.0/24 (network lan)']);
    assert.deepEqual(problem('10.88.0.12'), ["10.88.0.12 is host lb2's own address"]);
    assert.deepEqual(problem('10.88.0.1'), ['10.88.0.1 is the gateway of network lan']);
    assert.deepEqual(problem('10.88.0.150'), ['10.88.0.150 is in the range Berth gives instances of network lan (10.88.0.100-10.88.0.199)']);
    assert.deepEqual(problem('not-an-ip'), ['"not-an-ip" is not an IPv4 address like 10.0.0.5']);
  });
});
