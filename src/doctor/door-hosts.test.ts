/** `berth doctor`'s door host checks, seen through FakeEngines: keepalived running on each member, the address held by exactly one. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { vrrpCreateBody } from '../lb/vrrp-container.js';
import { FakeEngine } from '../testing/fake-engine.js';
import { doorHostChecks, seeDoorHost, type DoorEnvironment } from './door-hosts.js';

const IMAGE = 'berth/berth-door:0123456789ab';
const NAME = 'berth-vrrp-shop-production';
const DOOR: DoorEnvironment = { project: 'shop', environment: 'production', address: '10.88.0.250' };

/** Two door hosts with keepalived running; `held` says which hosts' interfaces carry the shared address. */
async function pair(held: Set<string>): Promise<{ host: string; engine: FakeEngine }[]> {
  const members = ['lb1', 'lb2'].map((host) => ({ host, engine: new FakeEngine({ endpoint: `fake://${host}` }) }));
  for (const [i, { host, engine }] of members.entries()) {
    engine.images.add({ tags: [IMAGE] });
    await engine.containers.start(await engine.containers.create(vrrpCreateBody({ project: DOOR.project, environment: DOOR.environment, image: IMAGE })));
    engine.scriptExec((c, cmd) => {
      if (c.name !== NAME || cmd.join(' ') !== 'ip -4 -o addr show') return undefined;
      const own = `2: eth0    inet 10.88.0.1${i + 1}/24 brd 10.88.0.255 scope global eth0`;
      return { exitCode: 0, output: held.has(host) ? `${own}\n2: eth0    inet ${DOOR.address}/32 scope global eth0\n` : `${own}\n` };
    });
  }
  return members;
}

async function checks(members: { host: string; engine: FakeEngine }[]) {
  return doorHostChecks(DOOR, await Promise.all(members.map((m) => seeDoorHost(DOOR, m))));
}

const statuses = (list: { name: string; status: string }[]) => list.map((c) => [c.name, c.status]);

describe("doctor's door host checks (FakeEngines)", () => {
  it('ok when keepalived runs on both members and one holds the address', async () => {
    const result = await checks(await pair(new Set(['lb2'])));
    assert.deepEqual(statuses(result), [
      ['door host lb1 (production)', 'ok'],
      ['door host lb2 (production)', 'ok'],
      ['shared address 10.88.0.250 (production)', 'ok'],
    ]);
    assert.equal(result[0]!.detail, `environment production: keepalived (${NAME}) runs, backup`);
    assert.equal(result[1]!.detail, `environment production: keepalived (${NAME}) runs, holds 10.88.0.250`);
    assert.equal(result[2]!.detail, 'held by lb2');
  });

  it('fails a member whose keepalived is stopped or missing, with the way to restore it', async () => {
    const members = await pair(new Set(['lb1']));
    await members[1]!.engine.containers.stop(NAME);
    let result = await checks(members);
    assert.deepEqual(statuses(result), [
      ['door host lb1 (production)', 'ok'],
      ['door host lb2 (production)', 'fail'],
      ['shared address 10.88.0.250 (production)', 'ok'],
    ]);
    assert.match(result[1]!.detail, /keepalived \(berth-vrrp-shop-production\) is exited: lb2 cannot take 10\.88\.0\.250/);
    assert.match(result[1]!.fix ?? '', /berth release.*reconciler/);
    await members[1]!.engine.containers.remove(NAME);
    result = await checks(members);
    assert.equal(result[1]!.status, 'fail');
    assert.match(result[1]!.detail, /is missing/);
  });

  it('fails the address when both members hold it, naming them', async () => {
    const result = await checks(await pair(new Set(['lb1', 'lb2'])));
    assert.deepEqual(statuses(result).at(-1), ['shared address 10.88.0.250 (production)', 'fail']);
    assert.equal(result.at(-1)!.detail, 'held by lb1 and lb2 at once: each answers for it, so requests go to whichever the LAN last heard');
    assert.match(result.at(-1)!.fix ?? '', /IP protocol 112/);
  });

  it('fails the address when no member holds it', async () => {
    const result = await checks(await pair(new Set()));
    assert.deepEqual(statuses(result), [
      ['door host lb1 (production)', 'ok'],
      ['door host lb2 (production)', 'ok'],
      ['shared address 10.88.0.250 (production)', 'fail'],
    ]);
    assert.equal(result[2]!.detail, 'held by no member: nothing answers at 10.88.0.250');
  });

  it('a member whose engine does not answer fails; the address is judged on the members seen, and says which were not', async () => {
    const members = await pair(new Set(['lb1']));
    members[1]!.engine.stopAnswering();
    let result = await checks(members);
    assert.deepEqual(statuses(result), [
      ['door host lb1 (production)', 'ok'],
      ['door host lb2 (production)', 'fail'],
      ['shared address 10.88.0.250 (production)', 'ok'],
    ]);
    assert.match(result[1]!.detail, /the engine did not answer/);
    assert.equal(result[2]!.detail, 'held by lb1; not seen on lb2');
    // Not held where Berth can see: the unseen member may hold it, so a warning, not a failure.
    members[0]!.engine.stopAnswering();
    members.push(...(await pair(new Set())).slice(1).map((m) => ({ ...m, host: 'lb3' })));
    result = await checks(members);
    assert.deepEqual(statuses(result).at(-1), ['shared address 10.88.0.250 (production)', 'warn']);
    assert.equal(result.at(-1)!.detail, 'held by none of the members Berth could see; not seen on lb1, lb2');
  });
});
