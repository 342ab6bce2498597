import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { canaryWeights, planCanary, planRolling, type SlotState } from './rollout-plan.js';

const slots = (n: number, current = false): SlotState[] => Array.from({ length: n }, (_, i) => ({ slot: `api-prod-${i + 1}`, ordinal: i + 1, current }));
const ops = (steps: ReturnType<typeof planRolling>) => steps.map((s) => ('slots' in s ? `${s.op} ${s.slots.map((x) => x.split('-').pop()).join(',')}` : s.op === 'converge' ? `converge ${s.replicas}` : s.op));

describe('the rollout planner', () => {
  it('a first rollout creates every slot', () => {
    assert.deepEqual(ops(planRolling('api', 'prod', 3, [], { batchSize: 1, maxUnavailable: 1, maxSurge: 0 })), ['front-door', 'create 1,2,3', 'converge 3']);
  });

  it('rolls outdated slots one batch at a time, each drained before it is replaced', () => {
    assert.deepEqual(ops(planRolling('api', 'prod', 4, slots(4), { batchSize: 2, maxUnavailable: 2, maxSurge: 0 })), [
      'front-door',
      'drain 1,2',
      'replace 1,2',
      'drain 3,4',
      'replace 3,4',
      'converge 4',
    ]);
  });

  it('max_unavailable bounds the batch; surge instances come first and go last', () => {
    assert.deepEqual(ops(planRolling('api', 'prod', 3, slots(3), { batchSize: 5, maxUnavailable: 0, maxSurge: 1 })), [
      'front-door',
      'surge 4',
      'drain 1',
      'replace 1',
      'drain 2',
      'replace 2',
      'drain 3',
      'replace 3',
      'remove 4',
      'converge 3',
    ]);
  });

  it('up-to-date slots are left alone; scaling down removes the highest slots', () => {
    const state = [...slots(2, true), { slot: 'api-prod-3', ordinal: 3, current: false }];
    assert.deepEqual(ops(planRolling('api', 'prod', 2, state, { batchSize: 1, maxUnavailable: 1, maxSurge: 0 })), ['front-door', 'remove 3', 'converge 2']);
  });

  it('refuses settings that could never replace an instance', () => {
    assert.throws(() => planRolling('api', 'prod', 2, slots(2), { batchSize: 1, maxUnavailable: 0, maxSurge: 0 }), /max_unavailable and max_surge are both 0/);
  });

  it('a canary gets about its share of the replicas, at least one, in slots above them', () => {
    assert.deepEqual(planCanary('api', 'prod', 6, slots(6), 0.1), [{ op: 'front-door' }, { op: 'canary', slots: ['api-prod-7'], share: 0.1 }]);
    assert.deepEqual((planCanary('api', 'prod', 10, slots(10), 0.3)[1] as { slots: string[] }).slots, ['api-prod-11', 'api-prod-12', 'api-prod-13']);
  });

  it('weights give the canaries their share of requests', () => {
    for (const [main, canaries, share] of [[6, 1, 0.1], [3, 1, 0.5], [10, 2, 0.05], [2, 1, 0.9]] as const) {
      const w = canaryWeights(main, canaries, share);
      const got = (w.canary * canaries) / (w.canary * canaries + w.main * main);
      assert.ok(Math.abs(got - share) < 0.01, `${main}/${canaries}/${share}: ${got}`);
      assert.ok(w.main >= 1 && w.main <= 256 && w.canary >= 1 && w.canary <= 256);
    }
  });
});
