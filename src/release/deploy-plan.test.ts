import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ObservedInstance } from '../runtime/observe.js';
import { deploySteps, describeSteps, planDeploy, type DesiredInstance } from './deploy-plan.js';

const want = (n: number, hash = 'h1', host = 'local'): DesiredInstance => ({ slot: `api-dev-${n}`, ordinal: n, host, specHash: hash });
const seen = (n: number, extra: Partial<ObservedInstance> = {}): ObservedInstance => ({
  id: `c${n}`,
  name: `p.api-dev-${n}`,
  role: 'main',
  slot: `api-dev-${n}`,
  host: 'local',
  running: true,
  restarting: false,
  exitCode: 0,
  specHash: 'h1',
  ...extra,
});

describe('the deploy planner', () => {
  it('creates every slot of a first deploy', () => {
    const steps = planDeploy([want(1), want(2)], []);
    assert.deepEqual(steps.map((s) => `${s.action} ${s.slot}`), ['create api-dev-1', 'create api-dev-2']);
  });

  it('keeps running instances whose spec is unchanged, replaces changed or stopped ones, and says why', () => {
    const steps = planDeploy([want(1), want(2, 'h2'), want(3)], [seen(1), seen(2), seen(3, { running: false, exitCode: 137 })]);
    assert.deepEqual(
      steps.map((s) => [s.action, s.slot, s.reason]),
      [
        ['keep', 'api-dev-1', 'up to date and running'],
        ['replace', 'api-dev-2', 'image or configuration changed'],
        ['replace', 'api-dev-3', 'not running (last exit code 137)'],
      ],
    );
  });

  it('--force replaces even up-to-date instances', () => {
    assert.equal(planDeploy([want(1)], [seen(1)], { force: true })[0]!.action, 'replace');
  });

  it('removes surplus slots after the rest, but leftovers that hold a desired slot first', () => {
    const steps = planDeploy([want(1)], [seen(1), seen(2), seen(1, { id: 'old', name: 'p.api-dev-1-prev', role: 'aside' })]);
    const removals = steps.filter((s) => s.action === 'remove');
    assert.deepEqual(
      removals.map((s) => [s.id, s.action === 'remove' && s.leftover, s.reason]),
      [
        ['c2', false, 'not desired (above the replica count, or no longer in the environment)'],
        ['old', true, 'left over from an interrupted deploy'],
      ],
    );
  });

  it('treats an instance on another host than its placement as a move: create there, remove here', () => {
    const steps = planDeploy([want(1, 'h1', 'b')], [seen(1, { host: 'a' })]);
    assert.deepEqual(steps.map((s) => `${s.action} ${s.host}`), ['create b', 'remove a']);
    assert.equal(steps[1]!.reason, 'moved to host b');
  });

  it('a container of the slot under another name is removed before the slot is launched', () => {
    const steps = planDeploy([want(1)], [seen(1, { id: 'legacy', name: 'api-dev-1', role: 'stray' })]);
    assert.deepEqual(steps.map((s) => [s.action, s.action === 'remove' && s.leftover]), [['create', false], ['remove', true]]);
  });

  it('as rollout steps: new slots, the first replacement alone, the other replacements together, surplus, converge; no front door', () => {
    const steps = planDeploy([want(1, 'h2'), want(2, 'h2'), want(3, 'h2'), want(4)], [seen(1), seen(2), seen(3), seen(5)]);
    assert.deepEqual(deploySteps(steps, 4), [
      { op: 'create', slots: ['api-dev-4'] },
      { op: 'replace', slots: ['api-dev-1'] },
      { op: 'replace', slots: ['api-dev-2', 'api-dev-3'] },
      { op: 'remove', slots: ['api-dev-5'] },
      { op: 'converge', replicas: 4 },
    ]);
    // Everything up to date: no steps, so the executor records no rollout.
    assert.deepEqual(deploySteps(planDeploy([want(1)], [seen(1)]), 1), []);
    assert.deepEqual(deploySteps(planDeploy([want(1)], [seen(1)], { force: true }), 1, { force: true }), [
      { op: 'replace', slots: ['api-dev-1'], force: true },
      { op: 'converge', replicas: 1 },
    ]);
  });

  it('summarises the steps', () => {
    assert.equal(describeSteps(planDeploy([want(1), want(2)], [seen(1)])), '1 created, 1 kept');
    assert.equal(describeSteps([]), 'nothing to do');
  });
});
