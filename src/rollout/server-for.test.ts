/** Where a front door reaches an instance in a fleet: a flat one at its own IP, a nat one at its host's address and published port. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { NetworkMode, Project } from '../config/model.js';
import { Hosts } from '../runtime/hosts.js';
import type { ContainerState } from '../engine/containers.js';
import { FakeEngine } from '../testing/fake-engine.js';
import type { RolloutContext } from './rollout-context.js';
import { serverFor } from './steps.js';

const project = {
  hosts: [
    { name: 'local', engine: 'unix:///var/run/docker.sock' },
    { name: 'h2', engine: 'tcp://10.77.0.12:2376', address: '10.77.0.12' },
    { name: 'h3', engine: 'tcp://h3.lan:2376' },
  ],
} as Project;
const hosts = new Hosts(project, new FakeEngine({ endpoint: 'unix:///var/run/docker.sock' }));

function ctx(mode: NetworkMode): RolloutContext {
  return { run: { hosts }, service: { name: 'web', ports: [8080] }, target: { network: { mode }, dockerName: 'berth-shop-net' } } as unknown as RolloutContext;
}

const state = { networks: { 'berth-shop-net': { ip: '10.77.0.101', mac: '02:42:0a:4d:00:65' } }, ports: { '8080/tcp': 32771 } } as unknown as ContainerState;

describe('a backend of the front door on each host', () => {
  it('is a flat instance\'s own IP and container port, whatever host it is on', () => {
    assert.deepEqual(serverFor(ctx('flat'), 'h2', 'web-production-1', state, 100), { name: 'web-production-1', address: '10.77.0.101', port: 8080, weight: 100 });
  });

  it("is a nat instance's host address and published port: loopback for the local engine, the host's address, else the engine URL's host", () => {
    const nat = ctx('nat');
    assert.deepEqual(
      ['local', 'h2', 'h3'].map((h) => serverFor(nat, h, 'web-production-1', state, 100)).map((s) => `${s.address}:${s.port}`),
      ['127.0.0.1:32771', '10.77.0.12:32771', 'h3.lan:32771'],
    );
  });
});
