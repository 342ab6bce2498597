/**
 * Leases on a real store: taken, refused while held, renewed, taken over once
 * expired with a higher token, and a stale holder's writes refused. Two holders
 * are played on other machines (so only their leases' expiry tells whether they
 * live) with a clock each test moves by hand.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { isBerthError } from '../errors.js';
import { openStore, type Db } from '../store/db.js';
import { saveSlot, slotsOf } from '../store/deployments.js';
import { fenced, isLostLease, lastToken, leaseOf, leasesHeldBy, tryLease } from '../store/leases.js';
import { markDone, replacePlan, rolloutById, setEvidence, setRolloutStatus, startRollout } from '../store/releases.js';
import { acquire, acquireForDecision, acquireToAbandon, holderAlive, leaseSettings, thisProcess, type HeldLease, type Holder, type LeaseSettings } from './lease.js';

const A: Holder = { holder: 'host-a:4100:aaaa', pid: 4100, hostname: 'host-a' };
const B: Holder = { holder: 'host-b:4200:bbbb', pid: 4200, hostname: 'host-b' };
const TTL = 1_000;
const T0 = Date.parse('2026-12-02T03:00:00Z');

/** A clock that moves only when the test says so. */
function clock(start = T0) {
  let now = start;
  return { now: () => now, advance: (ms: number) => void (now += ms) };
}

const as = (holder: Holder, time: { now: () => number }, ttlMs = TTL): LeaseSettings => ({ ttlMs, now: time.now, as: holder });

const rolloutOf = { service: 'web', environment: 'production', release: 3, previous: 2, kind: 'promote' as const, forced: false, actor: 'ana', plan: JSON.stringify({ target: 3, phase: 'forward', steps: [{ op: 'replace', slots: ['web-production-1'] }] }) };

describe('leases of a service × environment', () => {
  const dirs: string[] = [];
  const held: HeldLease[] = [];
  const store = (): Db => {
    const dir = mkdtempSync(join(tmpdir(), 'berth-lease-'));
    dirs.push(dir);
    return openStore(dir);
  };
  /** Every lease a test takes stops renewing at the end (the timers are unref'd, but a test leaves nothing running). */
  const keep = <T extends { lease: HeldLease } | HeldLease>(outcome: T): T => {
    held.push('lease' in outcome ? outcome.lease : outcome);
    return outcome;
  };
  after(() => {
    for (const lease of held) lease.stop();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it('is taken when free, with token 1, TTL from now and this holder', () => {
    const db = store();
    const time = clock();
    const { lease, interrupted } = keep(acquire(db, 'web', 'production', 0, as(A, time)));
    assert.equal(interrupted, undefined);
    assert.equal(lease.token, 1);
    const row = leaseOf(db, 'web', 'production')!;
    assert.deepEqual(row, { service: 'web', environment: 'production', rollout: 0, holder: A.holder, pid: A.pid, hostname: A.hostname, token: 1, acquiredAt: T0, expiresAt: T0 + TTL });
    assert.deepEqual(leasesHeldBy(db, A.holder), [row]);
  });

  it('held and unexpired, it is a conflict naming its holder; the holder keeps it', () => {
    const db = store();
    const time = clock();
    keep(acquire(db, 'web', 'production', 0, as(A, time)));
    time.advance(TTL - 1);
    assert.throws(
      () => acquire(db, 'web', 'production', 0, as(B, time)),
      (error: unknown) =>
        isBerthError(error) &&
        error.kind === 'conflict' &&
        error.message === 'a rollout of web in production is in progress: a rollout being planned since 2026-12-02T03:00:00.000Z (not recorded yet), berth process 4100 on host-a',
    );
    assert.equal(leaseOf(db, 'web', 'production')!.holder, A.holder);
  });

  it('renewed, it lasts a TTL from the renewal, with the same token', () => {
    const db = store();
    const time = clock();
    const { lease } = keep(acquire(db, 'web', 'production', 0, as(A, time)));
    time.advance(TTL - 100);
    assert.equal(lease.renew(), true);
    assert.deepEqual([leaseOf(db, 'web', 'production')!.expiresAt, leaseOf(db, 'web', 'production')!.token], [T0 + 2 * TTL - 100, 1]);
    time.advance(TTL - 100);
    assert.throws(() => acquire(db, 'web', 'production', 0, as(B, time)), /is in progress/);
  });

  it('renews itself every TTL/3 while held (a real timer; polled, not slept on)', async () => {
    const db = store();
    const { lease } = keep(acquire(db, 'web', 'production', 0, { ...leaseSettings({ BERTH_LEASE_TTL_MS: '90' }), as: A }));
    const first = leaseOf(db, 'web', 'production')!.expiresAt;
    const deadline = Date.now() + 20_000;
    while (leaseOf(db, 'web', 'production')!.expiresAt === first) {
      assert.ok(Date.now() < deadline, 'the lease was never renewed');
      await new Promise((resolve) => setImmediate(resolve));
    }
    lease.release();
    assert.equal(leaseOf(db, 'web', 'production'), undefined);
  });

  it('expired, the next command takes it over with a higher token and resumes its running rollout', () => {
    const db = store();
    const time = clock();
    const a = keep(acquire(db, 'web', 'production', 0, as(A, time))).lease;
    const id = startRollout(db, rolloutOf, a, time.now());
    assert.equal(leaseOf(db, 'web', 'production')!.rollout, id, 'the recorded rollout is named in the lease');
    time.advance(TTL);
    const b = keep(acquire(db, 'web', 'production', 0, as(B, time)));
    assert.equal(b.interrupted?.id, id);
    assert.equal(b.lease.token, 2);
    assert.deepEqual(leaseOf(db, 'web', 'production'), { service: 'web', environment: 'production', rollout: id, holder: B.holder, pid: B.pid, hostname: B.hostname, token: 2, acquiredAt: T0 + TTL, expiresAt: T0 + 2 * TTL });
  });

  it("a stale holder's writes are refused: A's lease expired, B took it over, A's next journal write throws and changes no row", () => {
    const db = store();
    const time = clock();
    const a = keep(acquire(db, 'web', 'production', 0, as(A, time))).lease;
    const id = startRollout(db, rolloutOf, a, time.now());
    markDone(db, id, 1, a);
    saveSlot(db, { environment: 'production', slot: 'web-production-1', service: 'web', ordinal: 1, host: 'local', network: 'nat', hostPorts: {} });
    // A stalls: no renewal within its TTL. B takes over (token 2).
    time.advance(TTL + 5_000);
    const b = keep(acquire(db, 'web', 'production', 0, as(B, time)));
    assert.deepEqual([b.interrupted?.id, b.lease.token], [id, 2]);
    const before = rolloutById(db, id);
    const slotsBefore = slotsOf(db, 'web', 'production');

    const lost = (error: unknown) =>
      isLostLease(error) &&
      error.kind === 'conflict' &&
      error.message === `rollout #${id} lost its lease of web in production to berth process 4200 on host-b (fencing token 1 < 2); it stops here and the holder resumes it`;
    assert.throws(() => markDone(db, id, 2, a), lost);
    assert.throws(() => setRolloutStatus(db, id, 'succeeded', a), lost);
    assert.throws(() => replacePlan(db, id, '{"target":2,"phase":"rollback","steps":[]}', a), lost);
    assert.throws(() => setEvidence(db, id, { gate: 'manual' }, a), lost);
    assert.throws(() => fenced(db, a, id, () => saveSlot(db, { ...slotsBefore[0]!, host: 'elsewhere' })), lost);
    assert.throws(() => startRollout(db, rolloutOf, a), /the rollout being planned lost its lease of web in production/);
    assert.deepEqual(rolloutById(db, id), before);
    assert.deepEqual(slotsOf(db, 'web', 'production'), slotsBefore);
    assert.deepEqual(db.prepare('SELECT id FROM rollouts').all(), [{ id }]);

    // A's renewal learns it lost the lease; giving it up leaves B's in place.
    assert.equal(a.renew(), false);
    assert.throws(() => a.ensureHeld(id), lost);
    a.release();
    assert.equal(leaseOf(db, 'web', 'production')!.holder, B.holder);
    // B's writes go through.
    markDone(db, id, 2, b.lease);
    assert.equal(rolloutById(db, id)!.done, 2);
  });

  it('a token is never handed out twice: after a release the next holder gets a higher one', () => {
    const db = store();
    const time = clock();
    const a = keep(acquire(db, 'web', 'production', 0, as(A, time))).lease;
    a.release();
    assert.equal(leaseOf(db, 'web', 'production'), undefined);
    const b = keep(acquire(db, 'web', 'production', 0, as(B, time))).lease;
    assert.equal(b.token, 2);
    b.release();
    assert.equal(lastToken(db, 'web', 'production'), 2);
    assert.throws(() => markDone(db, 1, 1, a), /lost its lease of web in production to another berth process, which has released it since \(fencing token 1 < 2\)/);
    // Each service × environment counts on its own.
    assert.equal(keep(acquire(db, 'web', 'staging', 0, as(A, time))).lease.token, 1);
  });

  it('a holder on this machine whose process is gone has lost its lease at once; a remote one only once it expired', () => {
    const db = store();
    const gone = spawnSync('true').pid!;
    const here = { holder: `${thisProcess.hostname}:${gone}:dead`, pid: gone, hostname: thisProcess.hostname };
    const time = clock();
    assert.ok('taken' in tryLease(db, { service: 'web', environment: 'dev', rollout: 0, ...here }, TTL, time.now()));
    assert.equal(holderAlive(leaseOf(db, 'web', 'dev')!, time.now()), false);
    assert.equal(keep(acquire(db, 'web', 'dev', 0, as(B, time))).lease.token, 2);

    assert.ok('taken' in tryLease(db, { service: 'web', environment: 'test', rollout: 0, ...A }, TTL, time.now()));
    assert.equal(holderAlive(leaseOf(db, 'web', 'test')!, time.now() + TTL - 1), true);
    assert.equal(holderAlive(leaseOf(db, 'web', 'test')!, time.now() + TTL), false);
  });

  it('this process holds a lease only while it renews it: stopped, the next command of the same process takes it over', () => {
    const db = store();
    const time = clock();
    const mine = { ttlMs: TTL, now: time.now };
    const first = keep(acquire(db, 'web', 'production', 0, mine)).lease;
    assert.throws(() => acquire(db, 'web', 'production', 0, mine), /is in progress/);
    first.stop();
    const second = keep(acquire(db, 'web', 'production', 0, mine)).lease;
    assert.equal(second.token, 2);
  });

  it('an open canary holds its service also once its lease expired; its decision takes the lease over', () => {
    const db = store();
    const time = clock();
    const a = keep(acquire(db, 'web', 'production', 0, as(A, time))).lease;
    const id = startRollout(db, { ...rolloutOf, kind: 'canary' }, a, time.now());
    setRolloutStatus(db, id, 'canary', a);
    a.stop();
    time.advance(10 * TTL);
    assert.throws(() => acquire(db, 'web', 'production', 0, as(B, time)), /a canary of web \(release 3\) is open in production/);
    const decision = keep(acquireForDecision(db, rolloutById(db, id)!, as(B, time)));
    assert.deepEqual([decision.token, leaseOf(db, 'web', 'production')!.rollout], [2, id]);
    assert.throws(() => setEvidence(db, id, {}, a), /fencing token 1 < 2/);
    setEvidence(db, id, { gate: 'manual' }, decision);
  });

  it('abandon refuses while the holder lives, and takes the lease over once it expired', () => {
    const db = store();
    const time = clock();
    const a = keep(acquire(db, 'web', 'production', 0, as(A, time))).lease;
    const id = startRollout(db, rolloutOf, a, time.now());
    assert.throws(() => acquireToAbandon(db, rolloutById(db, id)!, as(B, time)), new RegExp(`rollout #${id} of web in production is not interrupted: berth process 4100 on host-a still runs it`));
    time.advance(TTL);
    const b = keep(acquireToAbandon(db, rolloutById(db, id)!, as(B, time)));
    assert.equal(b.token, 2);
    setRolloutStatus(db, id, 'abandoned', b, 'abandoned by test');
    b.release();
    assert.equal(leaseOf(db, 'web', 'production'), undefined);
  });

  it('BERTH_LEASE_TTL_MS must be a whole number of milliseconds', () => {
    assert.equal(leaseSettings({}).ttlMs, 30_000);
    assert.equal(leaseSettings({ BERTH_LEASE_TTL_MS: '250' }).ttlMs, 250);
    for (const bad of ['0', '-5', '1.5', 'soon']) assert.throws(() => leaseSettings({ BERTH_LEASE_TTL_MS: bad }), (error: unknown) => isBerthError(error) && error.kind === 'invalid' && error.message.includes(`"${bad}"`));
  });
});
