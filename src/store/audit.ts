/** The audit log's rows: appended in one transaction (read the last hash, insert), never updated. */
import type { Selectable } from 'kysely';
import { inTransaction, type Store } from './db.js';
import type { AuditTable } from './schema.js';

export interface AuditRow {
  seq: number;
  /** ISO 8601, as hashed and as shown. */
  at: string;
  actor: string;
  action: string;
  target: string;
  params: Record<string, unknown>;
  outcome: string;
  prevHash: string;
  hash: string;
}

type Row = Selectable<AuditTable>;

/** A row whose params are not JSON any more is shown (and verified) as its raw text. */
function parseParams(text: string): Record<string, unknown> {
  try {
    const value = JSON.parse(text) as unknown;
    return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : { unparsable: text };
  } catch {
    return { unparsable: text };
  }
}

const toRow = (r: Row): AuditRow => ({ seq: r.seq, at: r.at, actor: r.actor, action: r.action, target: r.target, params: parseParams(r.params), outcome: r.outcome, prevHash: r.prev_hash, hash: r.hash });

/**
 * Appends one entry: `seal` gets the last entry (undefined for the first) and
 * returns the new row, hash included. One transaction that takes the write
 * lock first, so that two processes on one store cannot both read the same last hash.
 */
export async function appendAuditRow(db: Store, seal: (last: AuditRow | undefined) => AuditRow): Promise<AuditRow> {
  return inTransaction(db, async (tx) => {
    const last = await tx.selectFrom('audit').selectAll().orderBy('seq', 'desc').limit(1).executeTakeFirst();
    const row = seal(last && toRow(last));
    await tx
      .insertInto('audit')
      .values({ seq: row.seq, at: row.at, actor: row.actor, action: row.action, target: row.target, params: JSON.stringify(row.params), outcome: row.outcome, prev_hash: row.prevHash, hash: row.hash })
      .execute();
    return row;
  });
}

export interface AuditQuery {
  /** ISO 8601: entries at or after it. */
  since?: string;
  actor?: string;
  /** The newest `limit` entries (still oldest first). */
  limit?: number;
}

export async function auditRows(db: Store, query: AuditQuery = {}): Promise<AuditRow[]> {
  let select = db.selectFrom('audit').selectAll();
  if (query.since !== undefined) select = select.where('at', '>=', query.since);
  if (query.actor !== undefined) select = select.where('actor', '=', query.actor);
  if (query.limit === undefined) return (await select.orderBy('seq').execute()).map(toRow);
  const newest = await select.orderBy('seq', 'desc').limit(query.limit).execute();
  return newest.reverse().map(toRow);
}

/** How many entries `everyAuditRow` reads per query: a long log is verified without holding all of it. */
const AUDIT_PAGE = 500;

/** Every entry in stored order (seq), as the chain is verified; read a page at a time. */
export async function* everyAuditRow(db: Store): AsyncGenerator<AuditRow> {
  let after: number | undefined;
  for (;;) {
    let page = db.selectFrom('audit').selectAll();
    if (after !== undefined) page = page.where('seq', '>', after);
    const rows = await page.orderBy('seq').limit(AUDIT_PAGE).execute();
    for (const row of rows) yield toRow(row);
    if (rows.length < AUDIT_PAGE) return;
    after = rows[rows.length - 1]!.seq;
  }
}
