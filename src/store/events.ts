/** The server's event log: what `GET /v1/events` streams, resumable from any seq. */
import type { Selectable } from 'kysely';
import { sql } from 'kysely';
import { inTransaction, type Store } from './db.js';
import { isPostgres } from './leader.js';
import type { EventsTable } from './schema.js';

export interface EventRecord {
  seq: number;
  at: number;
  type: string;
  rollout: number | null;
  data: unknown;
}

type Row = Selectable<EventsTable>;

const toEvent = (r: Row): EventRecord => ({ seq: r.seq, at: r.at, type: r.type, rollout: r.rollout, data: JSON.parse(r.data) as unknown });

/** The channel a PostgreSQL store notifies on each new event (it only wakes the servers: they read the events from the table). */
export const EVENTS_CHANNEL = 'berth_events';

/**
 * Appends an event. On PostgreSQL several servers append: each append holds a transaction lock
 * from before its number is drawn until it commits, so the events commit in the order of their
 * numbers and a reader of "after seq N" never skips one that commits late.
 */
export async function appendEvent(db: Store, event: { type: string; rollout?: number | null; data: unknown }, now = Date.now()): Promise<EventRecord> {
  const insert = (tx: Store) => tx.insertInto('events').values({ at: now, type: event.type, rollout: event.rollout ?? null, data: JSON.stringify(event.data) }).returning('seq').executeTakeFirstOrThrow();
  const { seq } = !isPostgres(db)
    ? await insert(db)
    : await inTransaction(db, async (tx) => {
        await sql`select pg_advisory_xact_lock(${sql.lit(EVENTS_LOCK)})`.execute(tx);
        const row = await insert(tx);
        await sql`select pg_notify(${EVENTS_CHANNEL}, ${String(row.seq)})`.execute(tx);
        return row;
      });
  return { seq, at: now, type: event.type, rollout: event.rollout ?? null, data: event.data };
}

/** Events after `seq`, oldest first; only one rollout's when `rollout` is given. */
export async function eventsAfter(db: Store, seq: number, options: { rollout?: number; limit?: number } = {}): Promise<EventRecord[]> {
  let select = db.selectFrom('events').selectAll().where('seq', '>', seq);
  if (options.rollout !== undefined) select = select.where('rollout', '=', options.rollout);
  const rows = await select.orderBy('seq').limit(options.limit ?? 1000).execute();
  return rows.map(toEvent);
}

/** Forgets the events stored before `before` (ms); returns how many. The journal and the audit log keep what they record. */
export async function pruneEvents(db: Store, before: number): Promise<number> {
  const result = await db.deleteFrom('events').where('at', '<', before).executeTakeFirst();
  return Number(result.numDeletedRows);
}

/** The key of the transaction lock that orders the appends (an arbitrary constant of Berth's). */
const EVENTS_LOCK = 0x6265727468;

/** The last event's seq (0: none). */
export async function lastEventSeq(db: Store): Promise<number> {
  const row = await db.selectFrom('events').select((eb) => eb.fn.max('seq').as('last')).executeTakeFirst();
  return Number(row?.last ?? 0);
}
