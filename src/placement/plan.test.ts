import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { planPlacement, type PlacementHost, type PlacementInput, type Reservation, type SlotRequest } from './plan.js';

const GIB = 1024 ** 3;
const MIB = 1024 ** 2;

const host = (name: string, extra: Partial<PlacementHost> = {}): PlacementHost => ({ name, cpus: 4, memoryBytes: 8 * GIB, labels: {}, state: 'ready', ...extra });

function slots(service: string, environment: string, n: number, hosts: readonly string[], extra: Partial<SlotRequest> = {}): SlotRequest[] {
  return Array.from({ length: n }, (_, i) => ({ slot: `${service}-${environment}-${i + 1}`, service, environment, cpus: 0, memoryBytes: 0, hosts, labels: {}, ...extra }));
}

const where = (input: PlacementInput) => planPlacement(input).placements.map((p) => `${p.slot}@${p.host}`);

describe('placement plan', () => {
  it('spreads a service over its hosts in the environment order, one per host before any gets two', () => {
    const hosts = ['a', 'b', 'c'];
    assert.deepEqual(where({ hosts: hosts.map((h) => host(h)), reserved: [], slots: slots('api', 'prod', 4, hosts) }), ['api-prod-1@a', 'api-prod-2@b', 'api-prod-3@c', 'api-prod-4@a']);
  });

  it('spreads before it balances load: a second instance goes to the busier host that has none of the service', () => {
    const reserved: Reservation[] = [{ host: 'b', service: 'db', environment: 'prod', cpus: 3, memoryBytes: 0 }];
    const plan = where({ hosts: [host('a'), host('b')], reserved, slots: slots('api', 'prod', 2, ['a', 'b'], { cpus: 0.5 }) });
    assert.deepEqual(plan, ['api-prod-1@a', 'api-prod-2@b']);
  });

  it('puts a slot on the least loaded of the hosts holding equally few of its service', () => {
    const reserved: Reservation[] = [
      { host: 'a', service: 'db', environment: 'prod', cpus: 2, memoryBytes: 0 },
      { host: 'b', service: 'db', environment: 'prod', cpus: 0, memoryBytes: 6 * GIB },
    ];
    assert.deepEqual(where({ hosts: [host('a'), host('b'), host('c')], reserved, slots: slots('api', 'prod', 1, ['a', 'b', 'c']) }), ['api-prod-1@c']);
  });

  it('keeps a slot on its current host even when another host is emptier', () => {
    const request = slots('api', 'prod', 2, ['a', 'b']).map((s) => ({ ...s, current: 'a' }));
    const plan = planPlacement({ hosts: [host('a'), host('b')], reserved: [], slots: request });
    assert.deepEqual(plan.placements.map((p) => [p.host, p.reason]), [['a', 'kept'], ['a', 'kept']]);
  });

  it('moves a slot whose host left the environment, and says why', () => {
    const request = slots('api', 'prod', 2, ['a', 'b']);
    request[0]!.current = 'b';
    request[1]!.current = 'gone';
    const plan = planPlacement({ hosts: [host('a'), host('b')], reserved: [], slots: request });
    assert.deepEqual(plan.placements.map((p) => [p.slot, p.host, p.reason]), [['api-prod-1', 'b', 'kept'], ['api-prod-2', 'a', 'host-gone']]);
    assert.equal(plan.placements[1]!.note, 'moved to a: gone is no longer a host of prod');
  });

  it('moves a kept slot whose grown reservation no longer fits its host, and refuses when no host has room', () => {
    // Three instances grew to 1.5 CPU each: two no longer fit on a 2-CPU host beside each other.
    const request = slots('api', 'prod', 3, ['a', 'b', 'c'], { cpus: 1.5 }).map((s, i) => ({ ...s, current: i < 2 ? 'b' : 'c' }));
    const hosts = ['a', 'b', 'c'].map((h) => host(h, { cpus: 2 }));
    const plan = planPlacement({ hosts, reserved: [], slots: request });
    assert.deepEqual(plan.placements.map((p) => [p.slot, p.host, p.reason]), [['api-prod-1', 'b', 'kept'], ['api-prod-2', 'a', 'outgrown'], ['api-prod-3', 'c', 'kept']]);
    const full = planPlacement({ hosts: hosts.slice(1), reserved: [], slots: request.map((s) => ({ ...s, hosts: ['b', 'c'] })) });
    assert.deepEqual(full.problems.map((p) => p.slots), [['api-prod-2']]);
    assert.match(full.problems[0]!.message, /needs room for 1 more instance\(s\) with 1\.5 CPU free/);
  });

  it('keeps a slot on an unreachable host (it may still run there) but places nothing new there', () => {
    const request = slots('api', 'prod', 3, ['a', 'b']);
    request[0]!.current = 'b';
    const plan = planPlacement({ hosts: [host('a'), host('b', { state: 'unreachable', reason: 'connection refused' })], reserved: [], slots: request });
    assert.deepEqual(plan.placements.map((p) => `${p.slot}@${p.host}`), ['api-prod-1@b', 'api-prod-2@a', 'api-prod-3@a']);
    assert.equal(plan.placements[0]!.note, 'kept on b (unreachable: it may still run there)');
  });

  it('gives a draining host nothing new, but leaves what runs there until it is asked to move', () => {
    const request = slots('api', 'prod', 2, ['a', 'b']);
    request[0]!.current = 'a';
    const plan = planPlacement({ hosts: [host('a', { state: 'draining' }), host('b')], reserved: [], slots: request });
    assert.deepEqual(plan.placements.map((p) => `${p.slot}@${p.host}:${p.reason}`), ['api-prod-1@a:kept', 'api-prod-2@b:new']);
  });

  it('moves the slots that must leave their host to another one, spread', () => {
    const request = slots('api', 'prod', 3, ['a', 'b', 'c']).map((s) => ({ ...s, current: 'a', leave: true }));
    const plan = planPlacement({ hosts: [host('a', { state: 'draining' }), host('b'), host('c')], reserved: [], slots: request });
    assert.deepEqual(plan.placements.map((p) => `${p.host}:${p.reason}`), ['b:leaving', 'c:leaving', 'b:leaving']);
    assert.equal(plan.placements[0]!.note, 'moved off a to b');
  });

  it('never puts a leaving slot back on the host it leaves, even if that host is still ready', () => {
    const request = slots('api', 'prod', 1, ['a', 'b'], { current: 'a', leave: true });
    assert.deepEqual(where({ hosts: [host('a'), host('b')], reserved: [], slots: request }), ['api-prod-1@b']);
  });

  it('moves a pinned slot where it was asked, even against the spread', () => {
    const request = slots('api', 'prod', 2, ['a', 'b']);
    request[0]!.current = 'a';
    request[1]!.current = 'b';
    request[1]!.pin = 'a';
    const plan = planPlacement({ hosts: [host('a'), host('b')], reserved: [], slots: request });
    assert.deepEqual(plan.placements.map((p) => `${p.host}:${p.reason}`), ['a:kept', 'a:pinned']);
  });

  it('refuses a pin to a host that is draining, not the environment\'s, without the labels or full', () => {
    const hosts = [host('a'), host('b', { state: 'draining' }), host('c', { labels: { rack: 'r2' } }), host('d', { cpus: 1 }), host('x')];
    const base = slots('api', 'prod', 1, ['a', 'b', 'c', 'd'], { cpus: 2, labels: {} });
    const refused = (pin: string, labels: Record<string, string> = {}) => planPlacement({ hosts, reserved: [], slots: [{ ...base[0]!, pin, labels }] }).problems.map((p) => p.message);
    assert.deepEqual(refused('b'), ['cannot move api-prod-1 to b: b is draining']);
    assert.deepEqual(refused('x'), ['cannot move api-prod-1 to x: x is not a host of prod (its hosts: a, b, c, d)']);
    assert.deepEqual(refused('a', { rack: 'r1' }), ['cannot move api-prod-1 to a: a does not carry rack=r1 (no rack)']);
    assert.deepEqual(refused('d'), ['cannot move api-prod-1 to d: it needs 2 CPU free and d has 1 CPU']);
  });

  it('places only on hosts carrying every label the slot asks for', () => {
    const hosts = [host('a', { labels: { rack: 'r1' } }), host('b', { labels: { rack: 'r2', ssd: 'yes' } }), host('c', { labels: { rack: 'r2' } })];
    const request = slots('api', 'prod', 3, ['a', 'b', 'c'], { labels: { rack: 'r2', ssd: 'yes' } });
    assert.deepEqual(where({ hosts, reserved: [], slots: request }), ['api-prod-1@b', 'api-prod-2@b', 'api-prod-3@b']);
  });

  it('moves a slot whose host no longer carries its labels', () => {
    const hosts = [host('a', { labels: { rack: 'r1' } }), host('b', { labels: { rack: 'r2' } })];
    const plan = planPlacement({ hosts, reserved: [], slots: slots('api', 'prod', 1, ['a', 'b'], { labels: { rack: 'r2' }, current: 'a' }) });
    assert.deepEqual(plan.placements.map((p) => [p.host, p.reason, p.note]), [['b', 'labels-changed', 'moved to b: a does not carry rack=r2']]);
  });

  it('respects capacity: stacks on a host with room before it overfills one, counting other services', () => {
    const hosts = [host('a', { cpus: 2 }), host('b', { cpus: 2 })];
    const reserved: Reservation[] = [{ host: 'a', service: 'db', environment: 'prod', cpus: 1.5, memoryBytes: 0 }];
    assert.deepEqual(where({ hosts, reserved, slots: slots('api', 'prod', 3, ['a', 'b'], { cpus: 0.5 }) }), ['api-prod-1@b', 'api-prod-2@a', 'api-prod-3@b']);
  });

  it('counts CPUs exactly: ten slots of 0.1 CPU fill one CPU', () => {
    const plan = planPlacement({ hosts: [host('a', { cpus: 1 })], reserved: [], slots: slots('api', 'prod', 11, ['a'], { cpus: 0.1 }) });
    assert.equal(plan.placements.length, 10);
    assert.deepEqual(plan.problems.map((p) => p.slots), [['api-prod-11']]);
  });

  it('places the largest slots first, so smaller ones fill what is left', () => {
    const hosts = [host('a', { cpus: 2 }), host('b', { cpus: 1 })];
    const request = [...slots('small', 'prod', 2, ['a', 'b'], { cpus: 0.5 }), ...slots('big', 'prod', 1, ['a', 'b'], { cpus: 2 })];
    assert.deepEqual(where({ hosts, reserved: [], slots: request }), ['small-prod-1@b', 'small-prod-2@b', 'big-prod-1@a']);
  });

  it('does not limit a dimension the engine did not report', () => {
    const plan = planPlacement({ hosts: [host('a', { cpus: 0, memoryBytes: 0 })], reserved: [], slots: slots('api', 'prod', 3, ['a'], { cpus: 8, memoryBytes: 64 * GIB }) });
    assert.equal(plan.placements.length, 3);
  });

  it('names what is short on which hosts when the fleet is exhausted', () => {
    const hosts = [
      host('h1', { labels: { rack: 'r1' } }),
      host('h2', { labels: { rack: 'r1' }, state: 'draining' }),
      host('h3', { labels: { rack: 'r2' } }),
      host('h4', { labels: { rack: 'r1' }, state: 'unreachable', reason: 'connection refused' }),
    ];
    const reserved: Reservation[] = [{ host: 'h1', service: 'db', environment: 'production', cpus: 3.8, memoryBytes: 0 }];
    const plan = planPlacement({ hosts, reserved, slots: slots('api', 'production', 3, ['h1', 'h2', 'h3', 'h4'], { cpus: 0.5, labels: { rack: 'r1' } }) });
    assert.deepEqual(plan.placements, []);
    assert.deepEqual(plan.problems, [
      {
        service: 'api',
        environment: 'production',
        slots: ['api-production-1', 'api-production-2', 'api-production-3'],
        message: 'service api in production needs room for 3 more instance(s) with 0.5 CPU free each on hosts with rack=r1; rack=r1 hosts: h1 (0.2 CPU free), h2 (draining), h4 (unreachable: connection refused)',
      },
    ]);
  });

  it('says so when no host of the environment carries the labels', () => {
    const plan = planPlacement({ hosts: [host('a', { labels: { rack: 'r2' } }), host('b')], reserved: [], slots: slots('api', 'prod', 2, ['a', 'b'], { labels: { rack: 'r1' } }) });
    assert.deepEqual(plan.problems.map((p) => p.message), ['service api in prod needs a host with rack=r1 for 2 instance(s); no host of prod carries it: a (rack=r2), b (no rack)']);
  });

  it('says which host is being left when it is the only one with room', () => {
    const plan = planPlacement({ hosts: [host('a'), host('b', { state: 'draining' })], reserved: [], slots: slots('api', 'prod', 1, ['a', 'b'], { current: 'a', leave: true, memoryBytes: 256 * MIB }) });
    assert.deepEqual(plan.problems.map((p) => p.message), ['service api in prod needs room for 1 more instance(s) with 256 MiB free; hosts of prod: a (being left), b (draining)']);
  });

  it('names a fleet with no ready host', () => {
    const plan = planPlacement({ hosts: [host('a', { state: 'draining' })], reserved: [], slots: slots('api', 'prod', 1, ['a']) });
    assert.deepEqual(plan.problems.map((p) => p.message), ['service api in prod needs a ready host for 1 more instance(s); hosts of prod: a (draining)']);
  });

  it('places what fits and reports only the rest', () => {
    const plan = planPlacement({ hosts: [host('a', { memoryBytes: GIB })], reserved: [], slots: slots('api', 'prod', 3, ['a'], { memoryBytes: 512 * MIB }) });
    assert.deepEqual(plan.placements.map((p) => p.slot), ['api-prod-1', 'api-prod-2']);
    assert.deepEqual(plan.problems.map((p) => p.slots), [['api-prod-3']]);
    assert.match(plan.problems[0]!.message, /a \(0 MiB free\)$/);
  });

  it('gives the same plan for the same input', () => {
    const hosts = ['a', 'b', 'c', 'd'].map((h, i) => host(h, { cpus: 2 + i }));
    const input: PlacementInput = { hosts, reserved: [], slots: [...slots('api', 'prod', 7, ['a', 'b', 'c', 'd'], { cpus: 0.7 }), ...slots('web', 'prod', 5, ['a', 'b', 'c', 'd'], { cpus: 0.3 })] };
    assert.deepEqual(planPlacement(input), planPlacement(structuredClone(input)));
  });
});
