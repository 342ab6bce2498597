/** The door's recorded port is written under the leader epoch, as every other write of a rollout (issue 21). */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { closeStore, openStore, type Store } from '../store/db.js';
import { claimLeadership, resignLeadership } from '../store/leader.js';
import { LostLeadership } from '../store/leases.js';
import { forgetFrontDoorPort, frontDoorPort, saveFrontDoorPort } from '../store/releases.js';
import { underLeaderEpoch } from './front-door.js';

describe("the front door's recorded port, written by a server sharing its store", () => {
  let dir: string;
  let db: Store;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'berth-door-port-fence-'));
    db = await openStore(dir);
  });

  after(async () => {
    await closeStore(db);
    rmSync(dir, { recursive: true, force: true });
  });

  it('is written under the current epoch, refused with nothing written under a stopped or older one; without a leader lease, written as before', async () => {
    const first = await claimLeadership(db, { holder: 'server-a', address: 'http://a' }, 60_000);
    assert.ok('leading' in first && first.leading.epoch === 1);
    let acting = true;
    const a = { db, leader: { epoch: 1, acting: () => acting } };
    await underLeaderEpoch(a, 'recording the port', (tx) => saveFrontDoorPort(tx, 'web', 'prod', '127.0.0.1', 41001));
    assert.deepEqual(await frontDoorPort(db, 'web', 'prod'), { address: '127.0.0.1', port: 41001 });

    acting = false;
    await assert.rejects(
      underLeaderEpoch(a, 'recording the port', (tx) => saveFrontDoorPort(tx, 'web', 'prod', '127.0.0.1', 41002)),
      (error: unknown) => error instanceof LostLeadership && /recording the port stops: this server stopped leading \(leader epoch 1/.test(error.message),
    );
    acting = true;

    await resignLeadership(db, { holder: 'server-a', epoch: 1 });
    const second = await claimLeadership(db, { holder: 'server-b', address: 'http://b' }, 60_000);
    assert.ok('leading' in second && second.leading.epoch === 2);
    const refused = (error: unknown) => error instanceof LostLeadership && /was refused: it was made under leader epoch 1, and server server-b leads with epoch 2 now/.test(error.message);
    await assert.rejects(underLeaderEpoch(a, 'recording the port', (tx) => saveFrontDoorPort(tx, 'web', 'prod', '127.0.0.1', 41003)), refused);
    await assert.rejects(underLeaderEpoch(a, 'forgetting the port', (tx) => forgetFrontDoorPort(tx, 'web', 'prod')), refused);
    assert.deepEqual(await frontDoorPort(db, 'web', 'prod'), { address: '127.0.0.1', port: 41001 });

    await underLeaderEpoch({ db, leader: { epoch: 2, acting: () => true } }, 'recording the port', (tx) => saveFrontDoorPort(tx, 'web', 'prod', '127.0.0.1', 41004));
    assert.deepEqual(await frontDoorPort(db, 'web', 'prod'), { address: '127.0.0.1', port: 41004 });
    await underLeaderEpoch({ db }, 'forgetting the port', (tx) => forgetFrontDoorPort(tx, 'web', 'prod'));
    assert.equal(await frontDoorPort(db, 'web', 'prod'), undefined);
  });
});
