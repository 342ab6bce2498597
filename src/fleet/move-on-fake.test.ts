/**
 * `berth move` of one instance and `berth host drain` on two FakeEngines (hosts h1 and h2, the
 * image pushed to a FakeRegistry both pull from), a flat network, and a FakeDoor: no Docker. Each
 * is checked by its journaled plan, where the engines run the instances (a moved one with the same
 * IP and MAC as before), the front door's servers, and the slots and host states the store records.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { rolloutView } from '../rollout/rollout-view.js';
import { allSlots } from '../store/deployments.js';
import { hostStates } from '../store/hosts.js';
import { currentRelease, rolloutById } from '../store/releases.js';
import { fakeProject, type FakeProject } from '../testing/fake-project.js';
import { releaseService } from '../release/operations.js';
import { drainHost, moveInstance, undrainHost } from './move.js';

describe('move and drain of a flat service between two FakeEngines', () => {
  let p: FakeProject;
  const options = () => ({ door: p.door, timeoutMs: 10_000 });
  const stop = new AbortController();
  /** What the ARP helpers of a move print: arping -D finds nobody answering for the IP; the announcement succeeds. */
  const helpers: string[] = [];
  const answerArpHelpers = async (host: string) => {
    const engine = p.engines.get(host)!;
    for await (const e of engine.events({ type: ['container'], event: ['start'] }, stop.signal)) {
      const name = e.attributes.name ?? '';
      if (!name.endsWith('-arp-check') && !name.endsWith('-arp-announce')) continue;
      helpers.push(`${host} ${name.replace(/^shop\./, '')}`);
      if (name.endsWith('-arp-check')) engine.write(e.id, 'ARPING 10.77.0.100\nSent 2 probe(s)\nReceived 0 response(s)\n');
      engine.exit(e.id, 0);
    }
  };

  before(async () => {
    p = await fakeProject('move-on-fake', {
      push: true,
      config: {
        project: 'shop',
        images: { web: { root: {} } },
        hosts: [
          { name: 'h1', engine: 'unix:///run/berth-fake-h1.sock' },
          { name: 'h2', engine: 'unix:///run/berth-fake-h2.sock' },
        ],
        networks: { lan: { mode: 'flat', bridge: 'br-fake', create_bridge: true, subnet: '10.77.0.0/24', gateway: '10.77.0.1', range: '10.77.0.100-10.77.0.140', quarantine: '0s' } },
        services: { web: { image: 'web', ports: [8080], replicas: 2, health: { command: ['check-web'], interval: '1s' }, stop_grace: '1s', rollout: { batch_size: 1, drain: '0s' } } },
        environments: { prod: { network: 'lan', lb_address: '127.0.0.1', hosts: ['h1', 'h2'] } },
      },
    });
    for (const host of ['h1', 'h2']) void answerArpHelpers(host).catch(() => {});
  });
  after(async () => {
    stop.abort();
    await p.close();
  });

  /** Each instance: slot, host, image, and its IP and MAC on the flat network as its engine reports them. */
  const instances = async () =>
    (await p.containers('web')).filter((c) => c.running).map((c) => ({ slot: c.labels['berth.instance']!, host: c.host, image: c.image, ip: c.networks['berth-shop-lan']?.ip, mac: c.networks['berth-shop-lan']?.mac }));
  const journal = async (id: number) => {
    const view = await rolloutView(p.db, (await rolloutById(p.db, id))!);
    return { kind: view.kind, status: view.status, steps: view.steps };
  };
  const slots = async () => (await allSlots(p.db, 'prod')).map((s) => [s.slot, s.host]).sort();

  it('a release spreads the two instances over h1 and h2, each with its IP and MAC', async () => {
    const result = await releaseService(p.context, 'web', 'prod', { ...options(), image: 'berth/web:v1' });
    assert.equal(result.status, 'succeeded');
    const now = await instances();
    assert.deepEqual(now.map((i) => [i.slot, i.host, i.image]), [['web-prod-1', 'h1', p.images.v1], ['web-prod-2', 'h2', p.images.v1]]);
    assert.ok(now.every((i) => i.ip?.startsWith('10.77.0.') && /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/.test(i.mac ?? '')), JSON.stringify(now));
    assert.equal(p.engines.get('h2')!.images.pulls.length, 1, 'h2 pulled the image from the registry');
    assert.deepEqual(await slots(), [['web-prod-1', 'h1'], ['web-prod-2', 'h2']]);
  });

  it('moves web-prod-1 to h2: it keeps its IP and MAC there, h1 runs nothing, the front door follows', async () => {
    const before = (await instances()).find((i) => i.slot === 'web-prod-1')!;
    const result = await moveInstance(p.context, 'web-prod-1', 'prod', 'h2', options());
    assert.deepEqual([result.moved, result.stayed], [[{ service: 'web', environment: 'prod', slot: 'web-prod-1', from: 'h1', to: 'h2' }], []]);
    assert.equal(result.rollouts.length, 1);
    assert.deepEqual(await journal(result.rollouts[0]!), {
      kind: 'move',
      status: 'succeeded',
      steps: [{ op: 'front-door' }, { op: 'drain', slots: ['web-prod-1'] }, { op: 'replace', slots: ['web-prod-1'], to: { 'web-prod-1': 'h2' } }, { op: 'converge', replicas: 2 }],
    });
    assert.deepEqual(helpers.splice(0), ['h2 web-prod-1-arp-check', 'h2 web-prod-1-arp-announce'], 'nobody answered for its IP before it started on h2, and it announced it there');
    const now = await instances();
    assert.deepEqual(now, [
      { slot: 'web-prod-1', host: 'h2', image: p.images.v1, ip: before.ip, mac: before.mac },
      { ...now[1]!, slot: 'web-prod-2', host: 'h2' },
    ]);
    assert.deepEqual(await p.engines.get('h1')!.containers.list(['berth.service=web']), [], 'the old container on h1 is removed');
    assert.deepEqual(await slots(), [['web-prod-1', 'h2'], ['web-prod-2', 'h2']]);
    assert.deepEqual(p.door.servers().map((s) => [s.name, s.state]), [['web-prod-1', 'ready'], ['web-prod-2', 'ready']]);
    assert.equal(await currentRelease(p.db, 'web', 'prod'), 1);
  });

  it('drains h2: both instances move to h1 with their addresses, h2 is left draining and empty', async () => {
    const before = new Map((await instances()).map((i) => [i.slot, i]));
    const result = await drainHost(p.context, 'h2', options());
    assert.deepEqual(result.moved.map((m) => [m.slot, m.from, m.to]), [['web-prod-1', 'h2', 'h1'], ['web-prod-2', 'h2', 'h1']]);
    assert.deepEqual(result.stayed, []);
    assert.deepEqual(helpers.splice(0), ['h1 web-prod-1-arp-check', 'h1 web-prod-1-arp-announce', 'h1 web-prod-2-arp-check', 'h1 web-prod-2-arp-announce']);
    assert.deepEqual(await journal(result.rollouts[0]!), {
      kind: 'move',
      status: 'succeeded',
      steps: [
        { op: 'front-door' },
        { op: 'drain', slots: ['web-prod-1'] },
        { op: 'replace', slots: ['web-prod-1'], to: { 'web-prod-1': 'h1' } },
        { op: 'drain', slots: ['web-prod-2'] },
        { op: 'replace', slots: ['web-prod-2'], to: { 'web-prod-2': 'h1' } },
        { op: 'converge', replicas: 2 },
      ],
    });
    assert.deepEqual(await instances(), ['web-prod-1', 'web-prod-2'].map((slot) => ({ ...before.get(slot)!, host: 'h1' })));
    assert.deepEqual(await p.engines.get('h2')!.containers.list(['berth.service=web']), []);
    assert.deepEqual(await slots(), [['web-prod-1', 'h1'], ['web-prod-2', 'h1']]);
    assert.deepEqual([...(await hostStates(p.db)).keys()], ['h2']);
    await assert.rejects(moveInstance(p.context, 'web-prod-1', 'prod', 'h2', options()), { kind: 'conflict', message: 'h2 is draining: it gets no new instances' });
    assert.deepEqual(await undrainHost(p.context, 'h2'), { host: 'h2', state: 'ready', wasDraining: true });
  });
});
