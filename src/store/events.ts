/** The server's event log: what `GET /v1/events` streams, resumable from any seq. */
import type { Db } from './db.js';

export interface EventRecord {
  seq: number;
  at: number;
  type: string;
  rollout: number | null;
  data: unknown;
}

interface Row {
  seq: number;
  at: number;
  type: string;
  rollout: number | null;
  data: string;
}

const toEvent = (r: Row): EventRecord => ({ seq: r.seq, at: r.at, type: r.type, rollout: r.rollout, data: JSON.parse(r.data) as unknown });

export function appendEvent(db: Db, event: { type: string; rollout?: number | null; data: unknown }, now = Date.now()): EventRecord {
  const info = db.prepare('INSERT INTO events (at, type, rollout, data) VALUES (?, ?, ?, ?)').run(now, event.type, event.rollout ?? null, JSON.stringify(event.data));
  return { seq: Number(info.lastInsertRowid), at: now, type: event.type, rollout: event.rollout ?? null, data: event.data };
}

/** Events after `seq`, oldest first; only one rollout's when `rollout` is given. */
export function eventsAfter(db: Db, seq: number, options: { rollout?: number; limit?: number } = {}): EventRecord[] {
  const limit = options.limit ?? 1000;
  const rows = (
    options.rollout === undefined
      ? db.prepare('SELECT * FROM events WHERE seq > ? ORDER BY seq LIMIT ?').all(seq, limit)
      : db.prepare('SELECT * FROM events WHERE seq > ? AND rollout = ? ORDER BY seq LIMIT ?').all(seq, options.rollout, limit)
  ) as Row[];
  return rows.map(toEvent);
}
