import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import type { NetworkSpec } from '../config/model.js';
import { BerthError, type ErrorKind } from '../errors.js';
import { flat, tempStore } from './ipam-fixture.js';
import { Ipam, poolFromNetwork } from './ipam.js';

const stores: ReturnType<typeof tempStore>[] = [];
afterEach(() => stores.splice(0).forEach((s) => s.dispose()));

/** An Ipam on a fresh store with a clock the test moves; range 10.77.0.10-10.77.0.14 minus the reserved .12 unless overridden. */
function setup(overrides: Partial<NetworkSpec> = {}, more: NetworkSpec[] = []) {
  const store = tempStore();
  stores.push(store);
  const clock = { now: 1_000_000 };
  const pools = [flat({ range: { first: '10.77.0.10', last: '10.77.0.14' }, reserved: ['10.77.0.12'], quarantineMs: 30_000, ...overrides }), ...more].map((n) => poolFromNetwork(n, []));
  const ipam = new Ipam(store.db, pools, () => clock.now);
  return { ipam, clock, store, pools };
}

function errorOf(run: () => unknown, kind: ErrorKind): BerthError {
  try {
    run();
  } catch (error) {
    assert.ok(error instanceof BerthError, String(error));
    assert.equal(error.kind, kind, error.message);
    return error;
  }
  assert.fail(`expected a ${kind} error`);
}

describe('requestAddress', () => {
  it('gives the lowest free address, skipping reserved ones, with the MAC derived from it', () => {
    const { ipam, clock } = setup();
    const ips = ['a', 'b', 'c'].map((slot) => ipam.requestAddress('lan', slot).ip);
    assert.deepEqual(ips, ['10.77.0.10', '10.77.0.11', '10.77.0.13']);
    assert.deepEqual(ipam.requestAddress('lan', 'd'), {
      network: 'lan', ip: '10.77.0.14', mac: '02:42:0a:4d:00:0e', slot: 'd', incarnation: 1, state: 'allocated', containerId: null, allocatedAt: clock.now, releasedAt: null,
    });
  });

  it('writes the allocation durably before returning: another connection sees it', () => {
    const { ipam, store, pools } = setup();
    ipam.requestAddress('lan', 'a');
    const other = new Ipam(store.open(), pools);
    assert.deepEqual(other.allocations().map((a) => [a.slot, a.ip]), [['a', '10.77.0.10']]);
    assert.equal(other.requestAddress('lan', 'b').ip, '10.77.0.11');
  });

  it('gives a slot the same address and MAC on every request, counting incarnations', () => {
    const { ipam } = setup();
    const first = ipam.requestAddress('lan', 'a');
    ipam.bind('lan', 'a', 'c1');
    const again = ipam.requestAddress('lan', 'a');
    assert.deepEqual([again.ip, again.mac, again.incarnation, again.state, again.containerId], [first.ip, first.mac, 2, 'allocated', null]);
  });

  it('keeps a slot its MAC when mac_prefix changes later', () => {
    const { ipam, store } = setup();
    const first = ipam.requestAddress('lan', 'a');
    const changed = new Ipam(store.db, [poolFromNetwork(flat({ macPrefix: '06:00', range: { first: '10.77.0.10', last: '10.77.0.14' } }), [])]);
    assert.equal(changed.requestAddress('lan', 'a').mac, first.mac);
    assert.equal(changed.requestAddress('lan', 'b').mac, '06:00:0a:4d:00:0b');
  });

  it('gives a slot its own quarantined address back at once, but other slots only once quarantine is over', () => {
    const { ipam, clock } = setup({ range: { first: '10.77.0.10', last: '10.77.0.11' }, reserved: [] });
    ipam.requestAddress('lan', 'a');
    ipam.requestAddress('lan', 'b');
    ipam.releaseAddress('lan', 'a');
    clock.now += 29_999;
    errorOf(() => ipam.requestAddress('lan', 'c'), 'unavailable');
    assert.deepEqual(ipam.requestAddress('lan', 'a').ip, '10.77.0.10');
    ipam.releaseAddress('lan', 'a');
    clock.now += 30_000;
    const taken = ipam.requestAddress('lan', 'c');
    assert.deepEqual([taken.ip, taken.slot, taken.incarnation], ['10.77.0.10', 'c', 1]);
    errorOf(() => ipam.requestAddress('lan', 'a'), 'conflict'); // a lost its old address to c, and b holds the other
  });

  it('hands out an address whose quarantine is over only when it is the lowest free one', () => {
    const { ipam, clock } = setup();
    ipam.requestAddress('lan', 'a');
    ipam.requestAddress('lan', 'b');
    ipam.releaseAddress('lan', 'b');
    assert.equal(ipam.requestAddress('lan', 'c').ip, '10.77.0.13');
    clock.now += 30_000;
    assert.equal(ipam.requestAddress('lan', 'd').ip, '10.77.0.11');
  });

  it('gives the preferred address when it is free', () => {
    const { ipam } = setup();
    assert.equal(ipam.requestAddress('lan', 'a', '10.77.0.14').ip, '10.77.0.14');
    assert.equal(ipam.requestAddress('lan', 'a', '10.77.0.14').incarnation, 2);
    assert.equal(ipam.requestAddress('lan', 'b').ip, '10.77.0.10');
  });

  it('refuses a preferred address outside the range, reserved, or the gateway', () => {
    const { ipam } = setup({ range: { first: '10.77.0.1', last: '10.77.0.14' } });
    assert.equal(errorOf(() => ipam.requestAddress('lan', 'a', '10.77.0.15'), 'invalid').message, '10.77.0.15 is outside pool "lan" (10.77.0.1-10.77.0.14)');
    assert.equal(errorOf(() => ipam.requestAddress('lan', 'a', '10.77.0.12'), 'invalid').message, '10.77.0.12 is reserved (a host\'s own address or listed under reserved) in pool "lan"');
    assert.equal(errorOf(() => ipam.requestAddress('lan', 'a', '10.77.0.1'), 'invalid').message, '10.77.0.1 is the gateway in pool "lan"');
    assert.match(errorOf(() => ipam.requestAddress('lan', 'a', '10.77.0.010'), 'invalid').message, /not an IPv4 address/);
    assert.deepEqual(ipam.allocations(), []);
  });

  it("refuses another slot's address, naming the owner", () => {
    const { ipam } = setup();
    ipam.requestAddress('lan', 'web-1');
    ipam.bind('lan', 'web-1', 'f00dcafe0123456789');
    const error = errorOf(() => ipam.requestAddress('lan', 'web-2', '10.77.0.10'), 'conflict');
    assert.equal(error.message, '10.77.0.10 in pool "lan" is already owned by slot web-1 (incarnation 1, bound to container f00dcafe0123)');
    assert.equal(error.fix, "request another address, or release slot web-1's first");
  });

  it("refuses another slot's quarantined address, saying how long it waits", () => {
    const { ipam, clock } = setup();
    ipam.requestAddress('lan', 'web-1');
    ipam.releaseAddress('lan', 'web-1');
    clock.now += 10_000;
    const error = errorOf(() => ipam.requestAddress('lan', 'web-2', '10.77.0.10'), 'unavailable');
    assert.equal(error.message, '10.77.0.10 in pool "lan" was released by slot web-1 and stays quarantined for another 20 s');
  });

  it('refuses a second address for a slot that holds one', () => {
    const { ipam } = setup();
    ipam.requestAddress('lan', 'a');
    const error = errorOf(() => ipam.requestAddress('lan', 'a', '10.77.0.13'), 'conflict');
    assert.equal(error.message, 'slot a already owns 10.77.0.10 in pool "lan" (allocated), so it cannot take 10.77.0.13 as well');
  });

  it('moves a slot whose address is quarantined to its preferred one, leaving the old one quarantined without owner', () => {
    const { ipam } = setup();
    ipam.requestAddress('lan', 'a');
    ipam.releaseAddress('lan', 'a');
    const moved = ipam.requestAddress('lan', 'a', '10.77.0.13');
    assert.deepEqual([moved.ip, moved.incarnation], ['10.77.0.13', 2]);
    assert.deepEqual(ipam.allocations().map((a) => [a.ip, a.slot, a.state]), [['10.77.0.10', null, 'quarantined'], ['10.77.0.13', 'a', 'allocated']]);
  });

  it('gives a new address to a slot whose old one left the range', () => {
    const { ipam, store } = setup();
    ipam.requestAddress('lan', 'a');
    const narrowed = new Ipam(store.db, [poolFromNetwork(flat({ range: { first: '10.77.0.11', last: '10.77.0.14' } }), [])]);
    const moved = narrowed.requestAddress('lan', 'a');
    assert.deepEqual([moved.ip, moved.incarnation], ['10.77.0.11', 2]);
    assert.deepEqual(narrowed.allocations().map((a) => a.ip), ['10.77.0.11']);
  });

  it('names an unknown network and the pools there are', () => {
    const { ipam } = setup();
    const error = errorOf(() => ipam.requestAddress('lab', 'a'), 'not-found');
    assert.equal(error.message, 'no address pool for network "lab"');
    assert.equal(error.fix, 'use a flat network with a pool: lan');
  });
});

describe('an exhausted pool', () => {
  it('is a conflict when every address is in use, naming the pool, its size and the owners', () => {
    const { ipam } = setup();
    for (const slot of ['web-1', 'web-2', 'api-1', 'api-2']) ipam.requestAddress('lan', slot);
    ipam.bind('lan', 'web-1', 'c1');
    const error = errorOf(() => ipam.requestAddress('lan', 'web-3'), 'conflict');
    assert.equal(error.message, 'pool "lan" is exhausted: all 4 addresses of 10.77.0.10-10.77.0.14 are taken (1 bound, 3 allocated, 0 quarantined)');
    assert.deepEqual(error.lines, ['in use: web-1 10.77.0.10, web-2 10.77.0.11, api-1 10.77.0.13, api-2 10.77.0.14']);
    assert.equal(error.fix, 'widen networks.lan.range in berth.yaml or scale a service down');
  });

  it('is unavailable when waiting for quarantine helps, saying how long', () => {
    const { ipam, clock } = setup();
    for (const slot of ['web-1', 'web-2', 'api-1', 'api-2']) ipam.requestAddress('lan', slot);
    ipam.releaseAddress('lan', 'web-2');
    clock.now += 5_000;
    ipam.releaseAddress('lan', 'web-1');
    const error = errorOf(() => ipam.requestAddress('lan', 'web-3'), 'unavailable');
    assert.equal(error.message, 'pool "lan" is exhausted: all 4 addresses of 10.77.0.10-10.77.0.14 are taken (0 bound, 2 allocated, 2 quarantined)');
    assert.deepEqual(error.lines, [
      'in use: api-1 10.77.0.13, api-2 10.77.0.14',
      'quarantined: 10.77.0.10 (was web-1), 10.77.0.11 (was web-2); the first is free again in 25 s',
    ]);
    assert.equal(error.fix, 'widen networks.lan.range in berth.yaml, scale a service down or wait 25 s for the first quarantined address');
  });

  it('lists at most ten owners', () => {
    const { ipam } = setup({ range: { first: '10.77.0.10', last: '10.77.0.21' }, reserved: [] });
    for (let i = 0; i < 12; i++) ipam.requestAddress('lan', `s${i}`);
    assert.match(errorOf(() => ipam.requestAddress('lan', 'x'), 'conflict').lines[0]!, /s9 10\.77\.0\.19 and 2 more$/);
  });
});

describe('bind', () => {
  it('marks the allocation bound to its container', () => {
    const { ipam } = setup();
    const { incarnation } = ipam.requestAddress('lan', 'a');
    ipam.bind('lan', 'a', 'c1', incarnation);
    ipam.bind('lan', 'a', 'c1');
    assert.deepEqual(ipam.allocations().map((a) => [a.state, a.containerId]), [['bound', 'c1']]);
  });

  it('refuses a stale incarnation, a released address, a second container and a slot without address', () => {
    const { ipam } = setup();
    ipam.requestAddress('lan', 'a');
    ipam.requestAddress('lan', 'a');
    assert.match(errorOf(() => ipam.bind('lan', 'a', 'c1', 1), 'conflict').message, /at incarnation 2, not 1/);
    ipam.bind('lan', 'a', 'c1', 2);
    assert.match(errorOf(() => ipam.bind('lan', 'a', 'c2'), 'conflict').message, /already bound to container c1/);
    ipam.releaseAddress('lan', 'a');
    assert.match(errorOf(() => ipam.bind('lan', 'a', 'c2'), 'conflict').message, /was released before container c2 was bound/);
    errorOf(() => ipam.bind('lan', 'b', 'c3'), 'not-found');
  });
});

describe('releaseAddress', () => {
  it('moves the address into quarantine and is idempotent', () => {
    const { ipam, clock } = setup();
    ipam.requestAddress('lan', 'a');
    ipam.bind('lan', 'a', 'c1');
    clock.now += 7;
    const released = ipam.releaseAddress('lan', 'a');
    assert.deepEqual([released?.state, released?.releasedAt, released?.containerId], ['quarantined', clock.now, null]);
    assert.equal(ipam.quarantineEndsAt(released!), clock.now + 30_000);
    assert.equal(ipam.releaseAddress('lan', 'a'), undefined);
    assert.equal(ipam.releaseAddress('lan', 'never'), undefined);
  });
});

describe('reconcile', () => {
  it("quarantines dead slots' allocated and bound addresses and leaves live slots alone", () => {
    const { ipam } = setup();
    for (const slot of ['live', 'crashed', 'gone']) ipam.requestAddress('lan', slot);
    ipam.bind('lan', 'live', 'c1');
    ipam.bind('lan', 'gone', 'c3');
    assert.deepEqual(ipam.reconcile('lan', new Set(['live'])), { released: ['10.77.0.11', '10.77.0.13'], dropped: ['10.77.0.13'] });
    assert.deepEqual(ipam.allocations().map((a) => [a.slot, a.state]), [['live', 'bound'], ['crashed', 'quarantined'], ['gone', 'quarantined']]);
    assert.deepEqual(ipam.reconcile('lan', new Set(['live'])), { released: [], dropped: [] });
  });

  it('spares allocations younger than graceMs, so a deploy in flight keeps its address', () => {
    const { ipam, clock } = setup();
    ipam.requestAddress('lan', 'old');
    clock.now += 10_000;
    ipam.requestAddress('lan', 'new');
    assert.deepEqual(ipam.reconcile('lan', new Set(), { graceMs: 5_000 }).released, ['10.77.0.10']);
  });
});

describe('usage and allocations', () => {
  it('counts allocated, bound, quarantined and free; an address past quarantine is free', () => {
    const { ipam, clock } = setup();
    for (const slot of ['a', 'b', 'c']) ipam.requestAddress('lan', slot);
    ipam.bind('lan', 'a', 'c1');
    ipam.releaseAddress('lan', 'c');
    assert.deepEqual(ipam.usage('lan'), { size: 4, allocated: 1, bound: 1, quarantined: 1, free: 1 });
    clock.now += 30_000;
    assert.deepEqual(ipam.usage('lan'), { size: 4, allocated: 1, bound: 1, quarantined: 0, free: 2 });
  });

  it('lists allocations by network, then numerically by address', () => {
    const wide = flat({ name: 'wan', subnet: '10.88.0.0/24', gateway: '10.88.0.1', range: { first: '10.88.0.9', last: '10.88.0.10' } });
    const { ipam } = setup({}, [wide]);
    ipam.requestAddress('wan', 'x', '10.88.0.10');
    ipam.requestAddress('wan', 'y', '10.88.0.9');
    ipam.requestAddress('lan', 'z');
    assert.deepEqual(ipam.allocations().map((a) => `${a.network} ${a.ip}`), ['lan 10.77.0.10', 'wan 10.88.0.9', 'wan 10.88.0.10']);
    assert.deepEqual(ipam.allocations('wan').map((a) => a.slot), ['y', 'x']);
  });
});

describe('the store', () => {
  it('refuses a second row for one address or one slot, whoever writes it', () => {
    const { ipam, store } = setup();
    ipam.requestAddress('lan', 'a');
    const insert = store.db.prepare("INSERT INTO ipam_allocations (network, ip, mac, slot, incarnation, state, allocated_at) VALUES ('lan', ?, ?, ?, 1, 'allocated', 0)");
    assert.throws(() => insert.run('10.77.0.10', '02:42:0a:4d:00:99', 'b'), /UNIQUE constraint failed: ipam_allocations.network, ipam_allocations.ip/);
    assert.throws(() => insert.run('10.77.0.11', '02:42:0a:4d:00:0b', 'a'), /UNIQUE constraint failed: ipam_allocations.network, ipam_allocations.slot/);
    assert.throws(() => store.db.prepare("UPDATE ipam_allocations SET state = 'bound'").run(), /CHECK constraint failed/);
  });

  it('waits for another connection\'s write lock, and says the store is busy when it is held too long', () => {
    const { ipam, store, pools } = setup();
    const other = store.open();
    other.pragma('busy_timeout = 50');
    store.db.exec('BEGIN IMMEDIATE');
    try {
      const error = errorOf(() => new Ipam(other, pools).requestAddress('lan', 'a'), 'unavailable');
      assert.match(error.message, /store is busy/);
    } finally {
      store.db.exec('ROLLBACK');
    }
    assert.equal(new Ipam(other, pools).requestAddress('lan', 'a').ip, ipam.requestAddress('lan', 'a').ip);
  });
});
