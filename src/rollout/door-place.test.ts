/** Where an environment's doors run: with a shared address, keepalived beside them (no refusal any more). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { EnvironmentSpec, HostSpec, Project } from '../config/model.js';
import { doorContainerName, doorCreateBody } from '../lb/door-container.js';
import { doorAddress } from '../lb/front-door.js';
import type { RunContext } from '../runtime/context.js';
import { Hosts } from '../runtime/hosts.js';
import { FakeEngine } from '../testing/fake-engine.js';
import { doorId, doorPlaceOf } from './door-place.js';

const host = (name: string, ip: string) => ({ name, engine: `tcp://${ip}:2376`, address: ip, insecure: false, labels: {} }) as unknown as HostSpec;

function runOn(engines: Map<string, FakeEngine>): RunContext {
  const project = { name: 'shop', hosts: [host('lb1', '10.88.0.11'), host('lb2', '10.88.0.12')], services: new Map([['web', {}], ['api', {}]]) } as unknown as Project;
  return { project, db: undefined as never, env: {}, hosts: new Hosts(project, new FakeEngine(), (spec) => engines.get(spec.name)!) };
}

const environment = (frontDoor: EnvironmentSpec['frontDoor']): EnvironmentSpec => ({ name: 'production', hosts: ['lb1', 'lb2'], network: 'flat', services: {}, lbAddress: '0.0.0.0', frontDoor, protected: false, approvalTimeoutMs: 86_400_000 });

describe('the place of a door', () => {
  it('a pair with a shared address: both hosts are members, clients use the shared address, keepalived is settled beside the doors', async () => {
    const engines = new Map([['lb1', new FakeEngine({ endpoint: 'tcp://10.88.0.11:2376' })], ['lb2', new FakeEngine({ endpoint: 'tcp://10.88.0.12:2376' })]]);
    const place = doorPlaceOf(runOn(engines), environment({ hosts: ['lb1', 'lb2'], address: '10.88.0.250' }));
    assert.deepEqual(place.members.map((m) => [m.host, m.address, m.local]), [['lb1', '10.88.0.11', false], ['lb2', '10.88.0.12', false]]);
    assert.equal(place.vrrp?.address, '10.88.0.250');
    assert.equal(doorAddress(place, '0.0.0.0'), '10.88.0.250');
    // Another environment's door on lb1 is none of this environment's keepalived: nothing to place, no image asked for.
    engines.get('lb1')!.images.add({ tags: ['berth/berth-door:x'] });
    await engines.get('lb1')!.containers.create(doorCreateBody({ project: 'shop', spec: { id: doorId('web', 'staging'), bind: { address: '0.0.0.0', port: 8080 } }, image: 'berth/berth-door:x', vrrp: false }));
    assert.deepEqual([...((await place.vrrp!.settle()) as Map<string, string>)], [['lb1', 'none'], ['lb2', 'none']]);
    assert.equal(doorContainerName('shop', doorId('web', 'production')), 'berth-door-shop-production-web');
  });

  it('one door host without an address: no keepalived, clients use the host', () => {
    const engines = new Map([['lb1', new FakeEngine({ endpoint: 'tcp://10.88.0.11:2376' })]]);
    const place = doorPlaceOf(runOn(engines), environment({ hosts: ['lb1'] }));
    assert.equal(place.vrrp, undefined);
    assert.equal(doorAddress(place, '0.0.0.0'), '10.88.0.11');
  });
});
