/**
 * A failover whose server dies mid-way (played in-process as rollout/crash-on-fake.test.ts does: the
 * run stops for good at a checkpoint, its engines and front door never answer it again, its store
 * handle closes, its lease is another process's with a stopped clock): the next server (the next
 * leader) finds the journaled failover and finishes it, each slot on the host its journal names,
 * with the IP and MAC it had.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { injectCheckpointFault } from '../fault.js';
import { recoverInterrupted } from '../rollout/executor.js';
import { rolloutView } from '../rollout/rollout-view.js';
import { Hosts } from '../runtime/hosts.js';
import { allSlots } from '../store/deployments.js';
import { closeStore, openStore } from '../store/db.js';
import { setHostHealth } from '../store/host-health.js';
import { rolloutsOf } from '../store/releases.js';
import { Doomed, doomedRuns, killAtCheckpoints, severed } from '../testing/doomed.js';
import { fakeProject, type FakeProject } from '../testing/fake-project.js';
import { releaseService } from '../release/operations.js';
import { failoverOnce } from './failover.js';

const TTL_MS = 30_000;

describe('a failover interrupted by the death of its server is finished by the next one', () => {
  let p: FakeProject;
  const stop = new AbortController();

  before(async () => {
    p = await fakeProject('failover-resume', {
      push: true,
      config: {
        project: 'shop',
        images: { web: { root: {} } },
        hosts: ['h1', 'h2'].map((name) => ({ name, engine: `unix:///run/berth-fake-${name}.sock` })),
        networks: { lan: { mode: 'flat', bridge: 'br-fake', create_bridge: true, subnet: '10.78.0.0/24', gateway: '10.78.0.1', range: '10.78.0.100-10.78.0.140', quarantine: '0s' } },
        services: { web: { image: 'web', ports: [8080], replicas: 2, health: { command: ['check-web'], interval: '1s' }, stop_grace: '1s', rollout: { batch_size: 1, drain: '0s' } } },
        environments: { prod: { network: 'lan', lb_address: '127.0.0.1', hosts: ['h1', 'h2'] } },
      },
    });
    // The ARP helpers of a moved instance on h1: nobody answers for its IP; the announcement succeeds.
    void (async () => {
      const engine = p.engines.get('h1')!;
      for await (const e of engine.events({ type: ['container'], event: ['start'] }, stop.signal)) {
        const name = e.attributes.name ?? '';
        if (name.endsWith('-arp-check')) engine.write(e.id, 'Sent 2 probe(s)\nReceived 0 response(s)\n');
        if (name.endsWith('-arp-check') || name.endsWith('-arp-announce')) engine.exit(e.id, 0);
      }
    })().catch(() => {});
    injectCheckpointFault(killAtCheckpoints);
  });
  after(async () => {
    injectCheckpointFault(undefined);
    stop.abort();
    await p.close();
  });

  it('killed at its replace step, resumed: web-prod-2 runs on h1 with its IP and MAC, the journal done once', async () => {
    assert.equal((await releaseService(p.context, 'web', 'prod', { door: p.door, timeoutMs: 10_000, image: 'berth/web:v1' })).status, 'succeeded');
    const before = (await p.containers('web')).find((c) => c.labels['berth.instance'] === 'web-prod-2')!;
    assert.equal(before.host, 'h2');
    p.engines.get('h2')!.stopAnswering();
    await setHostHealth(p.db, { name: 'h2', state: 'down', since: Date.now() - 60_000, reason: 'the test took it down' });

    // The server that dies: its own store handle, engines and door that stop answering it, its lease clock stopped.
    const doomed = new Doomed('replace');
    const store = await openStore(p.context.project.stateDir);
    const dead = () => doomed.dead;
    const engines = p.engines;
    const hosts = new Hosts(p.context.project, severed(engines.get('h1')!, dead), (spec) => severed(engines.get(spec.name)!, dead));
    const bornAt = Date.now();
    const run = { ...p.context, db: store, hosts };
    void doomedRuns.run(doomed, () =>
      failoverOnce(run, { rollout: () => ({ door: severed(p.door, dead), timeoutMs: 10_000, lease: { ttlMs: TTL_MS, now: () => bornAt, as: { holder: 'dead-server', pid: 4_100_000, hostname: 'a-server-that-died' } } }) }),
    );
    assert.equal(await doomed.death, 'replace');
    await closeStore(store);
    const [open] = await rolloutsOf(p.db, 'web', 'prod');
    assert.deepEqual([open!.kind, open!.status], ['failover', 'running'], 'journaled, and left running by the dead server');

    // The next server: past the dead holder's lease, it resumes what is journaled.
    const resumed = await recoverInterrupted(p.context, 'web', 'prod', { door: p.door, timeoutMs: 10_000, lease: { ttlMs: TTL_MS, now: () => Date.now() + 2 * TTL_MS } });
    assert.equal(resumed?.status, 'succeeded');
    const view = await rolloutView(p.db, (await rolloutsOf(p.db, 'web', 'prod'))[0]!);
    assert.deepEqual([view.id, view.kind, view.status, view.steps], [open!.id, 'failover', 'succeeded', [{ op: 'front-door' }, { op: 'replace', slots: ['web-prod-2'], to: { 'web-prod-2': 'h1' } }, { op: 'converge', replicas: 2 }]]);
    const moved = (await p.engines.get('h1')!.containers.list(['berth.service=web'])).length;
    assert.equal(moved, 2);
    const now = await Promise.all((await p.engines.get('h1')!.containers.list(['berth.instance=web-prod-2'])).map((id) => p.engines.get('h1')!.containers.inspect(id)));
    assert.deepEqual(now.map((c) => [c?.running, c?.networks['berth-shop-lan']?.ip, c?.networks['berth-shop-lan']?.mac]), [[true, before.networks['berth-shop-lan']!.ip, before.networks['berth-shop-lan']!.mac]]);
    assert.deepEqual((await allSlots(p.db, 'prod')).map((s) => [s.slot, s.host]), [['web-prod-1', 'h1'], ['web-prod-2', 'h1']]);
    assert.deepEqual(p.door.servers().map((s) => [s.name, s.state]), [['web-prod-1', 'ready'], ['web-prod-2', 'ready']]);
  });
});
