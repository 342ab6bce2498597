/** The audit log's rows on a real store: appended on the last one, read back filtered, and walked a page at a time. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { appendAuditRow, auditRows, everyAuditRow, type AuditRow } from './audit.js';
import type { Store } from './db.js';
import { tempStoreForFile } from '../testing/temp-store.js';

let db: Store;
tempStoreForFile('berth-audit-rows-', (opened) => (db = opened));

/** A row that follows `last`, with a hash that names its seq (the hashing itself is access/audit.ts's). */
const next = (actor: string, at: string) => (last: AuditRow | undefined): AuditRow => {
  const seq = (last?.seq ?? 0) + 1;
  return { seq, at, actor, action: 'POST /v1/x', target: 'x', params: { n: seq }, outcome: 'ok', prevHash: last?.hash ?? '', hash: `h${seq}` };
};

describe('audit rows', () => {
  it('each append sees the last row, even when many are appended at once', async () => {
    const rows = await Promise.all(Array.from({ length: 20 }, (_, i) => appendAuditRow(db, next(i % 2 === 0 ? 'ana' : 'bo', `2026-12-02T00:00:${String(i).padStart(2, '0')}Z`))));
    assert.deepEqual(rows.map((r) => r.seq).sort((a, b) => a - b), Array.from({ length: 20 }, (_, i) => i + 1));
    const stored = await auditRows(db);
    assert.deepEqual(stored.map((r) => r.seq), Array.from({ length: 20 }, (_, i) => i + 1));
    for (const [i, row] of stored.entries()) assert.equal(row.prevHash, i === 0 ? '' : `h${i}`);
    assert.deepEqual(stored[4]!.params, { n: 5 });
  });

  it('filters by actor and time, and the newest `limit` come oldest first', async () => {
    assert.deepEqual((await auditRows(db, { actor: 'bo', limit: 3 })).map((r) => r.seq), [16, 18, 20]);
    assert.equal((await auditRows(db, { since: '2026-12-02T00:00:15Z' })).length, 5);
    assert.deepEqual((await auditRows(db, { limit: 2 })).map((r) => r.seq), [19, 20]);
  });

  it('every row is walked in seq order across pages', async () => {
    for (let i = 0; i < 1_030; i += 1) await appendAuditRow(db, next('ci', '2026-12-02T01:00:00Z'));
    const seqs: number[] = [];
    for await (const row of everyAuditRow(db)) seqs.push(row.seq);
    assert.deepEqual(seqs, Array.from({ length: 1_050 }, (_, i) => i + 1));
  });
});
