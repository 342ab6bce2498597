/** keepalived's container placed beside an environment's doors on two door hosts (FakeEngines): made, kept, reloaded, removed. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { extract } from 'tar-stream';
import { conflict, unavailable } from '../errors.js';
import { FakeEngine } from '../testing/fake-engine.js';
import { doorCreateBody } from './door-container.js';
import { frontDoorStatus, memberRuns, type DoorMember, type DoorPlace } from './front-door.js';
import { VRRP_CHECK } from './keepalived-config.js';
import { settleVrrp, type VrrpPlace } from './vrrp.js';

const IMAGE = 'berth/berth-door:0123456789ab';
const NAME = 'berth-vrrp-shop-production';

async function fileIn(engine: FakeEngine, container: string, path: string): Promise<string> {
  const unpack = extract();
  unpack.end(await engine.containers.getArchive(container, path));
  let text = '';
  for await (const entry of unpack) for await (const chunk of entry) text += (chunk as Buffer).toString('utf8');
  return text;
}

function pair(): { engines: FakeEngine[]; place: VrrpPlace; reloads: string[] } {
  const engines = [new FakeEngine({ endpoint: 'fake://lb1' }), new FakeEngine({ endpoint: 'fake://lb2' })];
  const reloads: string[] = [];
  engines.forEach((engine, i) => {
    engine.images.add({ tags: [IMAGE] });
    engine.containers.scriptExec((c, cmd) => {
      if (cmd.join(' ') !== '/usr/local/bin/berth-door-vrrp reload') return undefined;
      reloads.push(`lb${i + 1}:${c.name}`);
      return { exitCode: 0, output: '' };
    });
  });
  const members: DoorMember[] = engines.map((engine, i) => ({ host: `lb${i + 1}`, engine, local: false, address: `10.88.0.1${i + 1}` }));
  const place: VrrpPlace = { project: 'shop', environment: 'production', address: '10.88.0.250', doorIds: ['production-web', 'production-api'], members, image: async () => IMAGE };
  return { engines, place, reloads };
}

async function addDoor(engine: FakeEngine, id: string, port: number): Promise<string> {
  const door = await engine.containers.create(doorCreateBody({ project: 'shop', spec: { id, bind: { address: '0.0.0.0', port } }, image: IMAGE, vrrp: true }));
  await engine.containers.start(door);
  return door;
}

describe('keepalived beside the doors of an environment (FakeEngines)', () => {
  it('nothing while the environment has no door on a host', async () => {
    const { engines, place } = pair();
    assert.deepEqual([...(await settleVrrp(place))], [['lb1', 'none'], ['lb2', 'none']]);
    assert.equal(await engines[0]!.containers.inspect(NAME), undefined);
  });

  it("one container per host, running with that member's configuration: its own address, the other as peer, the doors there checked", async () => {
    const { engines, place } = pair();
    for (const e of engines) await addDoor(e, 'production-web', 8080);
    assert.deepEqual([...(await settleVrrp(place))], [['lb1', 'create'], ['lb2', 'create']]);
    for (const [i, engine] of engines.entries()) {
      const state = await engine.containers.inspect(NAME);
      assert.equal(state?.running, true);
      assert.equal(state?.labels['berth.vrrp'], 'production');
      const conf = await fileIn(engine, NAME, '/etc/berth-door/keepalived.conf');
      assert.match(conf, new RegExp(`unicast_src_ip 10\\.88\\.0\\.1${i + 1}\\n`));
      assert.match(conf, new RegExp(`unicast_peer \\{\\n    10\\.88\\.0\\.1${2 - i}\\n`));
      assert.ok(conf.includes(`script "${VRRP_CHECK} 127.0.0.1:8080"`), conf);
      assert.equal(await fileIn(engine, NAME, '/etc/berth-door/vrrp.env'), `BERTH_VIP=10.88.0.250\nBERTH_SELF=10.88.0.1${i + 1}\n`);
    }
  });

  it('kept as it is when nothing changed; a second door of the environment reloads it in place; another image replaces it', async () => {
    const { engines, place, reloads } = pair();
    for (const e of engines) await addDoor(e, 'production-web', 8080);
    await settleVrrp(place);
    const first = (await engines[0]!.containers.inspect(NAME))!.id;
    assert.deepEqual([...(await settleVrrp(place))], [['lb1', 'keep'], ['lb2', 'keep']]);
    for (const e of engines) await addDoor(e, 'production-api', 8081);
    await addDoor(engines[0]!, 'staging-web', 9000);
    assert.deepEqual([...(await settleVrrp(place))], [['lb1', 'reload'], ['lb2', 'reload']]);
    assert.deepEqual(reloads.sort(), [`lb1:${NAME}`, `lb2:${NAME}`]);
    assert.equal((await engines[0]!.containers.inspect(NAME))!.id, first, 'the same container: the address stays where it is');
    assert.ok((await fileIn(engines[0]!, NAME, '/etc/berth-door/keepalived.conf')).includes(`script "${VRRP_CHECK} 127.0.0.1:8080 127.0.0.1:8081"`));
    engines[0]!.images.add({ tags: ['berth/berth-door:fedcba987654'] });
    assert.deepEqual([...(await settleVrrp({ ...place, image: async (m) => (m.host === 'lb1' ? 'berth/berth-door:fedcba987654' : IMAGE) }))], [['lb1', 'replace'], ['lb2', 'keep']]);
    assert.notEqual((await engines[0]!.containers.inspect(NAME))!.id, first);
    assert.equal((await engines[0]!.containers.inspect(NAME))!.running, true);
  });

  it('two rollouts settling at once in one process take turns: one keepalived per host, made once', async () => {
    const { engines, place } = pair();
    for (const e of engines) await addDoor(e, 'production-web', 8080);
    const both = await Promise.all([settleVrrp(place), settleVrrp(place)]);
    for (const host of ['lb1', 'lb2']) assert.deepEqual(both.map((m) => m.get(host)).sort(), ['create', 'keep']);
    for (const e of engines) assert.equal((await e.containers.list(['berth.vrrp=production'])).length, 1);
  });

  it('a new door image replaces the running keepalived of one member at a time, never both stopped at once', async () => {
    const { engines, place } = pair();
    for (const e of engines) await addDoor(e, 'production-web', 8080);
    await settleVrrp(place);
    const order: string[] = [];
    for (const [i, e] of engines.entries()) {
      e.images.add({ tags: ['berth/berth-door:fedcba987654'] });
      const { stop, start } = e.containers;
      e.containers.stop = async (id, seconds) => {
        order.push(`stop lb${i + 1}`);
        await stop.call(e.containers, id, seconds);
      };
      e.containers.start = async (id) => {
        await start.call(e.containers, id);
        order.push(`start lb${i + 1}`);
      };
    }
    assert.deepEqual([...(await settleVrrp({ ...place, image: async () => 'berth/berth-door:fedcba987654' }))], [['lb1', 'replace'], ['lb2', 'replace']]);
    assert.equal(order.length, 4);
    const [first, second] = [order[0]!.split(' ')[1], order[2]!.split(' ')[1]];
    assert.notEqual(first, second);
    assert.deepEqual(order, [`stop ${first}`, `start ${first}`, `stop ${second}`, `start ${second}`], 'one member stopped and started again before the other stopped');
  });

  it('a create refused as a conflict (another process made it meanwhile) is looked at again; another failure is not', async () => {
    const { engines, place } = pair();
    for (const e of engines) await addDoor(e, 'production-web', 8080);
    engines[0]!.containers.failCreate((body) => body.name === NAME, conflict(`create container ${NAME}: the name is in use`));
    assert.deepEqual([...(await settleVrrp(place))], [['lb1', 'create'], ['lb2', 'create']]);
    assert.equal((await engines[0]!.containers.inspect(NAME))?.running, true);
    await engines[1]!.containers.remove(NAME);
    engines[1]!.containers.failCreate((body) => body.name === NAME, unavailable('the engine did not answer'));
    await assert.rejects(settleVrrp(place), /the engine did not answer/);
  });

  it("goes with the environment's last door on a host, and a reload that keepalived refuses is an error naming the host", async () => {
    const { engines, place } = pair();
    const doors = await Promise.all(engines.map((e) => addDoor(e, 'production-web', 8080)));
    await settleVrrp(place);
    await engines[1]!.containers.remove(doors[1]!);
    assert.deepEqual([...(await settleVrrp(place))], [['lb1', 'keep'], ['lb2', 'remove']]);
    assert.equal(await engines[1]!.containers.inspect(NAME), undefined);
    engines[0]!.containers.scriptExec(() => ({ exitCode: 1, output: 'kill: No such process\n' }));
    await addDoor(engines[0]!, 'production-api', 8081);
    await assert.rejects(settleVrrp(place), /keepalived in berth-vrrp-shop-production on lb1 did not take its new configuration/);
  });
});

describe("keepalived in a door's status (FakeEngines)", () => {
  it('each member shows its keepalived; a member whose keepalived is missing or stopped does not count as running', async () => {
    const { engines, place } = pair();
    const door: DoorPlace = { project: 'shop', members: [...place.members], image: place.image, vrrp: { address: place.address, container: NAME, settle: () => settleVrrp(place) } };
    const status = await frontDoorStatus({ id: 'production-web', bind: { address: '0.0.0.0', port: 8080 } }, door);
    assert.deepEqual(status.address, '10.88.0.250:8080');
    assert.deepEqual(status.members.map((m) => [m.host, m.state, m.keepalived]), [['lb1', 'missing', 'missing'], ['lb2', 'missing', 'missing']]);
    for (const e of engines) await addDoor(e, 'production-web', 8080);
    await settleVrrp(place);
    await engines[1]!.containers.stop(NAME);
    const seen = await Promise.all(engines.map(async (e) => ({ state: 'running', keepalived: (await e.containers.inspect(NAME))!.running ? 'running' : 'exited' })));
    assert.deepEqual(seen.map(memberRuns), [true, false]);
    assert.equal(memberRuns({ state: 'running' }), true, 'a door without a shared address has no keepalived');
    assert.equal(memberRuns({ state: 'exited', keepalived: 'running' }), false);
    assert.deepEqual([...(await settleVrrp(place))], [['lb1', 'keep'], ['lb2', 'replace']], 'the next door change restores it');
  });
});
