/**
 * The store's contract: every store function, what it reads back after it wrote, and the races
 * two processes can run on one store, as one suite that runs against SQLite (store-suite.test.ts)
 * and PostgreSQL (store-suite.pg.int.test.ts), so the two cannot drift apart.
 *
 * A race is run between two handles on one store (`twin`), as two processes would: on SQLite two
 * connections to the file, on PostgreSQL two pools. Where two writers want one thing (a lease, an
 * address, a slot's address, a token's name) exactly one gets it and the other is told (held,
 * undefined, or a `conflict`); where both may have what they asked for (a release, a configuration
 * version, an audit entry) both get it, numbered one after the other. Nothing is half-written.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { isBerthError } from '../errors.js';
import { approvalById, decideApproval, expireApprovals, insertApproval, listApprovals, reopenApproval, setApprovalRollout } from './approvals.js';
import { appendAuditRow, auditRows, everyAuditRow, type AuditRow } from './audit.js';
import { buildsOf, cachedFileHash, latestBuilds, recordBuild, rememberFileHash, type BuildRecord } from './builds.js';
import { configVersion, insertConfig, latestConfig, listConfigs } from './configs.js';
import { inTransaction, type Store } from './db.js';
import { allSlots, forgetSlot, saveSlot, slotsOf } from './deployments.js';
import { appendEvent, eventsAfter, pruneEvents } from './events.js';
import { clearHostState, hostStates, markDraining } from './hosts.js';
import { bindIpamAllocation, claimIpamAddress, deleteIpamAllocation, disownIpamAllocation, ipamAllocationAt, ipamAllocationOfSlot, ipamAllocations, quarantineIpamAllocation, renewIpamAllocation } from './ipam.js';
import { claimLeadership, heartbeatServer, leaderEpoch, leaderOf, renewLeadership, resignLeadership, serversSeen } from './leader.js';
import { dropLease, fenced, isLostLease, LostLeadership, lastToken, leaseOf, leasesHeldBy, renewLease, requireFence, takeOverLease, tryLease, type Claim, type Lease } from './leases.js';
import { forgetPushes, lastPush, lastPushOf, lastPushTo, pushesTo, recordPush } from './pushes.js';
import { allRefs, protectDigest, releaseDigest } from './refs.js';
import {
  allFrontDoors,
  createRelease,
  currentRelease,
  forgetFrontDoorPort,
  frontDoorPort,
  hasRun,
  markDone,
  openRollout,
  openRollouts,
  releaseOf,
  releasesOf,
  replacePlan,
  rolloutById,
  rolloutsOf,
  saveFrontDoorPort,
  scaleOf,
  setEvidence,
  setRolloutStatus,
  setScale,
  startRollout,
} from './releases.js';
import { deleteSecret, putSecret, sealedSecret, secretEntries } from './secrets.js';
import { countTokens, insertToken, listTokens, revokeToken, tokenByHash, tokenById, tokenByName } from './tokens.js';

export interface StoreSubject {
  /** A new, empty, migrated store. */
  db: Store;
  /** Another handle on the same store, as a second process would open it (closed by the subject). */
  twin(): Promise<Store>;
}

export interface StoreBackend {
  /** A fresh store for one group of tests. */
  fresh(): Promise<StoreSubject>;
  /** Closes and removes everything `fresh` made. */
  cleanup(): Promise<void>;
}

/** A group of tests on one fresh store. */
function group(name: string, backend: () => StoreBackend, body: (s: () => StoreSubject) => void): void {
  describe(name, () => {
    let subject: StoreSubject | undefined;
    before(async () => {
      subject = await backend().fresh();
    });
    body(() => subject ?? assert.fail('the store was not opened'));
  });
}

const claimOf = (holder: string, service = 'web', environment = 'production'): Claim => ({ service, environment, rollout: 0, holder, pid: 1, hostname: holder });
const release = { service: 'web', image: 'web', imageId: 'sha256:i', digest: 'sha256:d', repository: 'berth/web', config: '{}', createdBy: 'ana' };
const rolloutOf = (service = 'web', environment = 'production') => ({ service, environment, release: 1, previous: null, kind: 'release' as const, forced: false, actor: 'ana', plan: '{"steps":[]}' });
const slotOf = (service: string, ordinal: number, host = 'a', environment = 'production') => ({ environment, slot: `${service}-${environment}-${ordinal}`, service, ordinal, host, network: 'n', hostPorts: {} as Record<string, number> });

/** Settles every promise; the fulfilled values and the rejections apart. */
async function settle<T>(work: Promise<T>[]): Promise<{ won: T[]; lost: unknown[] }> {
  const results = await Promise.allSettled(work);
  return {
    won: results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : [])),
    lost: results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : [])),
  };
}

const isConflict = (error: unknown) => isBerthError(error) && error.kind === 'conflict';

/** Registers the store suite for a backend (its `fresh` is called once per group, inside the tests' hooks). */
export function storeSuite(kind: string, setUp: () => Promise<StoreBackend>): void {
  describe(`the store (${kind})`, () => {
    let backend: StoreBackend | undefined;
    before(async () => {
      backend = await setUp();
    });
    after(async () => {
      await backend?.cleanup();
    });
    const b = () => backend ?? assert.fail('the backend was not set up');

    group('approvals', b, (s) => {
      it('pending first (oldest first), then decided (newest first); one decider wins; expired ones are returned', async () => {
        const { db } = s();
        const ask = (service: string, expiresAt: number) => insertApproval(db, { service, environment: 'production', request: { release: 1 }, requestedBy: 'ana', createdAt: 1, expiresAt });
        const a = await ask('a', 100);
        const b = await ask('b', 100);
        const c = await ask('c', 5);
        const d = await ask('d', 100);
        assert.deepEqual({ id: a.id, status: a.status, request: a.request, decidedBy: a.decidedBy, rollout: a.rollout }, { id: a.id, status: 'pending', request: { release: 1 }, decidedBy: null, rollout: null });
        assert.deepEqual((await expireApprovals(db, 10)).map((x) => [x.id, x.status, x.decidedAt]), [[c.id, 'expired', 5]]);
        assert.equal(await decideApproval(db, b.id, { status: 'approved', by: 'bo', at: 20 }), true);
        assert.equal(await decideApproval(db, b.id, { status: 'rejected', by: 'cy', at: 21 }), false);
        assert.deepEqual((await listApprovals(db)).map((x) => x.service), ['a', 'd', 'c', 'b']);
        assert.deepEqual((await listApprovals(db, 2)).map((x) => x.service), ['a', 'd']);
        await reopenApproval(db, b.id);
        assert.equal((await approvalById(db, b.id))!.status, 'pending');
        await decideApproval(db, b.id, { status: 'approved', by: 'bo', at: 22 });
        await setApprovalRollout(db, b.id, 7);
        await reopenApproval(db, b.id);
        assert.deepEqual([(await approvalById(db, b.id))!.status, (await approvalById(db, b.id))!.rollout], ['approved', 7]);
        assert.equal(await approvalById(db, 999), undefined);
      });

      it('race: two deciders of one approval on two connections, exactly one decides it', async () => {
        const { db, twin } = s();
        const other = await twin();
        const asked = await insertApproval(db, { service: 'race', environment: 'production', request: {}, requestedBy: 'ana', createdAt: 1, expiresAt: 1_000 });
        const outcomes = await Promise.all([
          decideApproval(db, asked.id, { status: 'approved', by: 'bo', at: 2 }),
          decideApproval(other, asked.id, { status: 'rejected', by: 'cy', at: 2 }),
        ]);
        assert.deepEqual(outcomes.filter(Boolean), [true]);
        const decided = (await approvalById(db, asked.id))!;
        assert.equal(decided.status, outcomes[0] ? 'approved' : 'rejected');
        assert.equal(decided.decidedBy, outcomes[0] ? 'bo' : 'cy');
      });
    });

    group('audit rows', b, (s) => {
      /** A row that follows `last`, with a hash that names its seq (the hashing itself is access/audit.ts's). */
      const next = (actor: string, at: string) => (last: AuditRow | undefined): AuditRow => {
        const seq = (last?.seq ?? 0) + 1;
        return { seq, at, actor, action: 'POST /v1/x', target: 'x', params: { n: seq }, outcome: 'ok', prevHash: last?.hash ?? '', hash: `h${seq}` };
      };

      it('race: each append sees the last row, also when many are appended at once on two connections', async () => {
        const { db, twin } = s();
        const other = await twin();
        const rows = await Promise.all(Array.from({ length: 20 }, (_, i) => appendAuditRow(i % 3 === 0 ? other : db, next(i % 2 === 0 ? 'ana' : 'bo', `2026-12-02T00:00:${String(i).padStart(2, '0')}Z`))));
        assert.deepEqual(rows.map((r) => r.seq).sort((x, y) => x - y), Array.from({ length: 20 }, (_, i) => i + 1));
        const stored = await auditRows(db);
        assert.deepEqual(stored.map((r) => r.seq), Array.from({ length: 20 }, (_, i) => i + 1));
        for (const [i, row] of stored.entries()) assert.equal(row.prevHash, i === 0 ? '' : `h${i}`);
        assert.deepEqual(stored[4]!.params, { n: 5 });
      });

      it('filters by actor and time, and the newest `limit` come oldest first', async () => {
        const { db } = s();
        const stored = await auditRows(db);
        const bo = stored.filter((r) => r.actor === 'bo').map((r) => r.seq);
        assert.deepEqual((await auditRows(db, { actor: 'bo', limit: 3 })).map((r) => r.seq), bo.slice(-3));
        assert.deepEqual((await auditRows(db, { since: '2026-12-02T00:00:15Z' })).map((r) => r.at), stored.map((r) => r.at).filter((at) => at >= '2026-12-02T00:00:15Z'));
        assert.deepEqual((await auditRows(db, { limit: 2 })).map((r) => r.seq), [19, 20]);
      });

      it('every row is walked in seq order across pages', async () => {
        const { db } = s();
        // One transaction (appends join it): a thousand commits would only measure the disk.
        await inTransaction(db, async () => {
          for (let i = 0; i < 1_030; i += 1) await appendAuditRow(db, next('ci', '2026-12-02T01:00:00Z'));
        });
        const seqs: number[] = [];
        for await (const row of everyAuditRow(db)) seqs.push(row.seq);
        assert.deepEqual(seqs, Array.from({ length: 1_050 }, (_, i) => i + 1));
      });
    });

    group('builds and file hashes', b, (s) => {
      it('the latest of each image, every build newest first, and cached file hashes', async () => {
        const { db } = s();
        const build = (image: string, key: string, builtAt: number): BuildRecord => ({ image, key, imageId: `sha256:${key}`, parentId: '', inputs: { recipe: 'r', image, settings: {}, files: {}, parentId: '' }, builtAt, durationMs: 3 });
        await recordBuild(db, build('web', 'k1', 10));
        await recordBuild(db, build('web', 'k2', 20));
        await recordBuild(db, build('api', 'k3', 15));
        await recordBuild(db, { ...build('web', 'k1', 30), imageId: 'sha256:again' });
        const latest = await latestBuilds(db);
        assert.deepEqual([...latest.entries()].map(([image, x]) => [image, x.key, x.imageId, x.builtAt]).sort(), [['api', 'k3', 'sha256:k3', 15], ['web', 'k1', 'sha256:again', 30]]);
        assert.deepEqual((await buildsOf(db, 'web')).map((x) => x.key), ['k1', 'k2']);
        assert.deepEqual((await buildsOf(db, 'web'))[0]!.inputs, build('web', 'k1', 30).inputs);
        await rememberFileHash(db, '/f', 10, 1.5, 'aa');
        await rememberFileHash(db, '/f', 11, 2.5, 'bb');
        assert.equal(await cachedFileHash(db, '/f', 10, 1.5), undefined);
        assert.equal(await cachedFileHash(db, '/f', 11, 2.5), 'bb');
        // A size past 2^32 and an mtime with a fraction come back as they went in.
        await rememberFileHash(db, '/big', 6_000_000_000, 1_733_000_000_123.25, 'cc');
        assert.equal(await cachedFileHash(db, '/big', 6_000_000_000, 1_733_000_000_123.25), 'cc');
      });
    });

    group('configuration versions', b, (s) => {
      it('race: versions are numbered one after another, also when applied at once on two connections', async () => {
        const { db, twin } = s();
        const other = await twin();
        const applied = await Promise.all([1, 2, 3, 4].map((n) => insertConfig(n % 2 === 0 ? other : db, { project: 'p', digest: `d${n}`, files: { 'berth.yaml': `h${n}` }, actor: 'ana' }, n)));
        assert.deepEqual(applied.map((c) => c.version).sort(), [1, 2, 3, 4]);
        assert.equal((await latestConfig(db))!.version, 4);
        assert.deepEqual((await listConfigs(db)).map((c) => c.version), [4, 3, 2, 1]);
        const two = applied.find((c) => c.version === 2)!;
        assert.deepEqual(await configVersion(db, 2), two);
        assert.equal(await configVersion(db, 9), undefined);
      });
    });

    group('slots', b, (s) => {
      it('saved, replaced, listed by ordinal and forgotten', async () => {
        const { db } = s();
        const slot = { ...slotOf('web', 2), hostPorts: { '80/tcp': 8080 } };
        await saveSlot(db, slot);
        await saveSlot(db, { ...slot, slot: 'web-production-1', ordinal: 1 });
        await saveSlot(db, { ...slot, host: 'b' });
        await saveSlot(db, { ...slot, environment: 'dev', slot: 'web-dev-1', ordinal: 1 });
        assert.deepEqual((await slotsOf(db, 'web', 'production')).map((x) => [x.slot, x.host, x.hostPorts]), [['web-production-1', 'a', { '80/tcp': 8080 }], ['web-production-2', 'b', { '80/tcp': 8080 }]]);
        assert.deepEqual((await allSlots(db)).map((x) => x.slot), ['web-dev-1', 'web-production-1', 'web-production-2']);
        await forgetSlot(db, 'dev', 'web-dev-1');
        assert.deepEqual(await allSlots(db, 'dev'), []);
      });

      it('race: two holders of one service write one slot after a takeover; the stale one is refused and writes nothing', async () => {
        const { db, twin } = s();
        const other = await twin();
        const first = await takenLease(db, claimOf('a', 'slotted'));
        const second = (await takeOverLease(other, first, claimOf('b', 'slotted'), 1_000, 5))!;
        const { won, lost } = await settle([
          fenced(db, first, 0, (tx) => saveSlot(tx, slotOf('slotted', 1, 'from-a'))).then(() => 'a'),
          fenced(other, second, 0, (tx) => saveSlot(tx, slotOf('slotted', 1, 'from-b'))).then(() => 'b'),
        ]);
        assert.deepEqual(won, ['b']);
        assert.equal(lost.length, 1);
        assert.ok(isLostLease(lost[0]) && isConflict(lost[0]), String(lost[0]));
        assert.deepEqual((await slotsOf(db, 'slotted', 'production')).map((x) => x.host), ['from-b']);
      });
    });

    group('events', b, (s) => {
      it('appended in order, read after a seq (of one rollout, a page at a time), pruned by age', async () => {
        const { db } = s();
        const one = await appendEvent(db, { type: 'rollout.started', rollout: 4, data: { a: 1 } }, 100);
        const two = await appendEvent(db, { type: 'host.drained', data: ['x'] }, 101);
        assert.equal(two.seq, one.seq + 1);
        assert.deepEqual(await eventsAfter(db, 0), [one, two]);
        assert.deepEqual(await eventsAfter(db, 0, { rollout: 4 }), [one]);
        assert.deepEqual(await eventsAfter(db, one.seq, { limit: 1 }), [two]);
        assert.equal(await pruneEvents(db, 101), 1);
        assert.deepEqual(await eventsAfter(db, 0), [two]);
      });

      it('race: events appended at once on two connections all get their own seq', async () => {
        const { db, twin } = s();
        const other = await twin();
        const made = await Promise.all(Array.from({ length: 10 }, (_, i) => appendEvent(i % 2 ? other : db, { type: 't', data: i }, 200 + i)));
        const seqs = made.map((e) => e.seq);
        assert.equal(new Set(seqs).size, 10);
        assert.deepEqual((await eventsAfter(db, 0)).filter((e) => e.type === 't').map((e) => e.seq), [...seqs].sort((x, y) => x - y));
      });
    });

    group('host states', b, (s) => {
      it('a host drains once (the first reason stays) until cleared', async () => {
        const { db } = s();
        await markDraining(db, 'h1', 'ana', 'disk', 5);
        await markDraining(db, 'h1', 'bo', 'again', 6);
        await markDraining(db, 'h0', 'bo', '', 7);
        assert.deepEqual([...(await hostStates(db)).values()], [
          { name: 'h0', state: 'draining', reason: '', actor: 'bo', since: 7 },
          { name: 'h1', state: 'draining', reason: 'disk', actor: 'ana', since: 5 },
        ]);
        assert.equal(await clearHostState(db, 'h1'), true);
        assert.equal(await clearHostState(db, 'h1'), false);
      });
    });

    group('IPAM rows', b, (s) => {
      const at = (ip: string, slot: string, now = 10, incarnation = 1) => ({ network: 'lan', ip, mac: `02:00:00:00:00:${ip.split('.').at(-1)!.padStart(2, '0')}`, slot, incarnation, now });

      it('claimed, renewed, bound, quarantined, disowned, reclaimed after quarantine only, and deleted', async () => {
        const { db } = s();
        const claimed = await claimIpamAddress(db, at('10.0.0.10', 'a'), 0);
        assert.deepEqual(claimed, { network: 'lan', ip: '10.0.0.10', mac: '02:00:00:00:00:10', slot: 'a', incarnation: 1, state: 'allocated', containerId: null, allocatedAt: 10, releasedAt: null });
        assert.equal(await claimIpamAddress(db, at('10.0.0.10', 'b'), 1_000), undefined, 'an allocated address is nobody else\'s');
        assert.deepEqual(await ipamAllocationOfSlot(db, 'lan', 'a'), claimed);
        const renewed = await renewIpamAllocation(db, 'lan', '10.0.0.10', 20);
        assert.deepEqual([renewed.incarnation, renewed.state, renewed.allocatedAt], [2, 'allocated', 20]);
        await bindIpamAllocation(db, 'lan', '10.0.0.10', 'c1');
        assert.deepEqual([(await ipamAllocationAt(db, 'lan', '10.0.0.10'))!.state, (await ipamAllocationAt(db, 'lan', '10.0.0.10'))!.containerId], ['bound', 'c1']);
        const quarantined = await quarantineIpamAllocation(db, 'lan', '10.0.0.10', 30);
        assert.deepEqual([quarantined.state, quarantined.containerId, quarantined.releasedAt], ['quarantined', null, 30]);
        await disownIpamAllocation(db, 'lan', '10.0.0.10');
        assert.equal(await ipamAllocationOfSlot(db, 'lan', 'a'), undefined);
        assert.equal(await claimIpamAddress(db, at('10.0.0.10', 'b', 40), 29), undefined, 'quarantined after the bound: refused');
        const reclaimed = await claimIpamAddress(db, at('10.0.0.10', 'b', 40), 30);
        assert.deepEqual([reclaimed!.slot, reclaimed!.state, reclaimed!.incarnation, reclaimed!.releasedAt], ['b', 'allocated', 1, null]);
        await claimIpamAddress(db, { ...at('10.0.0.11', 'c'), network: 'other' }, 0);
        assert.deepEqual((await ipamAllocations(db)).map((x) => [x.network, x.ip]).sort(), [['lan', '10.0.0.10'], ['other', '10.0.0.11']]);
        assert.deepEqual((await ipamAllocations(db, 'other')).map((x) => x.slot), ['c']);
        await deleteIpamAllocation(db, 'other', '10.0.0.11');
        assert.deepEqual(await ipamAllocations(db, 'other'), []);
      });

      it('race: two slots claim one address on two connections; exactly one gets it', async () => {
        const { db, twin } = s();
        const other = await twin();
        const outcomes = await Promise.all([
          inTransaction(db, (tx) => claimIpamAddress(tx, at('10.0.0.20', 'x'), 0)),
          inTransaction(other, (tx) => claimIpamAddress(tx, at('10.0.0.20', 'y'), 0)),
        ]);
        const winners = outcomes.filter((o) => o !== undefined);
        assert.equal(winners.length, 1);
        assert.equal((await ipamAllocationAt(db, 'lan', '10.0.0.20'))!.slot, winners[0]!.slot);
      });

      it('race: one slot claims two addresses on two connections; one claim wins, the other is a conflict and leaves no row', async () => {
        const { db, twin } = s();
        const other = await twin();
        const { won, lost } = await settle([inTransaction(db, (tx) => claimIpamAddress(tx, at('10.0.0.30', 'z'), 0)), inTransaction(other, (tx) => claimIpamAddress(tx, at('10.0.0.31', 'z'), 0))]);
        assert.equal(won.length, 1);
        assert.equal(lost.length, 1);
        assert.ok(isConflict(lost[0]), String(lost[0]));
        assert.match((lost[0] as Error).message, /slot z holds an address in network lan already/);
        const rows = (await ipamAllocations(db, 'lan')).filter((a) => a.slot === 'z');
        assert.deepEqual(rows.map((a) => a.ip), [won[0]!.ip]);
      });
    });

    group('leases and fenced writes', b, (s) => {
      let first: Lease;
      let id: number;

      it('race: one of many claims on two connections takes the lease; the others see it held', async () => {
        const { db, twin } = s();
        const other = await twin();
        const outcomes = await Promise.all(['a', 'b', 'c', 'd'].map((holder, i) => tryLease(i % 2 ? other : db, claimOf(holder), 1_000, 10)));
        const taken = outcomes.filter((o) => 'taken' in o);
        assert.equal(taken.length, 1);
        first = (taken[0] as { taken: Lease }).taken;
        assert.equal(first.token, 1);
        for (const o of outcomes) if ('held' in o) assert.deepEqual(o.held, first);
        assert.equal(await lastToken(db, 'web', 'production'), 1);
        assert.equal(await renewLease(db, first, 1_000, 500), true);
        assert.equal((await leaseOf(db, 'web', 'production'))!.expiresAt, 1_500);
        assert.deepEqual(await leasesHeldBy(db, first.holder), [{ ...first, expiresAt: 1_500 }]);
        assert.deepEqual(await leasesHeldBy(db, 'nobody'), []);
      });

      it('a rollout started under the lease is named in it, and its writes go through', async () => {
        const { db } = s();
        id = await startRollout(db, rolloutOf(), first, 20);
        assert.equal((await leaseOf(db, 'web', 'production'))!.rollout, id);
        await markDone(db, id, 1, first);
        assert.equal((await rolloutById(db, id))!.done, 1);
        await requireFence(db, first, id);
      });

      it('race: two takeovers of one expired lease on two connections; exactly one gets a new token', async () => {
        const { db, twin } = s();
        const other = await twin();
        const held = (await leaseOf(db, 'web', 'production'))!;
        const outcomes = await Promise.all([takeOverLease(db, held, claimOf('b'), 1_000, 3_000), takeOverLease(other, held, claimOf('c'), 1_000, 3_000)]);
        const winners = outcomes.filter((o) => o !== undefined);
        assert.equal(winners.length, 1);
        assert.equal(winners[0]!.token, 2);
        assert.deepEqual(await leaseOf(db, 'web', 'production'), winners[0]);
        assert.equal(await lastToken(db, 'web', 'production'), 2);
      });

      it('after a takeover, the old holder is refused (a conflict naming the new one) and writes nothing', async () => {
        const { db } = s();
        const second = (await leaseOf(db, 'web', 'production'))!;
        await assert.rejects(setRolloutStatus(db, id, 'failed', first), (error: unknown) => isLostLease(error) && isConflict(error) && new RegExp(`lost its lease of web in production to berth process 1 on ${second.hostname} \\(fencing token 1 < 2\\)`).test(error.message));
        assert.equal((await rolloutById(db, id))!.status, 'running');
        await assert.rejects(fenced(db, first, id, (tx) => saveSlot(tx, slotOf('web', 1))), isLostLease);
        await assert.rejects(startRollout(db, rolloutOf(), first), isLostLease);
        assert.deepEqual(await slotsOf(db, 'web', 'production'), []);
        assert.equal((await rolloutsOf(db, 'web')).length, 1);
        assert.equal(await renewLease(db, first, 1_000, 3_100), false);
        assert.equal(await dropLease(db, first), false);
        assert.equal(await dropLease(db, second), true);
        await assert.rejects(markDone(db, id, 2, second), (error: unknown) => isLostLease(error) && /which has released it since/.test(error.message));
      });

      it('a write that fails inside a transaction leaves nothing of it, and the store goes on', async () => {
        const { db } = s();
        await assert.rejects(
          inTransaction(db, async (tx) => {
            await saveSlot(tx, slotOf('web', 1));
            await setScale(tx, 'web', 'production', 3);
            throw new Error('boom');
          }),
          /boom/,
        );
        assert.deepEqual(await slotsOf(db, 'web', 'production'), []);
        assert.equal(await scaleOf(db, 'web', 'production'), undefined);
        const lease = await takenLease(db, claimOf('d', 'api'));
        assert.equal(await fenced(db, lease, 0, async (tx) => (await saveSlot(tx, slotOf('api', 1)), 'saved')), 'saved');
        assert.equal((await slotsOf(db, 'api', 'production')).length, 1);
      });

      it('a store function called with the store (not the transaction) inside one joins it: its write is undone with the rest', async () => {
        const { db } = s();
        await assert.rejects(
          inTransaction(db, async () => {
            await saveSlot(db, slotOf('joined', 1));
            assert.equal((await slotsOf(db, 'joined', 'production')).length, 1, 'the transaction sees its own write');
            throw new Error('undo');
          }),
          /undo/,
        );
        assert.deepEqual(await slotsOf(db, 'joined', 'production'), []);
      });
    });

    group('the leader lease and leader-fenced writes', b, (s) => {
      // Compared on the database's clock (PostgreSQL's now()): the tests pass no clock, and let a short lease run out.
      const expire = () => new Promise((resolve) => setTimeout(resolve, 120));
      let first: Awaited<ReturnType<typeof claimLeadership>>;

      it('race: two servers claim a free lease on two connections; exactly one leads, with epoch 1, the other sees it', async () => {
        const { db, twin } = s();
        const other = await twin();
        const outcomes = await Promise.all([claimLeadership(db, { holder: 's1', address: 'http://s1' }, 60_000), claimLeadership(other, { holder: 's2', address: 'http://s2' }, 60_000)]);
        const leading = outcomes.filter((o) => 'leading' in o);
        assert.equal(leading.length, 1);
        first = leading[0]!;
        const winner = 'leading' in first ? first.leading : assert.fail('no leader');
        assert.equal(winner.epoch, 1);
        for (const o of outcomes) if ('led' in o) assert.deepEqual(o.led, winner);
        assert.deepEqual((await leaderOf(db)).leader, winner);
        assert.equal(await leaderEpoch(db), 1);
      });

      it('its holder renews it; a renewal by another holder or under another epoch changes nothing', async () => {
        const { db } = s();
        const winner = 'leading' in first ? first.leading : assert.fail('no leader');
        const loser = winner.holder === 's1' ? 's2' : 's1';
        assert.equal(await renewLeadership(db, { holder: loser, epoch: 1 }, 1), undefined);
        assert.equal(await renewLeadership(db, { holder: winner.holder, epoch: 2 }, 1), undefined);
        const renewed = await renewLeadership(db, { holder: winner.holder, epoch: 1 }, 60_000);
        assert.equal(renewed?.epoch, 1);
        assert.ok(renewed!.expiresAt >= winner.expiresAt);
        const { leader, now } = await leaderOf(db);
        assert.ok(leader!.expiresAt > now + 50_000);
        const held = await claimLeadership(db, { holder: loser, address: `http://${loser}` }, 60_000);
        assert.ok('led' in held && held.led.holder === winner.holder);
      });

      it('once it runs out, the next claim leads with the next epoch (its old holder too: a new term), and the old holder cannot renew', async () => {
        const { db } = s();
        const winner = 'leading' in first ? first.leading : assert.fail('no leader');
        await renewLeadership(db, { holder: winner.holder, epoch: 1 }, 30);
        await expire();
        const taken = await claimLeadership(db, { holder: 's3', address: 'http://s3' }, 30);
        assert.ok('leading' in taken && taken.leading.epoch === 2 && taken.leading.holder === 's3');
        assert.equal(await renewLeadership(db, { holder: winner.holder, epoch: 1 }, 60_000), undefined);
        await expire();
        const again = await claimLeadership(db, { holder: 's3', address: 'http://s3' }, 60_000);
        assert.ok('leading' in again && again.leading.epoch === 3, 'a holder that let its lease run out starts a new term');
        await resignLeadership(db, { holder: 's3', epoch: 3 });
        const after = await claimLeadership(db, { holder: 's4', address: 'http://s4' }, 60_000);
        assert.ok('leading' in after && after.leading.epoch === 4, 'a resigned lease is taken at once');
      });

      it('a stale leader is fenced: its write is refused in the same transaction once a newer epoch exists, and nothing of it is written', async () => {
        const { db } = s();
        const epoch = await leaderEpoch(db);
        const old = { epoch: epoch - 1, acting: () => true };
        const current = { epoch, acting: () => true };
        const lease = { ...(await takenLease(db, claimOf('old-leader', 'fenced-web'))), leader: old };
        await assert.rejects(
          fenced(db, lease, 0, (tx) => saveSlot(tx, slotOf('fenced-web', 1))),
          (error: unknown) => error instanceof LostLeadership && isLostLease(error) && isConflict(error) && new RegExp(`leader epoch ${epoch - 1}, and server s4 leads with epoch ${epoch} now`).test(error.message),
        );
        await assert.rejects(startRollout(db, rolloutOf('fenced-web'), lease), (error: unknown) => error instanceof LostLeadership);
        assert.deepEqual(await slotsOf(db, 'fenced-web', 'production'), []);
        assert.deepEqual(await rolloutsOf(db, 'fenced-web'), []);
        // The same lease under the current epoch writes; under a leadership that stopped acting, nothing.
        assert.equal(await fenced(db, { ...lease, leader: current }, 0, async (tx) => (await saveSlot(tx, slotOf('fenced-web', 1)), 'saved')), 'saved');
        await assert.rejects(fenced(db, { ...lease, leader: { epoch, acting: () => false } }, 0, (tx) => saveSlot(tx, slotOf('fenced-web', 2))), (error: unknown) => error instanceof LostLeadership && /stopped leading/.test(error.message));
        assert.equal((await slotsOf(db, 'fenced-web', 'production')).length, 1);
      });

      it('race: a takeover commits while the old leader writes; the write is either before it or refused, never after it', async () => {
        const { db, twin } = s();
        const other = await twin();
        await renewLeadership(db, { holder: 's4', epoch: await leaderEpoch(db) }, 30);
        const epoch = await leaderEpoch(db);
        const lease = { ...(await takenLease(db, claimOf('s4', 'raced'))), leader: { epoch, acting: () => true } };
        await expire();
        const [write, takeover] = await Promise.allSettled([fenced(db, lease, 0, (tx) => saveSlot(tx, slotOf('raced', 1))), claimLeadership(other, { holder: 's5', address: 'http://s5' }, 60_000)]);
        assert.equal(takeover.status, 'fulfilled');
        assert.equal(await leaderEpoch(db), epoch + 1);
        const slots = await slotsOf(db, 'raced', 'production');
        if (write.status === 'rejected') {
          assert.ok(write.reason instanceof LostLeadership, String(write.reason));
          assert.deepEqual(slots, []);
        } else assert.equal(slots.length, 1);
        // After the takeover, the old epoch writes nothing more.
        await assert.rejects(fenced(db, lease, 0, (tx) => saveSlot(tx, slotOf('raced', 2))), (error: unknown) => error instanceof LostLeadership);
      });

      it('the servers register their heartbeat; those not seen within the window are left out', async () => {
        const { db } = s();
        await heartbeatServer(db, { id: 'a', address: 'http://a', version: '1.0' });
        await heartbeatServer(db, { id: 'b', address: 'http://b', version: '1.1' });
        const seen = await serversSeen(db, 60_000);
        assert.deepEqual(seen.map((x) => [x.id, x.address, x.version]), [['a', 'http://a', '1.0'], ['b', 'http://b', '1.1']]);
        const a = seen[0]!;
        await new Promise((resolve) => setTimeout(resolve, 1500));
        await heartbeatServer(db, { id: 'a', address: 'http://a2', version: '1.0' });
        const again = await serversSeen(db, 1000);
        assert.deepEqual(again.map((x) => [x.id, x.address, x.startedAt]), [['a', 'http://a2', a.startedAt]]);
        assert.ok(again[0]!.heartbeatAt > a.heartbeatAt);
      });
    });

    group('pushes and references', b, (s) => {
      it('protects a digest once per owner and releases it per owner', async () => {
        const { db } = s();
        const ref = { repository: 'berth/web', digest: 'sha256:aa', kind: 'deployed' as const, environment: 'production', service: 'web' };
        await protectDigest(db, ref, 1);
        await protectDigest(db, { ...ref, note: 'again' }, 2);
        await protectDigest(db, { ...ref, kind: 'rollback' }, 3);
        await protectDigest(db, { repository: 'berth/web', digest: 'sha256:bb', kind: 'pinned' }, 4);
        assert.deepEqual((await allRefs(db)).map((r) => [r.kind, r.note, r.createdAt, r.environment]), [['deployed', 'again', 1, 'production'], ['rollback', '', 3, 'production'], ['pinned', '', 4, '']]);
        assert.equal(await releaseDigest(db, ref), true);
        assert.equal(await releaseDigest(db, ref), false);
        assert.deepEqual((await allRefs(db)).map((r) => r.kind), ['rollback', 'pinned']);
      });

      it('records pushes per registry, finds the last one of a tag, of an image or a digest, and forgets deleted manifests', async () => {
        const { db } = s();
        const push = { registry: '127.0.0.1:5000', repository: 'berth/web', tag: 'abc', digest: 'sha256:1', image: 'web', key: 'abcdef', imageId: 'sha256:i1', size: 5_000_000_000, pushedAt: 10 };
        await recordPush(db, push);
        await recordPush(db, { ...push, digest: 'sha256:2', imageId: 'sha256:i2', pushedAt: 20 });
        await recordPush(db, { ...push, registry: 'other:5000', pushedAt: 30 });
        await recordPush(db, { ...push, registry: 'other:5000', pushedAt: 31, size: 7 });
        assert.deepEqual(await lastPush(db, '127.0.0.1:5000', 'berth/web', 'abc'), { ...push, digest: 'sha256:2', imageId: 'sha256:i2', pushedAt: 20 });
        assert.deepEqual((await pushesTo(db, '127.0.0.1:5000')).map((p) => p.digest), ['sha256:2', 'sha256:1']);
        assert.deepEqual((await pushesTo(db, 'other:5000')).map((p) => [p.pushedAt, p.size]), [[31, 7]]);
        assert.equal((await lastPushOf(db, { imageId: 'sha256:i1' }))!.registry, 'other:5000');
        assert.equal((await lastPushOf(db, { digest: 'sha256:2' }))!.registry, '127.0.0.1:5000');
        assert.equal((await lastPushTo(db, '127.0.0.1:5000', { digest: 'sha256:1' }))!.pushedAt, 10);
        assert.equal(await lastPushTo(db, '127.0.0.1:5000', { imageId: 'sha256:other' }), undefined);
        await forgetPushes(db, '127.0.0.1:5000', 'berth/web', 'sha256:2');
        assert.equal((await lastPush(db, '127.0.0.1:5000', 'berth/web', 'abc'))!.digest, 'sha256:1');
      });
    });

    group('releases, rollouts and their journal', b, (s) => {
      it('race: releases are numbered per service, one after another, also when made at once on two connections', async () => {
        const { db, twin } = s();
        const other = await twin();
        const made = await Promise.all([0, 1, 2, 3, 4, 5].map((i) => createRelease(i % 2 ? other : db, release, 7)));
        assert.deepEqual(made.map((r) => r.number).sort(), [1, 2, 3, 4, 5, 6]);
        assert.equal((await createRelease(db, { ...release, service: 'api', configVersion: 2 }, 8)).number, 1);
        assert.deepEqual(await releaseOf(db, 'api', 1), { ...release, service: 'api', number: 1, createdAt: 8, configVersion: 2 });
        assert.deepEqual(await releaseOf(db, 'web', 1), { ...release, number: 1, createdAt: 7 });
        assert.deepEqual((await releasesOf(db, 'web')).map((r) => r.number), [6, 5, 4, 3, 2, 1]);
        assert.equal(await releaseOf(db, 'web', 99), undefined);
      });

      it('a rollout is journaled (plan, steps done, evidence, status) and the current release is that of the last success', async () => {
        const { db } = s();
        const lease = await takenLease(db, claimOf('r'));
        assert.equal(await currentRelease(db, 'web', 'production'), undefined);
        const one = await startRollout(db, { ...rolloutOf(), release: 1 }, lease, 100);
        assert.deepEqual(await openRollout(db, 'web', 'production'), await rolloutById(db, one));
        await replacePlan(db, one, '{"steps":[1,2]}', lease, 1);
        await markDone(db, one, 2, lease);
        await setEvidence(db, one, { health: ['ok'] }, lease);
        await setRolloutStatus(db, one, 'succeeded', lease, 'done', 150);
        const recorded = (await rolloutById(db, one))!;
        assert.deepEqual(recorded, { id: one, service: 'web', environment: 'production', release: 1, previous: null, kind: 'release', forced: false, status: 'succeeded', message: 'done', actor: 'ana', plan: '{"steps":[1,2]}', done: 2, startedAt: 100, finishedAt: 150, evidence: '{"health":["ok"]}' });
        assert.equal(await currentRelease(db, 'web', 'production'), 1);
        assert.equal(await openRollout(db, 'web', 'production'), undefined);

        const canary = await startRollout(db, { ...rolloutOf(), release: 2, previous: 1, kind: 'canary', forced: true }, lease, 200);
        await setRolloutStatus(db, canary, 'canary', lease, 'waiting', 210);
        assert.deepEqual([(await rolloutById(db, canary))!.finishedAt, (await rolloutById(db, canary))!.forced], [null, true]);
        const dev = await takenLease(db, claimOf('r', 'web', 'dev'));
        const elsewhere = await startRollout(db, { ...rolloutOf('web', 'dev'), release: 2 }, dev, 220);
        assert.deepEqual((await openRollouts(db)).map((r) => r.id), [elsewhere, canary]);
        assert.deepEqual((await rolloutsOf(db, 'web')).map((r) => r.id), [elsewhere, canary, one]);
        assert.deepEqual((await rolloutsOf(db, 'web', 'production')).map((r) => r.id), [canary, one]);
        assert.equal(await hasRun(db, 'web', 'production', 1), true);
        assert.equal(await hasRun(db, 'web', 'production', 2), false);
        await setRolloutStatus(db, canary, 'rolled-back', lease, 'gates failed', 230);
        assert.equal(await currentRelease(db, 'web', 'production'), 1);
      });

      it('scales and front doors are replaced, listed and forgotten', async () => {
        const { db } = s();
        assert.equal(await scaleOf(db, 'web', 'production'), undefined);
        await setScale(db, 'web', 'production', 2);
        await setScale(db, 'web', 'production', 5);
        assert.equal(await scaleOf(db, 'web', 'production'), 5);
        await saveFrontDoorPort(db, 'web', 'production', '0.0.0.0', 8080);
        await saveFrontDoorPort(db, 'web', 'production', '127.0.0.1', 8081);
        await saveFrontDoorPort(db, 'api', 'dev', '0.0.0.0', 9000);
        assert.deepEqual(await frontDoorPort(db, 'web', 'production'), { address: '127.0.0.1', port: 8081 });
        assert.deepEqual(await allFrontDoors(db), [{ service: 'api', environment: 'dev', address: '0.0.0.0', port: 9000 }, { service: 'web', environment: 'production', address: '127.0.0.1', port: 8081 }]);
        await forgetFrontDoorPort(db, 'web', 'production');
        assert.equal(await frontDoorPort(db, 'web', 'production'), undefined);
      });
    });

    group('stored secrets', b, (s) => {
      it('sealed bytes go in and come out unchanged; entries never carry them', async () => {
        const { db } = s();
        const address = { service: 'web', environment: 'production', name: 'DB_PASSWORD' };
        const sealed = { keyId: 'k1', nonce: Buffer.from([0, 1, 2, 255]), ciphertext: Buffer.from('sealed'), tag: Buffer.alloc(16, 7) };
        assert.equal(await putSecret(db, address, sealed, 'ana', 1), false);
        assert.equal(await putSecret(db, address, { ...sealed, keyId: 'k2' }, 'bo', 2), true);
        await putSecret(db, { ...address, environment: 'dev' }, sealed, 'ana', 3);
        const back = (await sealedSecret(db, address))!;
        assert.deepEqual({ ...back, nonce: Buffer.from(back.nonce), ciphertext: Buffer.from(back.ciphertext), tag: Buffer.from(back.tag) }, { ...sealed, keyId: 'k2' });
        assert.deepEqual(await secretEntries(db, 'web'), [
          { service: 'web', environment: 'dev', name: 'DB_PASSWORD', updatedAt: 3, updatedBy: 'ana' },
          { service: 'web', environment: 'production', name: 'DB_PASSWORD', updatedAt: 2, updatedBy: 'bo' },
        ]);
        assert.equal((await secretEntries(db, 'web', 'dev')).length, 1);
        assert.equal(await deleteSecret(db, address), true);
        assert.equal(await deleteSecret(db, address), false);
        assert.equal(await sealedSecret(db, address), undefined);
      });
    });

    group('tokens', b, (s) => {
      it('found by id, name and live hash, never with their hash; a name is unique (a conflict)', async () => {
        const { db } = s();
        const made = await insertToken(db, { name: 'ci', role: 'deployer', envs: ['dev'], hash: 'h1', createdBy: 'ana' }, 5);
        assert.deepEqual(made, { id: made.id, name: 'ci', role: 'deployer', envs: ['dev'], createdBy: 'ana', createdAt: 5, revokedAt: null });
        await assert.rejects(insertToken(db, { name: 'ci', role: 'admin', envs: [], hash: 'h2', createdBy: 'ana' }), (error: unknown) => isConflict(error) && /a token named ci exists already/.test((error as Error).message));
        assert.deepEqual(await tokenById(db, made.id), made);
        assert.deepEqual(await tokenByName(db, 'ci'), made);
        assert.deepEqual(await tokenByHash(db, 'h1'), made);
        assert.equal(await countTokens(db), 1);
        assert.equal(await revokeToken(db, 'ci', 9), true);
        assert.equal(await revokeToken(db, 'ci', 10), false);
        assert.equal(await tokenByHash(db, 'h1'), undefined);
        assert.deepEqual((await listTokens(db)).map((t) => t.revokedAt), [9]);
      });

      it('race: one name created at once on two connections; exactly one token, the other a conflict', async () => {
        const { db, twin } = s();
        const other = await twin();
        const { won, lost } = await settle([insertToken(db, { name: 'twice', role: 'viewer', envs: [], hash: 'x1', createdBy: 'ana' }), insertToken(other, { name: 'twice', role: 'admin', envs: [], hash: 'x2', createdBy: 'bo' })]);
        assert.equal(won.length, 1);
        assert.equal(lost.length, 1);
        assert.ok(isConflict(lost[0]), String(lost[0]));
        assert.deepEqual(await tokenByName(db, 'twice'), won[0]);
      });
    });
  });
}

async function takenLease(db: Store, claim: Claim): Promise<Lease> {
  const outcome = await tryLease(db, claim, 60_000, 0);
  return 'taken' in outcome ? outcome.taken : assert.fail(`${claim.service} in ${claim.environment} was not free`);
}
