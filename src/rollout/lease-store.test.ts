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
import { openStore, type Store, sqliteOf } from '../store/db.js';
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
  const store = async (): Promise<Store> => {
    const dir = mkdtempSync(join(tmpdir(), 'berth-lease-'));
    dirs.push(dir);
    return await openStore(dir);
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

  it('is taken when free, with token 1, TTL from now and this holder', async () => {
    const db = await store();
    const time = clock();
    const { lease, interrupted } = keep(await acquire(db, 'web', 'production', 0, as(A, time)));
    assert.equal(interrupted, undefined);
    assert.equal(lease.token, 1);
    const row = (await leaseOf(db, 'web', 'production'))!;
    assert.deepEqual(row, { service: 'web', environment: 'production', rollout: 0, holder: A.holder, pid: A.pid, hostname: A.hostname, token: 1, acquiredAt: T0, expiresAt: T0 + TTL, epoch: 0 });
    assert.deepEqual(await leasesHeldBy(db, A.holder), [row]);
  });

  it('held and unexpired, it is a conflict naming its holder; the holder keeps it', async () => {
    const db = await store();
    const time = clock();
    keep(await acquire(db, 'web', 'production', 0, as(A, time)));
    time.advance(TTL - 1);
    await assert.rejects(
      async () => await acquire(db, 'web', 'production', 0, as(B, time)),
      (error: unknown) =>
        isBerthError(error) &&
        error.kind === 'conflict' &&
        error.message === 'a rollout of web in production is in progress: a rollout being planned since 2026-12-02T03:00:00.000Z (not recorded yet), berth process 4100 on host-a',
    );
    assert.equal((await leaseOf(db, 'web', 'production'))!.holder, A.holder);
  });

  it('renewed, it lasts a TTL from the renewal, with the same token', async () => {
    const db = await store();
    const time = clock();
    const { lease } = keep(await acquire(db, 'web', 'production', 0, as(A, time)));
    time.advance(TTL - 100);
    assert.equal(await lease.renew(), true);
    assert.deepEqual([(await leaseOf(db, 'web', 'production'))!.expiresAt, (await leaseOf(db, 'web', 'production'))!.token], [T0 + 2 * TTL - 100, 1]);
    time.advance(TTL - 100);
    await assert.rejects(async () => await acquire(db, 'web', 'production', 0, as(B, time)), /is in progress/);
  });

  it('renews itself every TTL/3 while held (a real timer; polled, not slept on)', async () => {
    const db = await store();
    const { lease } = keep(await acquire(db, 'web', 'production', 0, { ...leaseSettings({ BERTH_LEASE_TTL_MS: '90' }), as: A }));
    const first = (await leaseOf(db, 'web', 'production'))!.expiresAt;
    const deadline = Date.now() + 20_000;
    while ((await leaseOf(db, 'web', 'production'))!.expiresAt === first) {
      assert.ok(Date.now() < deadline, 'the lease was never renewed');
      await new Promise((resolve) => setImmediate(resolve));
    }
    await lease.release();
    assert.equal(await leaseOf(db, 'web', 'production'), undefined);
  });

  it('expired, the next command takes it over with a higher token and resumes its running rollout', async () => {
    const db = await store();
    const time = clock();
    const a = keep(await acquire(db, 'web', 'production', 0, as(A, time))).lease;
    const id = await startRollout(db, rolloutOf, a, time.now());
    assert.equal((await leaseOf(db, 'web', 'production'))!.rollout, id, 'the recorded rollout is named in the lease');
    time.advance(TTL);
    const b = keep(await acquire(db, 'web', 'production', 0, as(B, time)));
    assert.equal(b.interrupted?.id, id);
    assert.equal(b.lease.token, 2);
    assert.deepEqual(await leaseOf(db, 'web', 'production'), { service: 'web', environment: 'production', rollout: id, holder: B.holder, pid: B.pid, hostname: B.hostname, token: 2, acquiredAt: T0 + TTL, expiresAt: T0 + 2 * TTL, epoch: 0 });
  });

  it("a stale holder's writes are refused: A's lease expired, B took it over, A's next journal write throws and changes no row", async () => {
    const db = await store();
    const time = clock();
    const a = keep(await acquire(db, 'web', 'production', 0, as(A, time))).lease;
    const id = await startRollout(db, rolloutOf, a, time.now());
    await markDone(db, id, 1, a);
    await saveSlot(db, { environment: 'production', slot: 'web-production-1', service: 'web', ordinal: 1, host: 'local', network: 'nat', hostPorts: {} });
    // A stalls: no renewal within its TTL. B takes over (token 2).
    time.advance(TTL + 5_000);
    const b = keep(await acquire(db, 'web', 'production', 0, as(B, time)));
    assert.deepEqual([b.interrupted?.id, b.lease.token], [id, 2]);
    const before = await rolloutById(db, id);
    const slotsBefore = await slotsOf(db, 'web', 'production');

    const lost = (error: unknown) =>
      isLostLease(error) &&
      error.kind === 'conflict' &&
      error.message === `rollout #${id} lost its lease of web in production to berth process 4200 on host-b (fencing token 1 < 2); it stops here and the holder resumes it`;
    await assert.rejects(async () => await markDone(db, id, 2, a), lost);
    await assert.rejects(async () => await setRolloutStatus(db, id, 'succeeded', a), lost);
    await assert.rejects(async () => await replacePlan(db, id, '{"target":2,"phase":"rollback","steps":[]}', a), lost);
    await assert.rejects(async () => await setEvidence(db, id, { gate: 'manual' }, a), lost);
    await assert.rejects(async () => await fenced(db, a, id, async () => await saveSlot(db, { ...slotsBefore[0]!, host: 'elsewhere' })), lost);
    await assert.rejects(async () => await startRollout(db, rolloutOf, a), /the rollout being planned lost its lease of web in production/);
    assert.deepEqual(await rolloutById(db, id), before);
    assert.deepEqual(await slotsOf(db, 'web', 'production'), slotsBefore);
    assert.deepEqual(sqliteOf(db).prepare('SELECT id FROM rollouts').all(), [{ id }]);

    // A's renewal learns it lost the lease; giving it up leaves B's in place.
    assert.equal(await a.renew(), false);
    await assert.rejects(async () => await a.ensureHeld(id), lost);
    await a.release();
    assert.equal((await leaseOf(db, 'web', 'production'))!.holder, B.holder);
    // B's writes go through.
    await markDone(db, id, 2, b.lease);
    assert.equal((await rolloutById(db, id))!.done, 2);
  });

  it('a token is never handed out twice: after a release the next holder gets a higher one', async () => {
    const db = await store();
    const time = clock();
    const a = keep(await acquire(db, 'web', 'production', 0, as(A, time))).lease;
    await a.release();
    assert.equal(await leaseOf(db, 'web', 'production'), undefined);
    const b = keep(await acquire(db, 'web', 'production', 0, as(B, time))).lease;
    assert.equal(b.token, 2);
    await b.release();
    assert.equal(await lastToken(db, 'web', 'production'), 2);
    await assert.rejects(async () => await markDone(db, 1, 1, a), /lost its lease of web in production to another berth process, which has released it since \(fencing token 1 < 2\)/);
    // Each service × environment counts on its own.
    assert.equal(keep(await acquire(db, 'web', 'staging', 0, as(A, time))).lease.token, 1);
  });

  it('a holder on this machine whose process is gone has lost its lease at once; a remote one only once it expired', async () => {
    const db = await store();
    const gone = spawnSync('true').pid!;
    const here = { holder: `${thisProcess.hostname}:${gone}:dead`, pid: gone, hostname: thisProcess.hostname };
    const time = clock();
    assert.ok('taken' in await tryLease(db, { service: 'web', environment: 'dev', rollout: 0, ...here }, TTL, time.now()));
    assert.equal(holderAlive((await leaseOf(db, 'web', 'dev'))!, time.now()), false);
    assert.equal(keep(await acquire(db, 'web', 'dev', 0, as(B, time))).lease.token, 2);

    assert.ok('taken' in await tryLease(db, { service: 'web', environment: 'test', rollout: 0, ...A }, TTL, time.now()));
    assert.equal(holderAlive((await leaseOf(db, 'web', 'test'))!, time.now() + TTL - 1), true);
    assert.equal(holderAlive((await leaseOf(db, 'web', 'test'))!, time.now() + TTL), false);
  });

  it('this process holds a lease only while it renews it: stopped, the next command of the same process takes it over', async () => {
    const db = await store();
    const time = clock();
    const mine = { ttlMs: TTL, now: time.now };
    const first = keep(await acquire(db, 'web', 'production', 0, mine)).lease;
    await assert.rejects(async () => await acquire(db, 'web', 'production', 0, mine), /is in progress/);
    first.stop();
    const second = keep(await acquire(db, 'web', 'production', 0, mine)).lease;
    assert.equal(second.token, 2);
  });

  it('an open canary holds its service also once its lease expired; its decision takes the lease over', async () => {
    const db = await store();
    const time = clock();
    const a = keep(await acquire(db, 'web', 'production', 0, as(A, time))).lease;
    const id = await startRollout(db, { ...rolloutOf, kind: 'canary' }, a, time.now());
    await setRolloutStatus(db, id, 'canary', a);
    a.stop();
    time.advance(10 * TTL);
    await assert.rejects(async () => await acquire(db, 'web', 'production', 0, as(B, time)), /a canary of web \(release 3\) is open in production/);
    const decision = keep(await acquireForDecision(db, (await rolloutById(db, id))!, as(B, time)));
    assert.deepEqual([decision.token, (await leaseOf(db, 'web', 'production'))!.rollout], [2, id]);
    await assert.rejects(async () => await setEvidence(db, id, {}, a), /fencing token 1 < 2/);
    await setEvidence(db, id, { gate: 'manual' }, decision);
  });

  it('abandon refuses while the holder lives, and takes the lease over once it expired', async () => {
    const db = await store();
    const time = clock();
    const a = keep(await acquire(db, 'web', 'production', 0, as(A, time))).lease;
    const id = await startRollout(db, rolloutOf, a, time.now());
    await assert.rejects(async () => await acquireToAbandon(db, (await rolloutById(db, id))!, as(B, time)), new RegExp(`rollout #${id} of web in production is not interrupted: berth process 4100 on host-a still runs it`));
    time.advance(TTL);
    const b = keep(await acquireToAbandon(db, (await rolloutById(db, id))!, as(B, time)));
    assert.equal(b.token, 2);
    await setRolloutStatus(db, id, 'abandoned', b, 'abandoned by test');
    await b.release();
    assert.equal(await leaseOf(db, 'web', 'production'), undefined);
  });

  it("a command told to wait for repairs waits for the reconciler's rollout to end, says so once, then takes the lease", async () => {
    const db = await store();
    const time = clock();
    const a = keep(await acquire(db, 'web', 'production', 0, as(A, time, 60_000))).lease;
    const id = await startRollout(db, { ...rolloutOf, kind: 'reconcile', release: 2, actor: 'reconciler' }, a, time.now());
    const said: string[] = [];
    let finished: Promise<void> | undefined;
    const b = keep(
      await acquire(db, 'web', 'production', 0, as(B, time, 60_000), {
        forMs: 120_000,
        pollMs: 2,
        onWait: (text) => {
          said.push(text);
          // The repair ends while B waits.
          finished ??= setRolloutStatus(db, id, 'succeeded', a, 'repaired').then(async () => await a.release());
        },
      }),
    );
    await finished;
    assert.deepEqual(said, [`waiting for the reconciler's repair of web in production (rollout #${id}) to finish`]);
    assert.equal((await leaseOf(db, 'web', 'production'))!.holder, B.holder);
    assert.equal(b.lease.token, 2);
    assert.equal(b.interrupted, undefined);
  });

  it("a repair that outlasts the command's deadline is the usual conflict; another command's rollout is one at once", async () => {
    const db = await store();
    const time = clock();
    const a = keep(await acquire(db, 'web', 'production', 0, as(A, time, 60_000))).lease;
    const id = await startRollout(db, { ...rolloutOf, kind: 'reconcile', actor: 'reconciler' }, a, time.now());
    const waiting = acquire(db, 'web', 'production', 0, as(B, time, 60_000), { forMs: 5_000, pollMs: 2, onWait: () => time.advance(5_000) });
    await assert.rejects(waiting, new RegExp(`in progress: rollout #${id} \\(reconcile of release 3, by reconciler`));
    await setRolloutStatus(db, id, 'succeeded', a, 'repaired');
    const deploy = await startRollout(db, { ...rolloutOf, kind: 'deploy' }, a, time.now());
    const said: string[] = [];
    await assert.rejects(acquire(db, 'web', 'production', 0, as(B, time, 60_000), { forMs: 60_000, pollMs: 2, onWait: (text) => said.push(text) }), new RegExp(`in progress: rollout #${deploy} \\(deploy of release 3`));
    assert.deepEqual(said, []);
    assert.equal((await leaseOf(db, 'web', 'production'))!.holder, A.holder);
  });

  it('a holder still planning is waited for until it names its rollout: a command\'s rollout is then refused by name', async () => {
    const db = await store();
    const time = clock();
    const a = keep(await acquire(db, 'web', 'production', 0, as(A, time, 60_000))).lease;
    const waiting = acquire(db, 'web', 'production', 0, as(B, time, 60_000), { forMs: 60_000, pollMs: 2 });
    const id = await startRollout(db, { ...rolloutOf, kind: 'deploy' }, a, time.now());
    await assert.rejects(waiting, (error: unknown) => isBerthError(error) && error.message.includes(`rollout #${id} (deploy of release 3`));
  });

  it('BERTH_LEASE_TTL_MS must be a whole number of milliseconds', async () => {
    assert.equal(leaseSettings({}).ttlMs, 30_000);
    assert.equal(leaseSettings({ BERTH_LEASE_TTL_MS: '250' }).ttlMs, 250);
    for (const bad of ['0', '-5', '1.5', 'soon']) await assert.rejects(async () => leaseSettings({ BERTH_LEASE_TTL_MS: bad }), (error: unknown) => isBerthError(error) && error.kind === 'invalid' && error.message.includes(`"${bad}"`));
  });
});
