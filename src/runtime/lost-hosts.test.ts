import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DEFAULT_FAILURE, type Project } from '../config/model.js';
import { closeStore, openStore, type Store } from '../store/db.js';
import { setHostHealth } from '../store/host-health.js';
import { renewWardenLease } from '../store/warden-leases.js';
import type { RunContext } from './context.js';
import { lostHosts, wardenLeaseMs } from './lost-hosts.js';

describe('lost hosts: down past the stop grace, and past the end of their warden lease plus the grace', () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-lost-hosts-'));
  let db: Store;
  let run: RunContext;
  const t0 = 1_800_000_000_000;

  before(async () => {
    db = await openStore(dir);
    run = { db, project: { hosts: ['a', 'b', 'c', 'd'].map((name) => ({ name })), failure: { ...DEFAULT_FAILURE, stopGraceMs: 5000 } } as Project } as RunContext;
  });
  after(async () => {
    await closeStore(db);
    rmSync(dir, { recursive: true, force: true });
  });

  it('a down host without a warden is lost once the grace has passed; suspect and returning ones never', async () => {
    await setHostHealth(db, { name: 'a', state: 'down', since: t0, reason: '' });
    await setHostHealth(db, { name: 'b', state: 'suspect', since: t0, reason: '' });
    await setHostHealth(db, { name: 'c', state: 'returning', since: t0, reason: '' });
    assert.deepEqual([...(await lostHosts(run, t0 + 4999))], []);
    assert.deepEqual([...(await lostHosts(run, t0 + 5000))], ['a']);
  });

  it('a down host whose warden lease runs on is lost only once the lease ended plus the grace', async () => {
    await renewWardenLease(db, 'a', 8000, t0 - 1000);
    assert.deepEqual([...(await lostHosts(run, t0 + 5000))], [], 'its warden may still let its instances run until t0+7000, then stops them');
    assert.deepEqual([...(await lostHosts(run, t0 + 11_999))], []);
    assert.deepEqual([...(await lostHosts(run, t0 + 12_000))], ['a']);
  });

  it('with no host of the fleet answering, none is lost: the server is likelier cut off itself, and there is nowhere to go', async () => {
    const alone = { ...run, project: { ...run.project, hosts: [{ name: 'a' }, { name: 'b' }] } } as RunContext;
    assert.deepEqual([...(await lostHosts(alone, t0 + 60_000))], [], 'a down, b suspect');
    await setHostHealth(db, { name: 'b', state: 'up', since: t0, reason: '' });
    assert.deepEqual([...(await lostHosts(alone, t0 + 60_000))], ['a'], 'once b answers, a is lost');
  });

  it('a lease lasts as long as the server takes to call a silent host down', () => {
    assert.equal(wardenLeaseMs({ ...DEFAULT_FAILURE, intervalMs: 2000, downAfter: 4 }), 8000);
  });
});
