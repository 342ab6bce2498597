import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { HostSpec } from '../config/model.js';
import { hostsView, type HostsInput } from './hosts-view.js';

const GB = 1024 ** 3;
const hosts: HostSpec[] = [
  { name: 'a', engine: 'unix:///var/run/docker.sock', insecure: false, labels: {} },
  { name: 'b', engine: 'tcp://10.0.0.2:2376', address: '10.0.0.2', insecure: false, labels: { rack: 'r1' } },
  { name: 'c', engine: 'tcp://10.0.0.3:2376', insecure: false, labels: {} },
];

function input(overrides: Partial<HostsInput> = {}): HostsInput {
  return {
    hosts,
    reach: [
      { host: 'a', engine: hosts[0]!.engine, reachable: true, version: '20.10.24', apiVersion: '1.41', rttMs: 1.5 },
      { host: 'b', engine: hosts[1]!.engine, reachable: true, version: '24.0.7', apiVersion: '1.43', rttMs: 3 },
      { host: 'c', engine: hosts[2]!.engine, reachable: false, error: 'cannot reach the Docker Engine at tcp://10.0.0.3:2376 (ECONNREFUSED)' },
    ],
    capacity: new Map([
      ['a', { cpus: 2, memoryBytes: 8 * GB }],
      ['b', { cpus: 16, memoryBytes: 64 * GB }],
    ]),
    draining: new Map(),
    slots: [
      { host: 'a', service: 'web' },
      { host: 'b', service: 'web' },
      { host: 'b', service: 'worker' },
      { host: 'c', service: 'web' },
      { host: 'b', service: 'gone' },
    ],
    resources: new Map([
      ['web', { cpus: 0.5, memoryBytes: GB }],
      ['worker', { cpus: 2 }],
    ]),
    ...overrides,
  };
}

describe('hosts view', () => {
  it('gives each host its engine answer, capacity, placed instances and their reservations', () => {
    assert.deepEqual(hostsView(input({ health: new Map([['c', { state: 'down', since: 1_700_000_000_000, reason: '4 ping(s) in a row missed' }]]) })), [
      {
        name: 'a',
        engine: 'unix:///var/run/docker.sock',
        state: 'ready',
        reachable: true,
        health: null,
        healthSince: null,
        draining: false,
        version: '20.10.24',
        apiVersion: '1.41',
        rttMs: 1.5,
        cpus: 2,
        memory: 8 * GB,
        instances: 1,
        reservedCpus: 0.5,
        reservedMemory: GB,
        labels: {},
        address: null,
      },
      {
        name: 'b',
        engine: 'tcp://10.0.0.2:2376',
        state: 'ready',
        reachable: true,
        health: null,
        healthSince: null,
        draining: false,
        version: '24.0.7',
        apiVersion: '1.43',
        rttMs: 3,
        cpus: 16,
        memory: 64 * GB,
        // A slot of a service no longer in berth.yaml counts as placed and reserves nothing.
        instances: 3,
        reservedCpus: 2.5,
        reservedMemory: GB,
        labels: { rack: 'r1' },
        address: '10.0.0.2',
      },
      {
        name: 'c',
        engine: 'tcp://10.0.0.3:2376',
        state: 'unreachable',
        reachable: false,
        error: 'cannot reach the Docker Engine at tcp://10.0.0.3:2376 (ECONNREFUSED)',
        health: 'down',
        healthSince: 1_700_000_000_000,
        healthReason: '4 ping(s) in a row missed',
        draining: false,
        version: null,
        apiVersion: null,
        rttMs: null,
        cpus: null,
        memory: null,
        instances: 1,
        reservedCpus: 0.5,
        reservedMemory: GB,
        labels: {},
        address: null,
      },
    ]);
  });

  it('shows a drained host as draining while it answers, and as unreachable (still marked draining) when it does not', () => {
    const view = hostsView(input({ draining: new Map([['b', { reason: 'disk swap' }], ['c', { reason: '' }]]) }));
    assert.deepEqual(
      view.map((h) => [h.name, h.state, h.draining, h.drainReason]),
      [
        ['a', 'ready', false, undefined],
        ['b', 'draining', true, 'disk swap'],
        ['c', 'unreachable', true, undefined],
      ],
    );
  });
});
