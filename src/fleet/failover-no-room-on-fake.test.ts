/**
 * A failover the fleet has no room for (FakeEngines of 2 CPUs, instances that reserve 1.5): the
 * lost host's instance waits, reported with what is short where, and is placed by the next
 * pass once there is room (a drained host undrained). A release of the pair meanwhile never places
 * the slot on the lost host: refused with the shortage without room, placed elsewhere with room.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { allSlots } from '../store/deployments.js';
import { setHostHealth } from '../store/host-health.js';
import { markDraining } from '../store/hosts.js';
import { fakeProject, type FakeProject } from '../testing/fake-project.js';
import { releaseService } from '../release/operations.js';
import { failoverOnce } from './failover.js';
import { undrainHost } from './move.js';

describe('a failover without room waits, and is placed once there is room', () => {
  let p: FakeProject;
  const options = () => ({ rollout: () => ({ door: p.door, timeoutMs: 10_000 }) });
  const slots = async () => (await allSlots(p.db, 'prod')).map((s) => [s.slot, s.host]).sort();

  before(async () => {
    p = await fakeProject('failover-no-room', {
      push: true,
      config: {
        project: 'shop',
        images: { web: { root: {} } },
        hosts: ['h1', 'h2', 'h3'].map((name) => ({ name, engine: `unix:///run/berth-fake-${name}.sock` })),
        services: { web: { image: 'web', ports: [8080], replicas: 2, resources: { cpus: 1.5 }, health: { command: ['check-web'], interval: '1s' }, stop_grace: '1s' } },
        environments: { prod: { network: 'nat', lb_address: '127.0.0.1', hosts: ['h1', 'h2', 'h3'] } },
      },
    });
    await markDraining(p.db, 'h3', 'test', 'kept free');
    assert.equal((await releaseService(p.context, 'web', 'prod', { door: p.door, timeoutMs: 10_000, image: 'berth/web:v1' })).status, 'succeeded');
    assert.deepEqual(await slots(), [['web-prod-1', 'h1'], ['web-prod-2', 'h2']]);
    p.engines.get('h2')!.stopAnswering();
    await setHostHealth(p.db, { name: 'h2', state: 'down', since: Date.now() - 60_000, reason: 'the test took it down' });
  });
  after(async () => p.close());

  it('h2 is lost and h1 has no room, h3 is draining: web-prod-2 waits, and the shortage says why', async () => {
    const report = await failoverOnce(p.context, options());
    assert.deepEqual(report.lost, ['h2']);
    assert.deepEqual(report.plans.map((x) => [x.moves.size, x.waiting]), [[0, [{ slot: 'web-prod-2', host: 'h2' }]]]);
    assert.deepEqual(report.events.map((e) => e.type), ['failover-waiting']);
    assert.match(report.events[0]!.message, /^web-prod-2 of lost host\(s\) h2 wait for room: service web in prod needs room for 1 more instance\(s\) with 1\.5 CPU free; hosts of prod: h1 \(0\.5 CPU free\), h2 \(unreachable: down \(failed over\)\), h3 \(draining\)$/);
    assert.deepEqual(await slots(), [['web-prod-1', 'h1'], ['web-prod-2', 'h2']], 'nothing moved');
  });

  it('a release of the pair while web-prod-2 waits never places it on lost h2: refused with the shortage, nothing changed', async () => {
    const h1 = p.engines.get('h1')!;
    const before = await h1.containers.list(['berth.service=web']);
    await assert.rejects(releaseService(p.context, 'web', 'prod', { door: p.door, timeoutMs: 10_000, image: 'berth/web:v1', force: true }), (error: Error & { kind?: string }) => {
      assert.equal(error.kind, 'conflict', error.message);
      assert.match(error.message, /^service web in prod needs room for 1 more instance\(s\) with 1\.5 CPU free; hosts of prod: h1 \(0\.5 CPU free\), h2 \(unreachable: down \(failed over\)\), h3 \(draining\)$/);
      return true;
    });
    assert.deepEqual(await slots(), [['web-prod-1', 'h1'], ['web-prod-2', 'h2']], 'nothing moved');
    assert.deepEqual(await h1.containers.list(['berth.service=web']), before, 'web-prod-1 untouched');
  });

  it('h3 undrained: the next pass recreates web-prod-2 there, in the front door', async () => {
    await undrainHost(p.context, 'h3');
    const report = await failoverOnce(p.context, options());
    assert.deepEqual(report.events.map((e) => [e.type, e.type === 'failover' ? e.outcome : '', e.type === 'failover' ? e.moves : []]), [['failover', 'succeeded', [{ slot: 'web-prod-2', from: 'h2', to: 'h3' }]]]);
    assert.deepEqual(await slots(), [['web-prod-1', 'h1'], ['web-prod-2', 'h3']]);
    const running = (await p.engines.get('h3')!.containers.list(['berth.service=web'])).length;
    assert.equal(running, 1);
    assert.deepEqual(p.door.servers().map((s) => s.name).sort(), ['web-prod-1', 'web-prod-2']);
  });
});

describe('a release while a lost host\'s slot has not failed over yet places it elsewhere', () => {
  let p: FakeProject;
  const slots = async () => (await allSlots(p.db, 'prod')).map((s) => [s.slot, s.host]).sort();

  before(async () => {
    p = await fakeProject('failover-release-elsewhere', {
      push: true,
      config: {
        project: 'shop',
        images: { web: { root: {} } },
        hosts: ['h1', 'h2', 'h3'].map((name) => ({ name, engine: `unix:///run/berth-fake-${name}.sock` })),
        services: { web: { image: 'web', ports: [8080], replicas: 2, health: { command: ['check-web'], interval: '1s' }, stop_grace: '1s' } },
        environments: { prod: { network: 'nat', lb_address: '127.0.0.1', hosts: ['h1', 'h2', 'h3'] } },
      },
    });
    assert.equal((await releaseService(p.context, 'web', 'prod', { door: p.door, timeoutMs: 10_000, image: 'berth/web:v1' })).status, 'succeeded');
    assert.deepEqual(await slots(), [['web-prod-1', 'h1'], ['web-prod-2', 'h2']]);
    p.engines.get('h2')!.stopAnswering();
    await setHostHealth(p.db, { name: 'h2', state: 'down', since: Date.now() - 60_000, reason: 'the test took it down' });
  });
  after(async () => p.close());

  it('web-prod-2 goes to h3 (spread), never asked of lost h2; web-prod-1 replaced where it runs', async () => {
    const result = await releaseService(p.context, 'web', 'prod', { door: p.door, timeoutMs: 10_000, image: 'berth/web:v1', force: true });
    assert.equal(result.status, 'succeeded');
    assert.deepEqual(await slots(), [['web-prod-1', 'h1'], ['web-prod-2', 'h3']]);
    assert.equal((await p.engines.get('h3')!.containers.list(['berth.service=web'])).length, 1);
    assert.deepEqual(p.door.servers().map((s) => s.name).sort(), ['web-prod-1', 'web-prod-2']);
  });
});
