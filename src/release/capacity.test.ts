import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { capacityProblem, MAX_REPLICAS, type CapacityInput } from './capacity.js';

const flat = (replicas: number, free: number, held: number): CapacityInput => ({ service: 'web', environment: 'production', replicas, network: { name: 'lan', mode: 'flat' }, hosts: 1, pool: { free, held } });

describe('capacity before a scale', () => {
  it('a flat network fits what its free addresses and the slots’ own addresses hold, and no more', () => {
    assert.equal(capacityProblem(flat(191, 188, 3)), undefined);
    const problem = capacityProblem(flat(1_000, 188, 3));
    assert.equal(problem?.kind, 'invalid');
    assert.match(problem!.message, /address pool of network "lan" has room for 191 instance\(s\) of web \(3 address\(es\) its slots hold, 188 free\), not 1000/);
    assert.match(problem!.fix!, /berth scale web=191 --env production/);
  });

  it('the ceiling per service and environment comes first, whatever the pool', () => {
    const problem = capacityProblem(flat(1_000_000, 10_000_000, 0));
    assert.match(problem!.message, new RegExp(`more than Berth runs per service and environment \\(${MAX_REPLICAS}\\)`));
    assert.equal(capacityProblem(flat(MAX_REPLICAS, MAX_REPLICAS, 0)), undefined);
  });

  it('a host network runs one instance per host', () => {
    const host: CapacityInput = { service: 'web', environment: 'edge', replicas: 3, network: { name: 'host', mode: 'host' }, hosts: 2 };
    assert.match(capacityProblem(host)!.message, /one instance per host: 3 instances need 3 hosts, it has 2/);
    assert.equal(capacityProblem({ ...host, replicas: 2 }), undefined);
  });

  it('nat has no limit but the ceiling', () => {
    assert.equal(capacityProblem({ service: 'web', environment: 'dev', replicas: 500, network: { name: 'nat', mode: 'nat' }, hosts: 1 }), undefined);
  });
});
