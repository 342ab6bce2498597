/**
 * Host failure on three FakeEngines (h1, h2, h3; the image pushed to a FakeRegistry they pull
 * from), a flat environment and a nat one, and a FakeDoor: no Docker. The server's host watch
 * (driven tick by tick with its own clock) finds h3 down; the failover recreates h3's instances
 * on the others by a journaled rollout of kind 'failover', each flat one with the IP and MAC it
 * had, the nat one with a port on its new host, the front door following. h3's engine goes down with
 * its containers and boots again: it starts none of them (restart policy no in a multi-host
 * environment), its stale containers are removed, and a flapping h3 moves nothing again.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { rolloutView } from '../rollout/rollout-view.js';
import { allSlots } from '../store/deployments.js';
import { hostHealth } from '../store/host-health.js';
import { rolloutById, rolloutsOf } from '../store/releases.js';
import { fakeProject, type FakeProject } from '../testing/fake-project.js';
import { releaseService } from '../release/operations.js';
import { FakeDoor } from '../testing/fake-door.js';
import { failoverOnce, removeStale, type FailoverEvent } from './failover.js';
import { undrainHost } from './move.js';
import { startHostWatch, type HostHealthEvent, type HostWatch } from './host-watch.js';

describe('failover of a lost host\'s instances on three FakeEngines', () => {
  let p: FakeProject;
  let watch: HostWatch;
  const stop = new AbortController();
  /** The test's clock: an hour ago, so a host down at it is past its stop grace for the rollouts' own clock. */
  let clock = Date.now() - 3600_000;
  const healthEvents: HostHealthEvent[] = [];
  const audit: string[] = [];
  const failovers: FailoverEvent[] = [];
  const removedOnReturn: string[] = [];
  /** A front door per environment. */
  const doors: Record<string, FakeDoor> = { dev: new FakeDoor(), prod: new FakeDoor() };
  const options = () => ({ rollout: (pair: { environment: string }) => ({ door: doors[pair.environment]!, timeoutMs: 10_000 }), emit: (e: FailoverEvent) => void failovers.push(e), now: clock + 10_000 });

  /** The ARP helpers of a move: arping -D finds nobody answering; the announcement succeeds. */
  const answerArpHelpers = async (host: string) => {
    const engine = p.engines.get(host)!;
    for await (const e of engine.events({ type: ['container'], event: ['start'] }, stop.signal)) {
      const name = e.attributes.name ?? '';
      if (name.endsWith('-arp-check')) engine.write(e.id, 'ARPING 10.77.0.100\nSent 2 probe(s)\nReceived 0 response(s)\n');
      if (name.endsWith('-arp-check') || name.endsWith('-arp-announce')) engine.exit(e.id, 0);
    }
  };

  before(async () => {
    p = await fakeProject('failover-on-fake', {
      push: true,
      config: {
        project: 'shop',
        images: { web: { root: {} } },
        hosts: ['h1', 'h2', 'h3'].map((name) => ({ name, engine: `unix:///run/berth-fake-${name}.sock` })),
        fleet: { failure: { interval: '1s', timeout: '500ms', suspect_after: 2, down_after: 3, settle: '30s', stop_grace: '2s' } },
        networks: { lan: { mode: 'flat', bridge: 'br-fake', create_bridge: true, subnet: '10.77.0.0/24', gateway: '10.77.0.1', range: '10.77.0.100-10.77.0.140', quarantine: '0s' } },
        services: { web: { image: 'web', ports: [8080], replicas: 3, health: { command: ['check-web'], interval: '1s' }, stop_grace: '1s', rollout: { batch_size: 1, drain: '0s' } } },
        pipeline: ['dev', 'prod'],
        environments: { prod: { network: 'lan', lb_address: '127.0.0.1', hosts: ['h1', 'h2', 'h3'] }, dev: { network: 'nat', lb_address: '127.0.0.1', hosts: ['h1', 'h2', 'h3'], services: { web: { replicas: 3 } } } },
      },
    });
    for (const host of ['h1', 'h2', 'h3']) void answerArpHelpers(host).catch(() => {});
    // A huge interval: the test ticks the watch itself.
    watch = startHostWatch(async () => p.context, {
      now: () => clock,
      settings: { intervalMs: 3600_000 },
      emit: (e) => healthEvents.push(e),
      audit: (e) => void audit.push(`${e.action} ${e.target}`),
      onChange: async (run, host, change) => {
        if (change.from === 'down' && change.to === 'returning') removedOnReturn.push(...(await removeStale(run, host)));
      },
    });
  });
  after(async () => {
    stop.abort();
    await watch.stop();
    await p.close();
  });

  /** `n` rounds of pings, one second apart on the test's clock. */
  const ticks = async (n: number) => {
    for (let i = 0; i < n; i++) {
      clock += 1000;
      await watch.tick();
    }
  };
  /** The running instances on the hosts that answer. */
  const running = async () =>
    (await answering()).filter((c) => c.running).map((c) => ({ slot: c.labels['berth.instance']!, env: c.labels['berth.environment']!, host: c.host, ip: c.networks['berth-shop-lan']?.ip, mac: c.networks['berth-shop-lan']?.mac, ports: c.ports }));
  const answering = async () => {
    const all = await Promise.all(
      [...p.engines].map(async ([host, e]) => {
        const ids = await e.containers.list(['berth.service=web']).catch(() => []);
        return (await Promise.all(ids.map((id) => e.containers.inspect(id)))).flatMap((c) => (c ? [{ ...c, host }] : []));
      }),
    );
    return all.flat();
  };
  const slots = async (env: string) => (await allSlots(p.db, env)).map((s) => [s.slot, s.host]).sort();

  /** The instances as they ran before h3 went. */
  let beforeCrash: Awaited<ReturnType<typeof running>> = [];

  it('a release in each environment spreads the instances over h1, h2 and h3', async () => {
    for (const env of ['dev', 'prod']) assert.equal((await releaseService(p.context, 'web', env, { door: doors[env]!, timeoutMs: 10_000, image: 'berth/web:v1', force: env === 'prod' })).status, 'succeeded');
    assert.deepEqual(await slots('prod'), [['web-prod-1', 'h1'], ['web-prod-2', 'h2'], ['web-prod-3', 'h3']]);
    assert.deepEqual(await slots('dev'), [['web-dev-1', 'h1'], ['web-dev-2', 'h2'], ['web-dev-3', 'h3']]);
    beforeCrash = await running();
    assert.equal(beforeCrash.length, 6);
  });

  it('h3 stops answering: suspect after 2 missed pings, down after 3, each change stored, an event and an audit entry', async () => {
    await ticks(1);
    p.engines.get('h3')!.goDown();
    await ticks(3);
    assert.deepEqual(healthEvents.map((e) => [e.host, e.from, e.to]), [['h3', 'up', 'suspect'], ['h3', 'suspect', 'down']]);
    assert.match(healthEvents[1]!.reason, /^3 ping\(s\) in a row missed, \d+ ms apart: the engine at unix:\/\/\/run\/berth-fake-h3\.sock refused the connection/);
    assert.deepEqual(audit, ['host.suspect h3', 'host.down h3']);
    const stored = (await hostHealth(p.db)).get('h3')!;
    assert.deepEqual([stored.state, stored.since], ['down', clock]);
  });

  it('within its stop grace nothing moves; after it, h3\'s instances are recreated on h1 and h2 with the same IP and MAC (flat) and a new port (nat)', async () => {
    const before = beforeCrash;
    const early = await failoverOnce(p.context, { ...options(), now: clock + 1000 });
    assert.deepEqual(early, { lost: [], plans: [], events: [] }, 'still in its grace: its warden may not have stopped its instances yet');

    const report = await failoverOnce(p.context, options());
    assert.deepEqual(report.lost, ['h3']);
    assert.deepEqual(failovers.map((e) => [e.type, e.service, e.environment, e.type === 'failover' ? e.outcome : '']), [['failover', 'web', 'dev', 'succeeded'], ['failover', 'web', 'prod', 'succeeded']]);
    const prod = (await slots('prod')).find(([slot]) => slot === 'web-prod-3')!;
    const dev = (await slots('dev')).find(([slot]) => slot === 'web-dev-3')!;
    assert.ok(['h1', 'h2'].includes(prod[1]!) && ['h1', 'h2'].includes(dev[1]!), JSON.stringify([prod, dev]));

    const now = await running();
    const was = before.find((i) => i.slot === 'web-prod-3')!;
    const moved = now.find((i) => i.slot === 'web-prod-3' && i.host !== 'h3')!;
    assert.deepEqual([moved.host, moved.ip, moved.mac], [prod[1], was.ip, was.mac], 'same IP and MAC on its new host');
    const nat = now.find((i) => i.slot === 'web-dev-3' && i.host !== 'h3')!;
    assert.equal(nat.host, dev[1]);

    const [last] = await rolloutsOf(p.db, 'web', 'prod');
    const view = await rolloutView(p.db, (await rolloutById(p.db, last!.id))!);
    assert.deepEqual([view.kind, view.status, view.actor, view.steps], ['failover', 'succeeded', 'failover', [{ op: 'front-door' }, { op: 'replace', slots: ['web-prod-3'], to: { 'web-prod-3': prod[1] } }, { op: 'converge', replicas: 3 }]]);
    const door = doors.prod!.servers().find((s) => s.name === 'web-prod-3');
    assert.equal(door?.address, was.ip, 'the front door reaches it at its own address');
    const natDoor = doors.dev!.servers().find((s) => s.name === 'web-dev-3');
    assert.deepEqual([natDoor?.address, natDoor?.port], ['127.0.0.1', Number(nat.ports['8080/tcp'])], 'the nat instance through its port on its new host');
  });

  it('h3 comes back: its engine starts none of its stale containers as it boots; the watch removes them, never started; it is returning and gets nothing new', async () => {
    const h3 = p.engines.get('h3')!;
    h3.boot();
    const started: string[] = [];
    const watching = new AbortController();
    void (async () => {
      for await (const e of h3.events({ type: ['container'], event: ['start'] }, watching.signal)) started.push(e.attributes.name ?? e.id);
    })().catch(() => {});
    await new Promise((resolve) => setImmediate(resolve));
    const old = await Promise.all((await h3.containers.list([])).map((id) => h3.containers.inspect(id)));
    assert.deepEqual(old.map((c) => [c?.name, c?.status, c?.restartPolicy]).sort(), [['shop.web-dev-3', 'exited', 'no'], ['shop.web-prod-3', 'exited', 'no']], 'the engine came back with the two old containers, stopped: in a 3-host environment their restart policy is no');
    await ticks(1);
    assert.deepEqual(healthEvents.at(-1) && [healthEvents.at(-1)!.from, healthEvents.at(-1)!.to], ['down', 'returning']);
    assert.deepEqual(removedOnReturn.splice(0), ['shop.web-dev-3', 'shop.web-prod-3']);
    assert.deepEqual(await h3.containers.list([]), []);
    watching.abort();
    assert.deepEqual(started, [], 'nothing started on h3 from its boot to the removal');
    assert.deepEqual((await slots('prod')).map(([, host]) => host).includes('h3'), false, 'the slots stay where they moved');
  });

  it('flapping: h3 down and up three more times moves nothing again (each instance moved at most once)', async () => {
    const rollouts = async () => (await rolloutsOf(p.db, 'web', 'prod')).length + (await rolloutsOf(p.db, 'web', 'dev')).length;
    const count = await rollouts();
    const where = [await slots('prod'), await slots('dev')];
    const h3 = p.engines.get('h3')!;
    for (let round = 0; round < 3; round++) {
      h3.stopAnswering();
      await ticks(1);
      await failoverOnce(p.context, options());
      h3.answerAgain();
      await ticks(1);
    }
    assert.deepEqual(healthEvents.slice(-6).map((e) => `${e.from}->${e.to}`), Array(3).fill(['returning->down', 'down->returning']).flat(), 'one miss while returning is down at once');
    assert.equal(await rollouts(), count, 'no rollout ran');
    assert.deepEqual([await slots('prod'), await slots('dev')], where);
  });

  it('an operator undrains h3: up at once, and the watch takes that up without a change of its own', async () => {
    assert.deepEqual(await undrainHost(p.context, 'h3'), { host: 'h3', state: 'ready', wasDraining: true });
    assert.equal((await hostHealth(p.db)).get('h3')?.state, 'up');
    const seen = healthEvents.length;
    await ticks(2);
    assert.equal(healthEvents.length, seen, 'no change: the store said up and h3 answers');
    assert.equal((await hostHealth(p.db)).get('h3')?.state, 'up');
  });
});
