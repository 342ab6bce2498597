/** The audit chain (edited, deleted, reordered and intact logs), the scrubbing of parameters, and `since`. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { auditRows, everyAuditRow } from '../store/audit.js';
import { openStore, closeStore, sqliteOf } from '../store/db.js';
import { auditAction, entryHash, GENESIS, scrubParams, sealEntry, sinceInstant, verifyChain, type AuditEntry } from './audit.js';

function chain(n: number): AuditEntry[] {
  const entries: AuditEntry[] = [];
  for (let i = 0; i < n; i++) {
    entries.push(sealEntry(entries.at(-1), { actor: i % 2 ? 'ci' : 'admin', action: 'promote', target: 'web in production', params: { to: 'production', n: i }, outcome: 'ok 202' }, new Date(Date.UTC(2026, 11, 1, 0, i)).toISOString()));
  }
  return entries;
}

describe('verifyChain', () => {
  it('accepts an intact log and counts it (and an empty one)', async () => {
    assert.deepEqual(await verifyChain(chain(5)), { ok: true, count: 5 });
    assert.deepEqual(await verifyChain([]), { ok: true, count: 0 });
  });

  it('starts from the genesis hash and links each entry to the one before', () => {
    const [first, second] = chain(2);
    assert.equal(first!.prevHash, GENESIS);
    assert.equal(second!.prevHash, first!.hash);
    assert.equal(first!.hash, entryHash(GENESIS, first!));
  });

  it('names an edited row: its hash no longer matches its content', async () => {
    for (const edit of [{ actor: 'someone-else' }, { outcome: 'refused 403' }, { params: { to: 'dev', n: 2 } }, { at: '2026-12-01T00:00:00.000Z' }, { action: 'release' }, { target: 'web in dev' }]) {
      const entries = chain(5);
      entries[2] = { ...entries[2]!, ...edit };
      assert.deepEqual(await verifyChain(entries), { ok: false, seq: 3, reason: 'its hash does not match its content (the row was edited)' }, JSON.stringify(edit));
    }
  });

  it('names the entry after an edited row whose hash was recomputed to match', async () => {
    const entries = chain(5);
    const edited = { ...entries[2]!, actor: 'someone-else' };
    entries[2] = { ...edited, hash: entryHash(edited.prevHash, edited) };
    const verdict = await verifyChain(entries);
    assert.equal(verdict.ok, false);
    assert.equal(!verdict.ok && verdict.seq, 4);
    assert.match(!verdict.ok ? verdict.reason : '', /prev_hash is not the hash of entry 3/);
  });

  it('names the entry after a deleted row (a gap), or after deleted first rows', async () => {
    const entries = chain(6);
    assert.deepEqual(await verifyChain([...entries.slice(0, 2), ...entries.slice(3)]), { ok: false, seq: 4, reason: 'it follows entry 2: entry 3 is missing (deleted)' });
    assert.deepEqual(await verifyChain([...entries.slice(0, 1), ...entries.slice(4)]), { ok: false, seq: 5, reason: 'it follows entry 1: entries 2 to 4 are missing (deleted)' });
    assert.deepEqual(await verifyChain(entries.slice(1)), { ok: false, seq: 2, reason: 'it follows the start of the log: entry 1 is missing (deleted)' });
  });

  it('names a deleted row whose successors were renumbered to close the gap', async () => {
    const entries = chain(5);
    const renumbered = [...entries.slice(0, 2), ...entries.slice(3).map((e) => ({ ...e, seq: e.seq - 1 }))];
    const verdict = await verifyChain(renumbered);
    assert.equal(!verdict.ok && verdict.seq, 3);
  });

  it('with the head recorded outside the log: names entries cut off its end, and a chain rewritten with fresh hashes', async () => {
    const entries = chain(6);
    const head = { seq: 6, hash: entries[5]!.hash };
    assert.deepEqual(await verifyChain(entries, head), { ok: true, count: 6 });
    assert.deepEqual(await verifyChain(entries.slice(0, 4), head), { ok: false, seq: 5, reason: 'the log ends at entry 4, but entries 5 to 6 are recorded as written: cut off the end (deleted)' });
    assert.deepEqual(await verifyChain(entries.slice(0, 5), head), { ok: false, seq: 6, reason: 'the log ends at entry 5, but entry 6 is recorded as written: cut off the end (deleted)' });
    assert.deepEqual(await verifyChain([], head), { ok: false, seq: 1, reason: 'the log ends at its start, but entries 1 to 6 are recorded as written: cut off the end (deleted)' });
    // Entry 3 edited and every hash after it recomputed: the chain holds, the head does not.
    const rewritten = chain(6).map((e) => ({ ...e }));
    rewritten[2] = { ...rewritten[2]!, actor: 'someone-else' };
    for (let i = 2; i < rewritten.length; i++) {
      const prevHash = rewritten[i - 1]!.hash;
      rewritten[i] = { ...rewritten[i]!, prevHash, hash: entryHash(prevHash, rewritten[i]!) };
    }
    assert.deepEqual(await verifyChain(rewritten), { ok: true, count: 6 });
    assert.deepEqual(await verifyChain(rewritten, head), { ok: false, seq: 6, reason: 'its hash is not the one recorded when it was written (the log was rewritten up to here)' });
    // A head behind the log (the newest request had not recorded it yet) is no finding.
    assert.deepEqual(await verifyChain(entries, { seq: 4, hash: entries[3]!.hash }), { ok: true, count: 6 });
  });

  it('names a reordered row', async () => {
    const entries = chain(5);
    const swapped = [entries[0]!, entries[2]!, entries[1]!, entries[3]!, entries[4]!];
    assert.deepEqual(await verifyChain(swapped), { ok: false, seq: 3, reason: 'it follows entry 1: entry 2 is missing (deleted)' });
    // Swapping the contents of two rows but keeping their seqs: the first of them no longer matches.
    const contents = chain(5);
    const moved = [contents[0]!, { ...contents[2]!, seq: 2 }, { ...contents[1]!, seq: 3 }, contents[3]!, contents[4]!];
    assert.equal(((await verifyChain(moved)) as { seq: number }).seq, 2);
    // The same seq twice (a row copied over another's place).
    assert.deepEqual(await verifyChain([entries[0]!, entries[1]!, entries[1]!]), { ok: false, seq: 2, reason: 'it comes after entry 2: the log is out of order (reordered)' });
  });
});

describe('scrubParams', () => {
  it('drops secret values at any depth and keeps the rest', () => {
    assert.deepEqual(
      scrubParams({ environment: 'production', value: 's3cr3t', password: 'p', nested: { token: 't', apiToken: 'x', db_password: 'y', clientSecret: 'z', keep: 1 }, list: [{ secret: 'a', name: 'n' }], replicas: 3 }),
      { environment: 'production', nested: { keep: 1 }, list: [{ name: 'n' }], replicas: 3 },
    );
  });

  it('keeps only the file names of an apply', () => {
    assert.deepEqual(scrubParams({ files: { 'berth.yaml': 'cHJvamVjdDog', 'images/app/static.sh': 'IyEvYmlu' }, dryRun: true }, '/v1/config'), { files: ['berth.yaml', 'images/app/static.sh'], dryRun: true });
  });

  it('keeps no body it cannot read as an object', () => {
    assert.deepEqual(scrubParams(undefined), {});
    assert.deepEqual(scrubParams('raw text'), { body: '8 characters' });
  });
});

describe('sinceInstant', () => {
  const now = Date.UTC(2026, 11, 2, 12, 0, 0);
  it('reads a duration back from now, or a date', () => {
    assert.equal(sinceInstant('1h', now), '2026-12-02T11:00:00.000Z');
    assert.equal(sinceInstant('7d', now), '2026-11-25T12:00:00.000Z');
    assert.equal(sinceInstant('2026-12-01T09:00:00Z', now), '2026-12-01T09:00:00.000Z');
    assert.equal(sinceInstant('2026-12-01', now), '2026-12-01T00:00:00.000Z');
  });
  it('refuses anything else as invalid', () => {
    assert.throws(() => sinceInstant('yesterday', now), { kind: 'invalid', message: 'since "yesterday" is neither a duration nor a date' });
  });
});

describe('auditAction (store)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-audit-test-'));
  const db = await openStore(dir);
  after(async () => {
    await closeStore(db);
    rmSync(dir, { recursive: true, force: true });
  });

  it('appends a chain the verifier accepts, publishes each entry, and filters by actor and time', async () => {
    const published: unknown[] = [];
    const events = { publish: (type: string, data: unknown) => published.push({ type, data }) };
    await auditAction(db, events, { actor: 'reconciler', action: 'recreate', target: 'web in dev', params: { slot: 'web-1', dropped: undefined }, outcome: 'ok' }, new Date('2026-12-01T10:00:00Z'));
    await auditAction(db, events, { actor: 'ci', action: 'release', target: 'web in dev', params: {}, outcome: 'ok 202 rollout #1' }, new Date('2026-12-01T11:00:00Z'));
    const third = await auditAction(db, undefined, { actor: 'ci', action: 'promote', target: 'web in test', params: { to: 'test' }, outcome: 'refused 403 no' }, new Date('2026-12-01T12:00:00Z'));
    assert.equal(third.seq, 3);
    assert.deepEqual(await verifyChain(everyAuditRow(db)), { ok: true, count: 3 });
    assert.deepEqual(published.map((p) => (p as { type: string }).type), ['audit', 'audit']);
    assert.deepEqual((await auditRows(db, { actor: 'ci' })).map((e) => e.seq), [2, 3]);
    assert.deepEqual((await auditRows(db, { since: '2026-12-01T11:00:00.000Z' })).map((e) => e.seq), [2, 3]);
    assert.deepEqual((await auditRows(db, { limit: 1 })).map((e) => e.seq), [3]);

    sqliteOf(db).prepare("UPDATE audit SET outcome = 'ok 202' WHERE seq = 3").run();
    assert.deepEqual(await verifyChain(everyAuditRow(db)), { ok: false, seq: 3, reason: 'its hash does not match its content (the row was edited)' });
    sqliteOf(db).prepare("UPDATE audit SET params = '{\"slot\":\"web-2\"}' WHERE seq = 1").run();
    assert.equal(((await verifyChain(everyAuditRow(db))) as { seq: number }).seq, 1);
  });

  it('an entry stored whose event cannot be appended (the database gone in between) is returned, and the failure is no unhandled rejection (which would end the server)', async () => {
    const unhandled: unknown[] = [];
    const record = (reason: unknown) => void unhandled.push(reason);
    process.on('unhandledRejection', record);
    try {
      const events = { publish: () => Promise.reject(new Error('connection terminated')) };
      const entry = await auditAction(db, events, { actor: 'ci', action: 'token-create', target: 'after-outage', params: {}, outcome: 'ok' });
      assert.equal(entry.target, 'after-outage');
      // Node reports an unhandled rejection once the microtasks run out: after a turn of the event loop.
      await new Promise((resolve) => setImmediate(resolve));
      await new Promise((resolve) => setImmediate(resolve));
      assert.deepEqual(unhandled, []);
    } finally {
      process.off('unhandledRejection', record);
    }
  });
});
