/** Leases and fenced writes on a real store: one transaction each, refused and rolled back once the lease has another token. */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { inTransaction, type Store } from './db.js';
import { tempStoreForFile } from '../testing/temp-store.js';
import { slotsOf, saveSlot } from './deployments.js';
import { dropLease, fenced, isLostLease, lastToken, leaseOf, renewLease, takeOverLease, tryLease, type Claim, type Lease } from './leases.js';
import { markDone, rolloutById, setRolloutStatus, startRollout } from './releases.js';

let db: Store;
tempStoreForFile('berth-fence-', (opened) => (db = opened));

const claim = (holder: string, service = 'web'): Claim => ({ service, environment: 'production', rollout: 0, holder, pid: 1, hostname: holder });
const slot = { environment: 'production', slot: 'web-production-1', service: 'web', ordinal: 1, host: 'a', network: 'n', hostPorts: {} };
const rollout = { service: 'web', environment: 'production', release: 1, previous: null, kind: 'release' as const, forced: false, actor: 'ana', plan: '{}' };

describe('leases and fenced writes', () => {
  let first: Lease;
  let id: number;

  it('one of many claims at once takes the lease; the others see it held', async () => {
    const outcomes = await Promise.all(['a', 'b', 'c'].map((holder) => tryLease(db, claim(holder), 1_000, 10)));
    const taken = outcomes.filter((o) => 'taken' in o);
    assert.equal(taken.length, 1);
    first = (taken[0] as { taken: Lease }).taken;
    assert.equal(first.token, 1);
    for (const o of outcomes) if ('held' in o) assert.deepEqual(o.held, first);
    assert.equal(await renewLease(db, first, 1_000, 500), true);
    assert.equal((await leaseOf(db, 'web', 'production'))!.expiresAt, 1_500);
  });

  it('a rollout started under the lease is named in it, and its writes go through', async () => {
    id = await startRollout(db, rollout, first, 20);
    assert.equal((await leaseOf(db, 'web', 'production'))!.rollout, id);
    await markDone(db, id, 1, first);
    assert.equal((await rolloutById(db, id))!.done, 1);
  });

  it('after a takeover, the old holder is refused, writes nothing, and a new token is handed out', async () => {
    const held = (await leaseOf(db, 'web', 'production'))!;
    const second = (await takeOverLease(db, held, claim('b'), 1_000, 3_000))!;
    assert.equal(second.token, 2);
    assert.equal(await takeOverLease(db, held, claim('c'), 1_000, 3_000), undefined);
    assert.equal(await lastToken(db, 'web', 'production'), 2);

    await assert.rejects(setRolloutStatus(db, id, 'failed', first), (error: unknown) => isLostLease(error) && /lost its lease of web in production to berth process 1 on b \(fencing token 1 < 2\)/.test(error.message));
    assert.equal((await rolloutById(db, id))!.status, 'running');
    await assert.rejects(fenced(db, first, id, (tx) => saveSlot(tx, slot)), isLostLease);
    assert.deepEqual(await slotsOf(db, 'web', 'production'), []);

    assert.equal(await renewLease(db, first, 1_000, 3_100), false);
    assert.equal(await dropLease(db, first), false);
    assert.equal(await dropLease(db, second), true);
    await assert.rejects(markDone(db, id, 2, second), (error: unknown) => isLostLease(error) && /which has released it since/.test(error.message));
  });

  it('a write that fails inside a transaction leaves nothing of it, and the store goes on', async () => {
    await assert.rejects(
      inTransaction(db, async (tx) => {
        await saveSlot(tx, slot);
        throw new Error('boom');
      }),
      /boom/,
    );
    assert.deepEqual(await slotsOf(db, 'web', 'production'), []);
    const lease = 'taken' in (await tryLease(db, claim('d', 'api'), 1_000, 0)) ? (await leaseOf(db, 'api', 'production'))! : assert.fail('api was free');
    assert.equal(await fenced(db, lease, 0, async (tx) => (await saveSlot(tx, { ...slot, service: 'api', slot: 'api-production-1' }), 'saved')), 'saved');
    assert.equal((await slotsOf(db, 'api', 'production')).length, 1);
  });
});
