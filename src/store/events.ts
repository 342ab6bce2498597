/** The server's event log: what `GET /v1/events` streams, resumable from any seq. */
import type { Selectable } from 'kysely';
import type { Store } from './db.js';
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

export async function appendEvent(db: Store, event: { type: string; rollout?: number | null; data: unknown }, now = Date.now()): Promise<EventRecord> {
  const { seq } = await db
    .insertInto('events')
    .values({ at: now, type: event.type, rollout: event.rollout ?? null, data: JSON.stringify(event.data) })
    .returning('seq')
    .executeTakeFirstOrThrow();
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
