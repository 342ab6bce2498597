import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import type { NetworkSpec } from '../config/model.js';
import { BerthError, type ErrorKind } from '../errors.js';
import { sqliteOf } from '../store/db.js';
import { claimLeadership, resignLeadership } from '../store/leader.js';
import { LostLeadership } from '../store/leases.js';
import { flat, tempStore, type TempStore } from './ipam-fixture.js';
import { Ipam, poolFromNetwork } from './ipam.js';

const stores: TempStore[] = [];
afterEach(() => Promise.all(stores.splice(0).map((s) => s.dispose())));

/** An Ipam on a fresh store with a clock the test moves; range 10.77.0.10-10.77.0.14 minus the reserved .12 unless overridden. */
async function setup(overrides: Partial<NetworkSpec> = {}, more: NetworkSpec[] = []) {
  const store = await tempStore();
  stores.push(store);
  const clock = { now: 1_000_000 };
  const pools = [flat({ range: { first: '10.77.0.10', last: '10.77.0.14' }, reserved: ['10.77.0.12'], quarantineMs: 30_000, ...overrides }), ...more].map((n) => poolFromNetwork(n, []));
  const ipam = new Ipam(store.db, pools, () => clock.now);
  return { ipam, clock, store, pools };
}

async function errorOf(run: () => Promise<unknown>, kind: ErrorKind): Promise<BerthError> {
  try {
    await run();
  } catch (error) {
    assert.ok(error instanceof BerthError, String(error));
    assert.equal(error.kind, kind, error.message);
    return error;
  }
  assert.fail(`expected a ${kind} error`);
}

describe('requestAddress', () => {
  it('gives the lowest free address, skipping reserved ones, with the MAC derived from it', async () => {
    const { ipam, clock } = await setup();
    const ips = [];
    for (const slot of ['a', 'b', 'c']) ips.push((await ipam.requestAddress('lan', slot)).ip);
    assert.deepEqual(ips, ['10.77.0.10', '10.77.0.11', '10.77.0.13']);
    assert.deepEqual(await ipam.requestAddress('lan', 'd'), {
      network: 'lan', ip: '10.77.0.14', mac: '02:42:0a:4d:00:0e', slot: 'd', incarnation: 1, state: 'allocated', containerId: null, allocatedAt: clock.now, releasedAt: null,
    });
  });

  it('writes the allocation durably before returning: another connection sees it', async () => {
    const { ipam, store, pools } = await setup();
    await ipam.requestAddress('lan', 'a');
    const other = new Ipam(await store.open(), pools);
    assert.deepEqual((await other.allocations()).map((a) => [a.slot, a.ip]), [['a', '10.77.0.10']]);
    assert.equal((await other.requestAddress('lan', 'b')).ip, '10.77.0.11');
  });

  it('gives a slot the same address and MAC on every request, counting incarnations', async () => {
    const { ipam } = await setup();
    const first = await ipam.requestAddress('lan', 'a');
    await ipam.bind('lan', 'a', 'c1');
    const again = await ipam.requestAddress('lan', 'a');
    assert.deepEqual([again.ip, again.mac, again.incarnation, again.state, again.containerId], [first.ip, first.mac, 2, 'allocated', null]);
  });

  it('keeps a slot its MAC when mac_prefix changes later', async () => {
    const { ipam, store } = await setup();
    const first = await ipam.requestAddress('lan', 'a');
    const changed = new Ipam(store.db, [poolFromNetwork(flat({ macPrefix: '06:00', range: { first: '10.77.0.10', last: '10.77.0.14' } }), [])]);
    assert.equal((await changed.requestAddress('lan', 'a')).mac, first.mac);
    assert.equal((await changed.requestAddress('lan', 'b')).mac, '06:00:0a:4d:00:0b');
  });

  it('gives a slot its own quarantined address back at once, but other slots only once quarantine is over', async () => {
    const { ipam, clock } = await setup({ range: { first: '10.77.0.10', last: '10.77.0.11' }, reserved: [] });
    await ipam.requestAddress('lan', 'a');
    await ipam.requestAddress('lan', 'b');
    await ipam.releaseAddress('lan', 'a');
    clock.now += 29_999;
    await errorOf(() => ipam.requestAddress('lan', 'c'), 'unavailable');
    assert.deepEqual((await ipam.requestAddress('lan', 'a')).ip, '10.77.0.10');
    await ipam.releaseAddress('lan', 'a');
    clock.now += 30_000;
    const taken = await ipam.requestAddress('lan', 'c');
    assert.deepEqual([taken.ip, taken.slot, taken.incarnation], ['10.77.0.10', 'c', 1]);
    await errorOf(() => ipam.requestAddress('lan', 'a'), 'conflict'); // a lost its old address to c, and b holds the other
  });

  it('hands out an address whose quarantine is over only when it is the lowest free one', async () => {
    const { ipam, clock } = await setup();
    await ipam.requestAddress('lan', 'a');
    await ipam.requestAddress('lan', 'b');
    await ipam.releaseAddress('lan', 'b');
    assert.equal((await ipam.requestAddress('lan', 'c')).ip, '10.77.0.13');
    clock.now += 30_000;
    assert.equal((await ipam.requestAddress('lan', 'd')).ip, '10.77.0.11');
  });

  it('gives the preferred address when it is free', async () => {
    const { ipam } = await setup();
    assert.equal((await ipam.requestAddress('lan', 'a', '10.77.0.14')).ip, '10.77.0.14');
    assert.equal((await ipam.requestAddress('lan', 'a', '10.77.0.14')).incarnation, 2);
    assert.equal((await ipam.requestAddress('lan', 'b')).ip, '10.77.0.10');
  });

  it('refuses a preferred address outside the range, reserved, or the gateway', async () => {
    const { ipam } = await setup({ range: { first: '10.77.0.1', last: '10.77.0.14' } });
    assert.equal((await errorOf(() => ipam.requestAddress('lan', 'a', '10.77.0.15'), 'invalid')).message, '10.77.0.15 is outside pool "lan" (10.77.0.1-10.77.0.14)');
    assert.equal((await errorOf(() => ipam.requestAddress('lan', 'a', '10.77.0.12'), 'invalid')).message, '10.77.0.12 is reserved (a host\'s own address or listed under reserved) in pool "lan"');
    assert.equal((await errorOf(() => ipam.requestAddress('lan', 'a', '10.77.0.1'), 'invalid')).message, '10.77.0.1 is the gateway in pool "lan"');
    assert.match((await errorOf(() => ipam.requestAddress('lan', 'a', '10.77.0.010'), 'invalid')).message, /not an IPv4 address/);
    assert.deepEqual(await ipam.allocations(), []);
  });

  it("refuses another slot's address, naming the owner", async () => {
    const { ipam } = await setup();
    await ipam.requestAddress('lan', 'web-1');
    await ipam.bind('lan', 'web-1', 'f00dcafe0123456789');
    const error = await errorOf(() => ipam.requestAddress('lan', 'web-2', '10.77.0.10'), 'conflict');
    assert.equal(error.message, '10.77.0.10 in pool "lan" is already owned by slot web-1 (incarnation 1, bound to container f00dcafe0123)');
    assert.equal(error.fix, "request another address, or release slot web-1's first");
  });

  it("refuses another slot's quarantined address, saying how long it waits", async () => {
    const { ipam, clock } = await setup();
    await ipam.requestAddress('lan', 'web-1');
    await ipam.releaseAddress('lan', 'web-1');
    clock.now += 10_000;
    const error = await errorOf(() => ipam.requestAddress('lan', 'web-2', '10.77.0.10'), 'unavailable');
    assert.equal(error.message, '10.77.0.10 in pool "lan" was released by slot web-1 and stays quarantined for another 20 s');
  });

  it('refuses a second address for a slot that holds one', async () => {
    const { ipam } = await setup();
    await ipam.requestAddress('lan', 'a');
    const error = await errorOf(() => ipam.requestAddress('lan', 'a', '10.77.0.13'), 'conflict');
    assert.equal(error.message, 'slot a already owns 10.77.0.10 in pool "lan" (allocated), so it cannot take 10.77.0.13 as well');
  });

  it('moves a slot whose address is quarantined to its preferred one, leaving the old one quarantined without owner', async () => {
    const { ipam } = await setup();
    await ipam.requestAddress('lan', 'a');
    await ipam.releaseAddress('lan', 'a');
    const moved = await ipam.requestAddress('lan', 'a', '10.77.0.13');
    assert.deepEqual([moved.ip, moved.incarnation], ['10.77.0.13', 2]);
    assert.deepEqual((await ipam.allocations()).map((a) => [a.ip, a.slot, a.state]), [['10.77.0.10', null, 'quarantined'], ['10.77.0.13', 'a', 'allocated']]);
  });

  it('gives a new address to a slot whose old one left the range', async () => {
    const { ipam, store } = await setup();
    await ipam.requestAddress('lan', 'a');
    const narrowed = new Ipam(store.db, [poolFromNetwork(flat({ range: { first: '10.77.0.11', last: '10.77.0.14' } }), [])]);
    const moved = await narrowed.requestAddress('lan', 'a');
    assert.deepEqual([moved.ip, moved.incarnation], ['10.77.0.11', 2]);
    assert.deepEqual((await narrowed.allocations()).map((a) => a.ip), ['10.77.0.11']);
  });

  it('names an unknown network and the pools there are', async () => {
    const { ipam } = await setup();
    const error = await errorOf(() => ipam.requestAddress('lab', 'a'), 'not-found');
    assert.equal(error.message, 'no address pool for network "lab"');
    assert.equal(error.fix, 'use a flat network with a pool: lan');
  });
});

describe('an exhausted pool', () => {
  it('is a conflict when every address is in use, naming the pool, its size and the owners', async () => {
    const { ipam } = await setup();
    for (const slot of ['web-1', 'web-2', 'api-1', 'api-2']) await ipam.requestAddress('lan', slot);
    await ipam.bind('lan', 'web-1', 'c1');
    const error = await errorOf(() => ipam.requestAddress('lan', 'web-3'), 'conflict');
    assert.equal(error.message, 'pool "lan" is exhausted: all 4 addresses of 10.77.0.10-10.77.0.14 are taken (1 bound, 3 allocated, 0 quarantined)');
    assert.deepEqual(error.lines, ['in use: web-1 10.77.0.10, web-2 10.77.0.11, api-1 10.77.0.13, api-2 10.77.0.14']);
    assert.equal(error.fix, 'widen networks.lan.range in berth.yaml or scale a service down');
  });

  it('is unavailable when waiting for quarantine helps, saying how long', async () => {
    const { ipam, clock } = await setup();
    for (const slot of ['web-1', 'web-2', 'api-1', 'api-2']) await ipam.requestAddress('lan', slot);
    await ipam.releaseAddress('lan', 'web-2');
    clock.now += 5_000;
    await ipam.releaseAddress('lan', 'web-1');
    const error = await errorOf(() => ipam.requestAddress('lan', 'web-3'), 'unavailable');
    assert.equal(error.message, 'pool "lan" is exhausted: all 4 addresses of 10.77.0.10-10.77.0.14 are taken (0 bound, 2 allocated, 2 quarantined)');
    assert.deepEqual(error.lines, [
      'in use: api-1 10.77.0.13, api-2 10.77.0.14',
      'quarantined: 10.77.0.10 (was web-1), 10.77.0.11 (was web-2); the first is free again in 25 s',
    ]);
    assert.equal(error.fix, 'widen networks.lan.range in berth.yaml, scale a service down or wait 25 s for the first quarantined address');
  });

  it('lists at most ten owners', async () => {
    const { ipam } = await setup({ range: { first: '10.77.0.10', last: '10.77.0.21' }, reserved: [] });
    for (let i = 0; i < 12; i++) await ipam.requestAddress('lan', `s${i}`);
    assert.match((await errorOf(() => ipam.requestAddress('lan', 'x'), 'conflict')).lines[0]!, /s9 10\.77\.0\.19 and 2 more$/);
  });
});

describe('bind', () => {
  it('marks the allocation bound to its container', async () => {
    const { ipam } = await setup();
    const { incarnation } = await ipam.requestAddress('lan', 'a');
    await ipam.bind('lan', 'a', 'c1', incarnation);
    await ipam.bind('lan', 'a', 'c1');
    assert.deepEqual((await ipam.allocations()).map((a) => [a.state, a.containerId]), [['bound', 'c1']]);
  });

  it('refuses a stale incarnation, a released address, a second container and a slot without address', async () => {
    const { ipam } = await setup();
    await ipam.requestAddress('lan', 'a');
    await ipam.requestAddress('lan', 'a');
    assert.match((await errorOf(() => ipam.bind('lan', 'a', 'c1', 1), 'conflict')).message, /at incarnation 2, not 1/);
    await ipam.bind('lan', 'a', 'c1', 2);
    assert.match((await errorOf(() => ipam.bind('lan', 'a', 'c2'), 'conflict')).message, /already bound to container c1/);
    await ipam.releaseAddress('lan', 'a');
    assert.match((await errorOf(() => ipam.bind('lan', 'a', 'c2'), 'conflict')).message, /was released before container c2 was bound/);
    await errorOf(() => ipam.bind('lan', 'b', 'c3'), 'not-found');
  });
});

describe('releaseAddress', () => {
  it('moves the address into quarantine and is idempotent', async () => {
    const { ipam, clock } = await setup();
    await ipam.requestAddress('lan', 'a');
    await ipam.bind('lan', 'a', 'c1');
    clock.now += 7;
    const released = await ipam.releaseAddress('lan', 'a');
    assert.deepEqual([released?.state, released?.releasedAt, released?.containerId], ['quarantined', clock.now, null]);
    assert.equal(ipam.quarantineEndsAt(released!), clock.now + 30_000);
    assert.equal(await ipam.releaseAddress('lan', 'a'), undefined);
    assert.equal(await ipam.releaseAddress('lan', 'never'), undefined);
  });
});

describe('reconcile', () => {
  it("quarantines dead slots' allocated and bound addresses and leaves live slots alone", async () => {
    const { ipam } = await setup();
    for (const slot of ['live', 'crashed', 'gone']) await ipam.requestAddress('lan', slot);
    await ipam.bind('lan', 'live', 'c1');
    await ipam.bind('lan', 'gone', 'c3');
    assert.deepEqual(await ipam.reconcile('lan', new Set(['live'])), { released: ['10.77.0.11', '10.77.0.13'], dropped: ['10.77.0.13'] });
    assert.deepEqual((await ipam.allocations()).map((a) => [a.slot, a.state]), [['live', 'bound'], ['crashed', 'quarantined'], ['gone', 'quarantined']]);
    assert.deepEqual(await ipam.reconcile('lan', new Set(['live'])), { released: [], dropped: [] });
  });

  it('spares allocations younger than graceMs, so a deploy in flight keeps its address', async () => {
    const { ipam, clock } = await setup();
    await ipam.requestAddress('lan', 'old');
    clock.now += 10_000;
    await ipam.requestAddress('lan', 'new');
    assert.deepEqual((await ipam.reconcile('lan', new Set(), { graceMs: 5_000 })).released, ['10.77.0.10']);
  });
});

describe('usage and allocations', () => {
  it('counts allocated, bound, quarantined and free; an address past quarantine is free', async () => {
    const { ipam, clock } = await setup();
    for (const slot of ['a', 'b', 'c']) await ipam.requestAddress('lan', slot);
    await ipam.bind('lan', 'a', 'c1');
    await ipam.releaseAddress('lan', 'c');
    assert.deepEqual(await ipam.usage('lan'), { size: 4, allocated: 1, bound: 1, quarantined: 1, free: 1 });
    clock.now += 30_000;
    assert.deepEqual(await ipam.usage('lan'), { size: 4, allocated: 1, bound: 1, quarantined: 0, free: 2 });
  });

  it('lists allocations by network, then numerically by address', async () => {
    const wide = flat({ name: 'wan', subnet: '10.88.0.0/24', gateway: '10.88.0.1', range: { first: '10.88.0.9', last: '10.88.0.10' } });
    const { ipam } = await setup({}, [wide]);
    await ipam.requestAddress('wan', 'x', '10.88.0.10');
    await ipam.requestAddress('wan', 'y', '10.88.0.9');
    await ipam.requestAddress('lan', 'z');
    assert.deepEqual((await ipam.allocations()).map((a) => `${a.network} ${a.ip}`), ['lan 10.77.0.10', 'wan 10.88.0.9', 'wan 10.88.0.10']);
    assert.deepEqual((await ipam.allocations('wan')).map((a) => a.slot), ['y', 'x']);
  });
});

describe('the store', () => {
  it('refuses a second row for one address or one slot, whoever writes it', async () => {
    const { ipam, store } = await setup();
    await ipam.requestAddress('lan', 'a');
    const insert = (ip: string, mac: string, slot: string) =>
      store.db.insertInto('ipam_allocations').values({ network: 'lan', ip, mac, slot, incarnation: 1, state: 'allocated', container_id: null, allocated_at: 0, released_at: null }).execute();
    await assert.rejects(insert('10.77.0.10', '02:42:0a:4d:00:99', 'b'), /UNIQUE constraint failed: ipam_allocations.network, ipam_allocations.ip/);
    await assert.rejects(insert('10.77.0.11', '02:42:0a:4d:00:0b', 'a'), /UNIQUE constraint failed: ipam_allocations.network, ipam_allocations.slot/);
    await assert.rejects(store.db.updateTable('ipam_allocations').set({ state: 'bound' }).execute(), /CHECK constraint failed/);
  });

  it('waits for another connection\'s write lock, and says the store is busy when it is held too long', async () => {
    const { ipam, store, pools } = await setup();
    const other = await store.open();
    sqliteOf(other).pragma('busy_timeout = 50');
    // A write lock held by another process, as SQLite sees it: taken on the first connection's own file handle.
    sqliteOf(store.db).exec('BEGIN IMMEDIATE');
    try {
      const error = await errorOf(() => new Ipam(other, pools).requestAddress('lan', 'a'), 'unavailable');
      assert.match(error.message, /store is busy/);
    } finally {
      sqliteOf(store.db).exec('ROLLBACK');
    }
    assert.equal((await new Ipam(other, pools).requestAddress('lan', 'a')).ip, (await ipam.requestAddress('lan', 'a')).ip);
  });
});

describe('changes made under a leader epoch (servers sharing a store)', () => {
  it('are refused in their own transaction once a newer leader epoch exists or the leader stopped acting, and write nothing; reads still answer', async () => {
    const { store, pools, clock } = await setup();
    const first = await claimLeadership(store.db, { holder: 'server-a', address: 'http://a' }, 60_000, clock.now);
    assert.ok('leading' in first && first.leading.epoch === 1);
    let acting = true;
    const a = new Ipam(store.db, pools, () => clock.now, { epoch: 1, acting: () => acting });
    await a.requestAddress('lan', 'web-1');
    await a.bind('lan', 'web-1', 'c1');

    acting = false;
    await assert.rejects(a.requestAddress('lan', 'web-2'), (error: unknown) => error instanceof LostLeadership && /an address change on network lan stops: this server stopped leading \(leader epoch 1/.test(error.message));
    acting = true;

    // Server B takes over with epoch 2: A's every kind of change is refused, and nothing of it is written.
    await resignLeadership(store.db, { holder: 'server-a', epoch: 1 }, clock.now);
    const second = await claimLeadership(store.db, { holder: 'server-b', address: 'http://b' }, 60_000, clock.now);
    assert.ok('leading' in second && second.leading.epoch === 2);
    const before = await a.allocations();
    const refused = (error: unknown) => error instanceof LostLeadership && error.kind === 'conflict' && /an address change on network lan was refused: it was made under leader epoch 1, and server server-b leads with epoch 2 now/.test(error.message);
    await assert.rejects(a.requestAddress('lan', 'web-2'), refused);
    await assert.rejects(a.bind('lan', 'web-1', 'c2'), refused);
    await assert.rejects(a.releaseAddress('lan', 'web-1'), refused);
    await assert.rejects(a.reconcile('lan', new Set()), refused);
    assert.deepEqual(await a.allocations(), before);

    // B, under epoch 2, changes what A could not.
    const b = new Ipam(store.db, pools, () => clock.now, { epoch: 2, acting: () => true });
    assert.equal((await b.releaseAddress('lan', 'web-1'))?.state, 'quarantined');
    assert.equal((await b.requestAddress('lan', 'web-2')).ip, '10.77.0.11');
  });
});
