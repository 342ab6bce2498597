/**
 * Integration: moving instances between real engines (the lab: three dockerds
 * in network namespaces on one LAN bridge), through a real HAProxy front door.
 * One service (busybox httpd) with 4 instances on a flat network over h1..h3.
 *
 * - drain h2 under load: no failed request; each moved instance keeps its IP
 *   and MAC as its new host's engine reports them, a LAN namespace reaches it
 *   at once and its neighbour table has the MAC; `berth ipam` names the new host;
 *   a second drain says there is nothing left; a move onto a draining host is refused;
 * - undrain, then `berth move` of one instance back onto h2;
 * - the duplicate check: with a LAN namespace answering for an instance's IP,
 *   `berth move` refuses to start it elsewhere, naming the IP and the MAC that
 *   answered, exits non-zero, and the instance serves where it was;
 * - a drain killed (SIGKILL) mid-move resumes from its journal when run again.
 *
 * Everything as in a real fleet: Berth reaches the lab hosts at tcp://IP:2376
 * with mutual TLS, and each host pulls the image by digest from the registry
 * on this machine's LAN address (TLS, htpasswd). The test's own look at what
 * the engines run goes through their unix sockets.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe } from 'node:test';
import { parse, stringify } from 'yaml';
import { buildProject } from '../imaging/builder.js';
import { loadProject } from '../config/project.js';
import type { RunContext } from '../runtime/context.js';
import { Hosts } from '../runtime/hosts.js';
import { connectEngine, type Engine } from '../engine/client.js';
import { drainHost } from './move.js';
import { push } from '../registry/testing.js';
import { allSlots } from '../store/deployments.js';
import { hostStates } from '../store/hosts.js';
import { openStore, type Store, closeStore } from '../store/db.js';
import { rolloutsOf } from '../store/releases.js';
import { berthOn, runBerth } from '../testing/cli.js';
import { makeFixture, type Fixture } from '../testing/fixture.js';
import { startLab, type Lab, type LanHost } from '../testing/lab.js';
import { labRegistry, upLabRegistry } from '../testing/lab-registry.js';
import { labWebImages, labYaml } from '../testing/lab-web.js';
import { startLoad, type LoadResult } from '../testing/load.js';
import { releaseService } from '../release/operations.js';
import type { RolloutEvent } from '../rollout/rollout-context.js';
import { stepsWithNeeds } from '../testing/steps.js';

const SVC = `mv${randomBytes(3).toString('hex')}`;
const ENV = 'production';
const REPLICAS = 4;
const TIMEOUT_MS = 30_000;

const { step, needs } = stepsWithNeeds();

const DEPLOY = 'a release of 4 flat instances spreads over the three lab hosts';
const DRAIN = 'drain h2 under load: no failed request; each moved instance keeps its IP and MAC on its new host, the LAN sees it at once';
const MOVE = 'undrain h2, then berth move of one instance onto it keeps its IP and MAC';
const DUPLICATE = 'a move is refused when something on the LAN answers for the instance IP; it serves where it was';
const KILLED = 'a drain killed after it set an instance aside resumes from its journal when run again';

interface Seen {
  host: string;
  ip: string;
  mac: string;
}

describe('moving instances between lab hosts, keeping their IP and MAC', () => {
  let fixture: Fixture;
  let lab: Lab;
  let lan: LanHost;
  let db: Store;
  let image: string;
  let url: string;
  /** The lab hosts' engines, as the test's own look behind Berth's back. */
  const engines = new Map<string, Engine>();

  const context = (): RunContext => {
    const project = loadProject(fixture.dir, fixture.env);
    return { project, db, hosts: new Hosts(project, fixture.engine), env: fixture.env };
  };
  const trace = (e: RolloutEvent) => {
    if (process.env.BERTH_TEST_TRACE) console.log(`# ${new Date().toISOString()} ${JSON.stringify(e)}`);
  };
  const opts = { timeoutMs: TIMEOUT_MS, emit: trace };
  const berth = (...args: string[]) => runBerth([...args, '-p', fixture.dir], { env: fixture.env, timeoutMs: 180_000 });
  const show = (r: LoadResult) => `${r.ok} ok, ${r.failed} failed in ${r.ms} ms; failures ${JSON.stringify(r.failures)}`;
  const slotsOnHost = async (host: string) => (await allSlots(db, ENV)).filter((s) => s.service === SVC && s.host === host).map((s) => s.slot);

  /** Where each instance of the service runs, with its IP and MAC, as the engines report them (running main containers only). */
  async function seen(): Promise<Map<string, Seen>> {
    const found = new Map<string, Seen>();
    for (const [host, engine] of engines) {
      for (const c of await engine.containers.summaries([`berth.service=${SVC}`])) {
        if (c.state !== 'running' || c.name !== `${fixture.name}.${c.labels['berth.instance']}`) continue;
        const state = (await engine.containers.inspect(c.id))!;
        const endpoint = Object.values(state.networks)[0]!;
        const slot = c.labels['berth.instance']!;
        assert.ok(!found.has(slot), `${slot} runs on ${found.get(slot)?.host} and on ${host}`);
        found.set(slot, { host, ip: endpoint.ip, mac: endpoint.mac.toLowerCase() });
      }
    }
    return found;
  }

  /** Runs `action` while the load loop runs against the front door, and stops it whatever happens. */
  async function underLoad<T>(action: () => Promise<T>): Promise<{ value: T; load: LoadResult }> {
    const load = startLoad(url, { concurrency: 4 });
    try {
      await new Promise((resolve) => setTimeout(resolve, 300));
      const value = await action();
      return { value, load: await load.stop() };
    } finally {
      await load.stop();
    }
  }

  before(async () => {
    fixture = await makeFixture(await labWebImages());
    lab = await startLab({ hosts: 3, dir: fixture.dir });
    lan = await lab.lanHost();
    const registry = await labRegistry(lab);
    const yaml = parse(readFileSync(join(fixture.dir, 'berth.yaml'), 'utf8')) as Record<string, unknown>;
    const hostNames = lab.hosts.map((h) => h.name);
    fixture.write(
      'berth.yaml',
      stringify({
        ...yaml,
        ...labYaml(lab, registry, [100, 140]),
        services: { [SVC]: { image: 'web', ports: [8080], health: { http: '/health.html', interval: '2s', timeout: '1s' }, stop_grace: '1s', rollout: { batch_size: 1, max_unavailable: 1, drain: '1s' } } },
        environments: { [ENV]: { network: 'lan', lb_address: '127.0.0.1', hosts: hostNames, services: { [SVC]: { replicas: REPLICAS } } } },
        pipeline: [ENV],
      }),
    );
    await upLabRegistry(fixture, registry);
    for (const h of lab.hosts) engines.set(h.name, connectEngine({ DOCKER_HOST: `unix://${h.socket}` }));
    db = await openStore(context().project.stateDir);
    const summary = await buildProject(context().project, fixture.engine, db, { env: fixture.env, only: ['web'] });
    assert.deepEqual(summary.failed, []);
    image = [...summary.built, ...summary.upToDate].find((b) => b.name === 'web')!.imageId;
    const pushed = await push(fixture);
    assert.deepEqual(pushed.failed, [], JSON.stringify(pushed.failed));
  });

  after(async () => {
    if (!fixture) return;
    await (db && await closeStore(db));
    // The engines go with the lab, and their containers and networks with them.
    await lab?.dispose();
    await fixture.cleanup();
  });

  step(DEPLOY, async () => {
    const result = await releaseService(context(), SVC, ENV, { image, ...opts });
    assert.equal(result.status, 'succeeded');
    url = `http://${result.frontDoor.address}:${result.frontDoor.port}/`;
    const where = await seen();
    assert.equal(where.size, REPLICAS);
    assert.deepEqual(new Set([...where.values()].map((s) => s.host)), new Set(['h1', 'h2', 'h3']));
  });

  step(DRAIN, async () => {
    needs(DEPLOY);
    const before = await seen();
    const leaving = [...before].filter(([, s]) => s.host === 'h2').map(([slot]) => slot);
    assert.ok(leaving.length > 0, 'nothing ran on h2 to drain');
    const { value, load } = await underLoad(() => drainHost(context(), 'h2', opts));
    assert.equal(load.failed, 0, show(load));
    assert.ok(load.ok > 0, show(load));
    assert.deepEqual(value.stayed, []);
    assert.deepEqual(value.moved.map((m) => m.slot).sort(), [...leaving].sort());
    assert.ok((await hostStates(db)).has('h2'));
    assert.deepEqual(await slotsOnHost('h2'), []);

    const after = await seen();
    assert.equal(after.size, REPLICAS);
    for (const slot of leaving) {
      const was = before.get(slot)!;
      const now = after.get(slot)!;
      assert.notEqual(now.host, 'h2', `${slot} still runs on h2`);
      assert.deepEqual([now.ip, now.mac], [was.ip, was.mac], `${slot} changed its address on ${now.host}`);
      // Right after the move: the LAN reaches it on its new port, and has its MAC.
      const answer = await lan.fetch(`http://${now.ip}:8080/`);
      assert.ok(answer.ok, `the LAN cannot reach ${slot} at ${now.ip}: ${answer.body}`);
      assert.equal(await lan.neighbourMac(now.ip), now.mac);
    }
    assert.equal((await rolloutsOf(db, SVC, ENV))[0]!.kind, 'move');

    const ipam = await berth('ipam', '--json');
    assert.equal(ipam.code, 0, ipam.stderr);
    const ledger = JSON.parse(ipam.stdout) as { allocations: { slot: string; ip: string; mac: string; host: string | null }[] };
    for (const slot of leaving) {
      const entry = ledger.allocations.find((a) => a.slot === slot)!;
      assert.deepEqual([entry.ip, entry.mac, entry.host], [after.get(slot)!.ip, after.get(slot)!.mac, after.get(slot)!.host]);
    }

    const again = await berth('host', 'drain', 'h2');
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /h2 is draining and runs no instance: nothing to move/);
    const history = await berth('history', SVC, '--env', ENV);
    assert.match(history.stdout, /move/);
  });

  step(MOVE, async () => {
    needs(DRAIN);
    const slot = [...(await seen()).keys()].sort()[0]!;
    const refused = await berth('move', slot, '--env', ENV, '--to', 'h2');
    assert.equal(refused.code, 4, refused.stderr);
    assert.match(refused.stderr, /h2 is draining/);

    const undrained = await berth('host', 'undrain', 'h2');
    assert.equal(undrained.code, 0, undrained.stderr);
    assert.ok(!(await hostStates(db)).has('h2'));
    assert.deepEqual(await slotsOnHost('h2'), [], 'undrain moved instances back');

    const before = (await seen()).get(slot)!;
    const { value: moved, load } = await underLoad(() => berth('move', slot, '--env', ENV, '--to', 'h2'));
    assert.equal(moved.code, 0, moved.stderr);
    assert.equal(load.failed, 0, show(load));
    const now = (await seen()).get(slot)!;
    assert.deepEqual(now, { host: 'h2', ip: before.ip, mac: before.mac });
    assert.equal(await lan.neighbourMac(now.ip), now.mac);
  });

  step(DUPLICATE, async () => {
    needs(MOVE);
    const [slot, was] = [...(await seen())].find(([, s]) => s.host !== 'h3')!;
    const link = /^\d+: ([^@:]+)/m.exec((await lan.exec(['ip', '-o', 'link', 'show', 'type', 'veth'])).stdout)![1]!;
    const lanMac = /link\/ether ([0-9a-f:]{17})/.exec((await lan.exec(['ip', '-o', 'link', 'show', link])).stdout)![1]!;
    const added = await lan.exec(['ip', 'addr', 'add', `${was.ip}/32`, 'dev', link]);
    assert.equal(added.exitCode, 0, added.stderr);
    let refused;
    try {
      refused = await berth('move', slot, '--env', ENV, '--to', 'h3');
    } finally {
      await lan.exec(['ip', 'addr', 'del', `${was.ip}/32`, 'dev', link]);
    }
    assert.equal(refused.code, 1, refused.stderr);
    assert.match(refused.stderr, new RegExp(`${slot.replaceAll('-', '\\-')}.*still on ${was.host}`));
    assert.match(refused.stderr, new RegExp(`${was.ip.replaceAll('.', '\\.')} is already answered on the LAN by ${lanMac}`));
    const now = (await seen()).get(slot)!;
    assert.deepEqual(now, was, `${slot} does not run where it was`);
    assert.deepEqual((await allSlots(db, ENV)).find((s) => s.slot === slot)!.host, was.host);
    // No helper is left on h3.
    const helpers = await engines.get('h3')!.containers.summaries(['berth.helper=arp']);
    assert.deepEqual(helpers, []);
  });

  step(KILLED, async () => {
    needs(DUPLICATE);
    const before = await seen();
    const leaving = [...before].filter(([, s]) => s.host === 'h1').map(([slot]) => slot).sort();
    assert.ok(leaving.length > 0, 'nothing ran on h1 to drain');
    // Checkpoints of the first batch: steps front-door, drain, replace; then renamed aside, replace, launch (old one stopped, new one not created).
    const killed = await berthOn(fixture, ['host', 'drain', 'h1'], { killAt: 6 });
    assert.equal(killed.signal, 'SIGKILL', `not killed: ${killed.stdout}${killed.stderr}`);
    const interrupted = (await rolloutsOf(db, SVC, ENV))[0]!;
    assert.deepEqual([interrupted.kind, interrupted.status], ['move', 'running']);

    const resumed = await berth('host', 'drain', 'h1');
    assert.equal(resumed.code, 0, `${resumed.stdout}${resumed.stderr}`);
    assert.match(resumed.stdout, new RegExp(`rollout #${interrupted.id} \\(move`));
    assert.equal((await rolloutsOf(db, SVC, ENV)).find((r) => r.id === interrupted.id)!.status, 'succeeded');
    assert.deepEqual(await slotsOnHost('h1'), []);
    const after = await seen();
    assert.equal(after.size, REPLICAS);
    for (const slot of leaving) {
      assert.notEqual(after.get(slot)!.host, 'h1');
      assert.deepEqual([after.get(slot)!.ip, after.get(slot)!.mac], [before.get(slot)!.ip, before.get(slot)!.mac]);
    }
  });
});
