import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { PlacementHost, SlotRequest } from '../placement/plan.js';
import { planFailover, type FailoverGroup } from './failover-plan.js';

const host = (name: string, over: Partial<PlacementHost> = {}): PlacementHost => ({ name, cpus: 4, memoryBytes: 0, labels: {}, state: 'ready', ...over });
const request = (service: string, ordinal: number, current: string, over: Partial<SlotRequest> = {}): SlotRequest => ({
  slot: `${service}-prod-${ordinal}`,
  service,
  environment: 'prod',
  cpus: 1,
  memoryBytes: 0,
  hosts: ['a', 'b', 'c'],
  labels: {},
  current,
  ...over,
});
const group = (service: string, requests: SlotRequest[]): FailoverGroup => ({ service, environment: 'prod', requests });
const lost = new Set(['c']);
const hosts = [host('a'), host('b'), host('c', { state: 'unreachable', reason: 'down (failed over)' })];

describe('planFailover', () => {
  it('moves only the slots of the lost host, spread over the others; the rest stay', () => {
    const plans = planFailover({ hosts, reserved: [], lost, groups: [group('web', [request('web', 1, 'a'), request('web', 2, 'b'), request('web', 3, 'c'), request('web', 4, 'c')])] });
    assert.deepEqual(plans.map((p) => [p.service, [...p.moves], p.waiting, p.shortage]), [['web', [['web-prod-3', 'a'], ['web-prod-4', 'b']], [], undefined]]);
  });

  it('a pair with nothing on the lost host has no plan', () => {
    assert.deepEqual(planFailover({ hosts, reserved: [], lost, groups: [group('api', [request('api', 1, 'a')])] }), []);
  });

  it('without room for all, those that fit move and the others wait, with the shortage in words', () => {
    const requests = [request('web', 1, 'a', { cpus: 3 }), request('web', 2, 'b', { cpus: 3 }), request('web', 3, 'c', { cpus: 1 }), request('web', 4, 'c', { cpus: 3 })];
    const [plan] = planFailover({ hosts, reserved: [], lost, groups: [group('web', requests)] });
    assert.deepEqual([...plan!.moves], [['web-prod-3', 'a']]);
    assert.deepEqual(plan!.waiting, [{ slot: 'web-prod-4', host: 'c' }]);
    assert.equal(plan!.shortage, 'service web in prod needs room for 1 more instance(s) with 3 CPU free; hosts of prod: a (0 CPU free), b (1 CPU free), c (unreachable: down (failed over))');
  });

  it('each group sees where the groups before it went: two services share the room that is left', () => {
    const plans = planFailover({
      hosts: [host('a', { cpus: 2 }), host('b', { cpus: 1 }), hosts[2]!],
      reserved: [],
      lost,
      groups: [group('web', [request('web', 1, 'c'), request('web', 2, 'c')]), group('api', [request('api', 1, 'c')])],
    });
    assert.deepEqual(plans.map((p) => [p.service, [...p.moves], p.waiting.map((w) => w.slot)]), [
      ['web', [['web-prod-1', 'a'], ['web-prod-2', 'b']], []],
      ['api', [['api-prod-1', 'a']], []],
    ]);
  });

  it('never onto a draining host, nor one without the slot\'s labels', () => {
    const plans = planFailover({
      hosts: [host('a', { state: 'draining' }), host('b', { labels: { zone: 'x' } }), hosts[2]!],
      reserved: [],
      lost,
      groups: [group('web', [request('web', 1, 'c', { labels: { zone: 'y' } })])],
    });
    assert.deepEqual([plans[0]!.moves.size, plans[0]!.waiting.map((w) => w.slot)], [0, ['web-prod-1']]);
    assert.match(plans[0]!.shortage!, /^service web in prod needs a host with zone=y/);
  });
});
