import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { actionAsDrift, planReconcile, type DesiredPair, type ObservedState, type SeenInstance } from './plan.js';

const pair = (over: Partial<DesiredPair> = {}): DesiredPair => ({
  service: 'api',
  environment: 'prod',
  release: 4,
  replicas: 2,
  hosts: ['a'],
  slotHosts: { 'api-prod-1': 'a', 'api-prod-2': 'a' },
  specHashes: { 'api-prod-1': 'h1', 'api-prod-2': 'h2' },
  ...over,
});

const instance = (slot: string, over: Partial<SeenInstance> = {}): SeenInstance => ({
  service: 'api',
  environment: 'prod',
  slot,
  host: 'a',
  name: `p.${slot}`,
  role: 'main',
  state: 'running',
  status: 'Up 2 minutes (healthy)',
  specHash: `h${slot.slice(-1)}`,
  ...over,
});

const seen = (over: Partial<ObservedState> = {}): ObservedState => ({ instances: [instance('api-prod-1'), instance('api-prod-2')], unreachable: [], frontDoors: [], ...over });

describe('planReconcile', () => {
  it('changes nothing when every slot runs its release and the front door runs', () => {
    const plan = planReconcile([pair({ frontDoor: { address: '127.0.0.1', port: 8000 } })], seen({ frontDoors: [{ service: 'api', environment: 'prod', running: true, portTaken: false }] }));
    assert.deepEqual(plan, { actions: [], drift: [] });
  });

  it('recreates a slot whose container is gone', () => {
    const plan = planReconcile([pair()], seen({ instances: [instance('api-prod-1')] }));
    assert.deepEqual(plan.actions.map((a) => [a.action, a.action === 'recreate' ? [a.slot, a.reason] : []]), [['recreate', ['api-prod-2', 'missing']]]);
    assert.deepEqual(plan.drift, []);
  });

  it('recreates a slot whose container exited, died or was never started; not one that restarts', () => {
    const plan = planReconcile(
      [pair({ replicas: 4, specHashes: {} })],
      seen({
        instances: [
          instance('api-prod-1', { state: 'exited', status: 'Exited (137) 3 seconds ago' }),
          instance('api-prod-2', { state: 'dead', status: 'Dead' }),
          instance('api-prod-3', { state: 'created', status: 'Created' }),
          instance('api-prod-4', { state: 'restarting', status: 'Restarting (1) 2 seconds ago' }),
        ],
      }),
    );
    assert.deepEqual(
      plan.actions.map((a) => (a.action === 'recreate' ? [a.slot, a.reason] : [])),
      [
        ['api-prod-1', 'exited'],
        ['api-prod-2', 'exited'],
        ['api-prod-3', 'exited'],
      ],
    );
    assert.match(plan.actions[0]!.message, /exited \(Exited \(137\)/);
    assert.deepEqual(plan.drift.map((d) => [d.kind, d.slot]), [['restarting', 'api-prod-4']]);
  });

  it('restarts a front door whose process is gone, on its recorded address and port', () => {
    const plan = planReconcile([pair({ frontDoor: { address: '127.0.0.1', port: 8000 } })], seen({ frontDoors: [{ service: 'api', environment: 'prod', running: false, portTaken: false }] }));
    assert.deepEqual(plan.actions, [{ action: 'restart-front-door', service: 'api', environment: 'prod', address: '127.0.0.1', port: 8000, message: 'the front door of api in prod (127.0.0.1:8000) does not run' }]);
  });

  it('reports a front door whose port another process took, and does not start it', () => {
    const plan = planReconcile([pair({ frontDoor: { address: '127.0.0.1', port: 8000 } })], seen({ frontDoors: [{ service: 'api', environment: 'prod', running: false, portTaken: true }] }));
    assert.deepEqual(plan.actions, []);
    assert.deepEqual(plan.drift.map((d) => d.kind), ['port-taken']);
    assert.match(plan.drift[0]!.message, /another process listens on its port 127\.0\.0\.1:8000/);
  });

  it('reports a front door that runs but does not answer', () => {
    const plan = planReconcile([pair({ frontDoor: { address: '127.0.0.1', port: 8000 } })], seen({ frontDoors: [{ service: 'api', environment: 'prod', running: true, portTaken: false, problem: 'timeout' }] }));
    assert.deepEqual(plan.actions, []);
    assert.deepEqual(plan.drift.map((d) => d.kind), ['front-door-unresponsive']);
  });

  it('reports a slot that runs another spec than its release (changed by hand) and leaves it', () => {
    const plan = planReconcile([pair()], seen({ instances: [instance('api-prod-1'), instance('api-prod-2', { specHash: 'other' })] }));
    assert.deepEqual(plan.actions, []);
    assert.deepEqual(plan.drift.map((d) => [d.kind, d.slot, d.host]), [['spec-changed', 'api-prod-2', 'a']]);
  });

  it('does not compare spec hashes it could not compute, and says why', () => {
    const plan = planReconcile([pair({ specHashes: undefined, specProblem: 'secret TOKEN is not set' })], seen({ instances: [instance('api-prod-1', { specHash: 'x' }), instance('api-prod-2', { specHash: 'y' })] }));
    assert.deepEqual(plan.drift.map((d) => d.kind), ['spec-unknown']);
    assert.match(plan.drift[0]!.message, /secret TOKEN is not set/);
  });

  it('does nothing to a pair a rollout holds (lock or open canary), and says so', () => {
    const plan = planReconcile(
      [pair({ busy: 'a rollout is in progress: rollout #7', frontDoor: { address: '127.0.0.1', port: 8000 } })],
      seen({ instances: [], frontDoors: [{ service: 'api', environment: 'prod', running: false, portTaken: false }] }),
    );
    assert.deepEqual(plan.actions, []);
    assert.deepEqual(plan.drift.map((d) => d.kind), ['rollout-in-progress']);
    assert.match(plan.drift[0]!.message, /rollout #7.*waits for it to end/);
  });

  it('with a host of the pair unreachable: reports it, and what it would fix waits; a slot recorded there is unknown, not missing', () => {
    const plan = planReconcile(
      [pair({ hosts: ['a', 'b'], slotHosts: { 'api-prod-1': 'a', 'api-prod-2': 'b' } })],
      { instances: [instance('api-prod-1', { state: 'exited', status: 'Exited (1)' })], unreachable: [{ host: 'b', error: 'connection refused' }], frontDoors: [] },
    );
    assert.deepEqual(plan.actions, []);
    assert.deepEqual(plan.drift.map((d) => [d.kind, d.host ?? d.slot]), [
      ['host-unreachable', 'b'],
      ['host-unreachable', 'b'],
      ['exited', 'api-prod-1'],
    ]);
    assert.equal(plan.drift[0]!.service, undefined, 'the host itself, for the whole project');
    assert.equal(plan.drift[1]!.service, 'api');
    assert.match(plan.drift[2]!.message, /recreates it.*once b answers/);
  });

  it('a host no pair uses being down blocks nothing', () => {
    const plan = planReconcile([pair()], seen({ instances: [instance('api-prod-1')], unreachable: [{ host: 'z', error: 'timeout' }] }));
    assert.deepEqual(plan.actions.map((a) => a.action), ['recreate']);
    assert.deepEqual(plan.drift.map((d) => [d.kind, d.host]), [['host-unreachable', 'z']]);
  });

  it('reports paused and unhealthy instances, surplus slots, leftovers and duplicates without acting on them', () => {
    const plan = planReconcile(
      [pair({ replicas: 3, specHashes: undefined, slotHosts: {}, hosts: ['a', 'b'] })],
      seen({
        instances: [
          instance('api-prod-1', { state: 'paused', status: 'Up 1 minute (Paused)' }),
          instance('api-prod-2', { status: 'Up 1 minute (unhealthy)' }),
          instance('api-prod-3'),
          instance('api-prod-3', { host: 'b' }),
          instance('api-prod-4'),
          instance('api-prod-2', { role: 'aside', name: 'p.api-prod-2-prev', state: 'exited' }),
        ],
      }),
    );
    assert.deepEqual(plan.actions, []);
    assert.deepEqual(plan.drift.map((d) => [d.kind, d.slot]), [
      ['paused', 'api-prod-1'],
      ['unhealthy', 'api-prod-2'],
      ['duplicate', 'api-prod-3'],
      ['surplus', 'api-prod-4'],
      ['leftover', 'api-prod-2'],
    ]);
  });

  it('plans each pair on its own instances, pairs in a stable order', () => {
    const other = pair({ service: 'web', environment: 'dev', replicas: 1, slotHosts: {}, specHashes: undefined });
    const plan = planReconcile([pair(), other], seen({ instances: [instance('api-prod-1'), instance('api-prod-2'), { ...instance('web-dev-1'), service: 'web', environment: 'dev', state: 'exited', status: 'Exited (0)' }] }));
    assert.deepEqual(plan.actions.map((a) => [a.service, a.environment, a.action === 'recreate' ? a.slot : '']), [['web', 'dev', 'web-dev-1']]);
  });

  it('shows an action as the drift status reports', () => {
    const [recreate] = planReconcile([pair()], seen({ instances: [instance('api-prod-1')] })).actions;
    assert.deepEqual(actionAsDrift(recreate!), {
      kind: 'missing',
      service: 'api',
      environment: 'prod',
      slot: 'api-prod-2',
      message: 'slot api-prod-2 has no container (removed by hand?); the reconciler recreates it on its slot and address',
    });
    const door = actionAsDrift({ action: 'restart-front-door', service: 'api', environment: 'prod', address: '127.0.0.1', port: 1, message: 'down' });
    assert.equal(door.kind, 'front-door-down');
  });
  it('leaves a slot of a lost host to the failover: failing-over, not recreated', () => {
    const plan = planReconcile(
      [pair({ hosts: ['a'], slotHosts: { 'api-prod-1': 'a', 'api-prod-2': 'b' } })],
      seen({ instances: [instance('api-prod-1')], unreachable: [{ host: 'b', error: 'connection refused' }], lost: [{ host: 'b', since: Date.UTC(2026, 11, 7, 15, 0) }] }),
    );
    assert.deepEqual(plan.actions, []);
    assert.deepEqual(plan.drift.map((d) => [d.kind, d.slot, d.host]), [['host-unreachable', undefined, 'b'], ['failing-over', 'api-prod-2', 'b']]);
    assert.equal(plan.drift[1]!.message, 'slot api-prod-2 was on b, down since 2026-12-07T15:00:00.000Z; the failover recreates it on another host of prod with its address, as soon as one has room (its events: failover, failover-waiting)');
  });
});
