/** `berth doctor` in a project whose environment shares an address between two door hosts: each door host and the address are checked. */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { afterEach, describe, it } from 'node:test';
import { tempProjects } from '../../config/problems-for-test.js';
import { main } from '../main.js';

const projects = tempProjects('berth-doctor-doors-test-');
afterEach(() => projects.cleanup());

describe('berth doctor and the door hosts', () => {
  it('checks keepalived on each door host of an environment with a shared address, and the address, naming the environment', async () => {
    // The door hosts' engines are sockets nobody listens on: each is reported, none is passed.
    const dir = projects.make({
      'berth.yaml':
        'project: shop\nimages:\n  base:\n    root: {}\nservices:\n  web:\n    image: base\n' +
        'hosts:\n  - { name: lb1, engine: "unix:///nonexistent/lb1.sock", address: 10.88.0.11 }\n  - { name: lb2, engine: "unix:///nonexistent/lb2.sock", address: 10.88.0.12 }\n' +
        'networks:\n  lan:\n    mode: flat\n    bridge: br0\n    subnet: 10.88.0.0/24\n    gateway: 10.88.0.1\n    range: 10.88.0.100-10.88.0.199\n' +
        'environments:\n  production:\n    hosts: [lb1]\n    network: lan\n    front_door: { hosts: [lb1, lb2], address: 10.88.0.250 }\n  dev:\n    hosts: [lb1]\n',
      'images/base/static.sh': ['#!/bin/sh\n', 0o755],
    });
    const out: string[] = [];
    const code = await main(['doctor', '--json'], { isTTY: false, color: false, out: (t) => out.push(t), err: () => {} }, { HOME: dir, DOCKER_HOST: `unix://${join(dir, 'no-engine.sock')}` }, dir);
    assert.equal(code, 1);
    const checks = (JSON.parse(out.join('\n')) as { checks: { name: string; status: string; detail: string }[] }).checks;
    const doors = checks.filter((c) => c.name.startsWith('door host') || c.name.startsWith('shared address'));
    assert.deepEqual(
      doors.map((c) => [c.name, c.status]),
      [
        ['door host lb1 (production)', 'fail'],
        ['door host lb2 (production)', 'fail'],
        ['shared address 10.88.0.250 (production)', 'warn'],
      ],
    );
    assert.match(doors[0]!.detail, /^environment production: the engine did not answer: /);
    assert.equal(doors[2]!.detail, 'held by none of the members Berth could see; not seen on lb1, lb2');
  });
});
