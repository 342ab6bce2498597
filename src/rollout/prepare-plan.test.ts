/** The whole plan of a rollout from a snapshot (prepare-plan.ts): plain data in, the steps out. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { afterRenames, planRollout, plannedRenames, type NamedContainer, type RolloutSnapshot } from './prepare-plan.js';
import type { PlannedRelease } from './prepare-step.js';
import type { RolloutPlan } from './rollout-plan.js';

const release: PlannedRelease = { service: 'web', number: 3, image: 'web', imageId: 'sha256:img', digest: 'sha256:dig', repository: 'berth/web', config: '{}', createdBy: 'ana' };
const main = (slot: string, host = 'h1'): NamedContainer => ({ host, id: `id-${slot}`, name: `shop.${slot}`, slot, role: 'main' });
const rolling = (steps: RolloutPlan['steps']): RolloutPlan => ({ target: 3, phase: 'forward', steps });

function snapshot(over: Partial<RolloutSnapshot>): RolloutSnapshot {
  return { project: 'shop', network: { name: 'lan', missingOn: [] }, observed: [], staleAddresses: [], door: true, instances: rolling([]), slotHosts: {}, ...over };
}

describe('planRollout', () => {
  it('a first release: the network where it is missing, the front door, the release row, the pulls, then the instances (one front door step)', () => {
    const plan = planRollout(
      snapshot({
        network: { name: 'lan', missingOn: ['h1', 'h2'] },
        record: release,
        instances: rolling([{ op: 'front-door' }, { op: 'create', slots: ['web-dev-1', 'web-dev-2', 'web-dev-3'] }, { op: 'converge', replicas: 3 }]),
        slotHosts: { 'web-dev-1': 'h1', 'web-dev-2': 'h2', 'web-dev-3': 'h1' },
        imageOn: { h1: true, h2: false },
      }),
    );
    assert.deepEqual(plan, {
      target: 3,
      phase: 'forward',
      steps: [
        { op: 'networks', hosts: ['h1', 'h2'] },
        { op: 'front-door' },
        { op: 'record-release', release },
        { op: 'pull', hosts: ['h2'] },
        { op: 'create', slots: ['web-dev-1', 'web-dev-2', 'web-dev-3'] },
        { op: 'converge', replicas: 3 },
      ],
    });
  });

  it('a release over a running one: stale addresses into quarantine first; nothing to create or pull where the image is', () => {
    const instances = rolling([{ op: 'front-door' }, { op: 'drain', slots: ['web-dev-1'] }, { op: 'replace', slots: ['web-dev-1'] }, { op: 'converge', replicas: 1 }]);
    const plan = planRollout(snapshot({ observed: [main('web-dev-1')], staleAddresses: ['10.0.0.12'], record: release, instances, slotHosts: { 'web-dev-1': 'h1' }, imageOn: { h1: true } }));
    assert.deepEqual(plan.steps, [
      { op: 'addresses', network: 'lan', stale: ['10.0.0.12'] },
      { op: 'front-door' },
      { op: 'record-release', release },
      { op: 'drain', slots: ['web-dev-1'] },
      { op: 'replace', slots: ['web-dev-1'] },
      { op: 'converge', replicas: 1 },
    ]);
  });

  it('a deploy: no front door; an image never pushed is never pulled', () => {
    const instances = rolling([{ op: 'create', slots: ['web-dev-1'] }, { op: 'converge', replicas: 1 }]);
    const plan = planRollout(snapshot({ door: false, network: { name: 'nat', missingOn: ['h1'] }, record: release, instances, slotHosts: { 'web-dev-1': 'h1' } }));
    assert.deepEqual(plan.steps.map((s) => s.op), ['networks', 'record-release', 'create', 'converge']);
  });

  it('a promotion of a recorded release: no release row; the front door comes first as the instance plan had it', () => {
    const instances = rolling([{ op: 'front-door' }, { op: 'canary', slots: ['web-dev-3'], share: 0.1 }]);
    assert.deepEqual(planRollout(snapshot({ instances, slotHosts: { 'web-dev-3': 'h2' }, imageOn: { h2: false } })).steps, [
      { op: 'front-door' },
      { op: 'pull', hosts: ['h2'] },
      { op: 'canary', slots: ['web-dev-3'], share: 0.1 },
    ]);
  });

  it('nothing to change: no step at all, so nothing is journaled or prepared', () => {
    assert.deepEqual(planRollout(snapshot({ network: { name: 'lan', missingOn: ['h1'] }, staleAddresses: ['10.0.0.9'], record: release })).steps, []);
  });

  it('renames containers from before names carried the project, unless the new name is taken', () => {
    const observed: NamedContainer[] = [
      { host: 'h1', id: 'a', name: 'web-dev-1', slot: 'web-dev-1', role: 'stray' },
      { host: 'h1', id: 'b', name: 'web-dev-2-prev', slot: 'web-dev-2', role: 'stray' },
      { host: 'h2', id: 'c', name: 'web-dev-3', slot: 'web-dev-3', role: 'stray' },
      main('web-dev-3', 'h2'),
      { host: 'h1', id: 'd', name: 'copy-of-web', slot: 'web-dev-4', role: 'stray' },
    ];
    const renames = plannedRenames('shop', observed);
    assert.deepEqual(renames, [
      { host: 'h1', id: 'a', from: 'web-dev-1', to: 'shop.web-dev-1' },
      { host: 'h1', id: 'b', from: 'web-dev-2-prev', to: 'shop.web-dev-2-prev' },
    ]);
    // The instance steps are planned from the containers as they are once renamed.
    assert.deepEqual(afterRenames('shop', observed, renames).map((o) => [o.name, o.role]), [
      ['shop.web-dev-1', 'main'],
      ['shop.web-dev-2-prev', 'aside'],
      ['web-dev-3', 'stray'],
      ['shop.web-dev-3', 'main'],
      ['copy-of-web', 'stray'],
    ]);
    const plan = planRollout(snapshot({ observed, instances: rolling([{ op: 'front-door' }, { op: 'converge', replicas: 1 }]) }));
    assert.deepEqual(plan.steps.map((s) => s.op), ['adopt-names', 'front-door', 'converge']);
  });
});
