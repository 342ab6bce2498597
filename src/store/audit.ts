/** The audit log's rows: appended in one immediate transaction (read the last hash, insert), never updated. */
import type { Db } from './db.js';

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

interface Row {
  seq: number;
  at: string;
  actor: string;
  action: string;
  target: string;
  params: string;
  outcome: string;
  prev_hash: string;
  hash: string;
}

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
 * returns the new row, hash included. Immediate, so that two processes on one
 * store cannot both read the same last hash.
 */
export function appendAuditRow(db: Db, seal: (last: AuditRow | undefined) => AuditRow): AuditRow {
  return db
    .transaction(() => {
      const last = db.prepare('SELECT * FROM audit ORDER BY seq DESC LIMIT 1').get() as Row | undefined;
      const row = seal(last && toRow(last));
      db.prepare('INSERT INTO audit (seq, at, actor, action, target, params, outcome, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)').run(
        row.seq,
        row.at,
        row.actor,
        row.action,
        row.target,
        JSON.stringify(row.params),
        row.outcome,
        row.prevHash,
        row.hash,
      );
      return row;
    })
    .immediate();
}

export interface AuditQuery {
  /** ISO 8601: entries at or after it. */
  since?: string;
  actor?: string;
  /** The newest `limit` entries (still oldest first). */
  limit?: number;
}

export function auditRows(db: Db, query: AuditQuery = {}): AuditRow[] {
  const where: string[] = [];
  const args: (string | number)[] = [];
  if (query.since !== undefined) {
    where.push('at >= ?');
    args.push(query.since);
  }
  if (query.actor !== undefined) {
    where.push('actor = ?');
    args.push(query.actor);
  }
  const filter = where.length > 0 ? `WHERE ${where.join(' AND ')}` : '';
  const sql = query.limit === undefined ? `SELECT * FROM audit ${filter} ORDER BY seq` : `SELECT * FROM (SELECT * FROM audit ${filter} ORDER BY seq DESC LIMIT ?) ORDER BY seq`;
  if (query.limit !== undefined) args.push(query.limit);
  return (db.prepare(sql).all(...args) as Row[]).map(toRow);
}

/** Every entry in stored order (seq), as the chain is verified. */
export function* everyAuditRow(db: Db): Generator<AuditRow> {
  for (const row of db.prepare('SELECT * FROM audit ORDER BY seq').iterate() as IterableIterator<Row>) yield toRow(row);
}
