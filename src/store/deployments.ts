/**
 * Run's records: each slot's placement and kept host ports. (The `deployments`
 * table of migration 004 is no longer written: a deploy is a rollout, recorded
 * in `rollouts` with its release.)
 */
import type { Db } from './db.js';

export interface SlotRecord {
  environment: string;
  slot: string;
  service: string;
  ordinal: number;
  host: string;
  network: string;
  /** "8080/tcp" → the host port this slot keeps (nat networks). */
  hostPorts: Record<string, number>;
}

interface SlotRow {
  environment: string;
  slot: string;
  service: string;
  ordinal: number;
  host: string;
  network: string;
  host_ports: string;
}

const toSlot = (r: SlotRow): SlotRecord => ({
  environment: r.environment,
  slot: r.slot,
  service: r.service,
  ordinal: r.ordinal,
  host: r.host,
  network: r.network,
  hostPorts: JSON.parse(r.host_ports) as Record<string, number>,
});

export function slotsOf(db: Db, service: string, environment: string): SlotRecord[] {
  return (db.prepare('SELECT * FROM slots WHERE service = ? AND environment = ? ORDER BY ordinal').all(service, environment) as SlotRow[]).map(toSlot);
}

export function saveSlot(db: Db, s: SlotRecord, now = Date.now()): void {
  db.prepare(
    `INSERT INTO slots (environment, slot, service, ordinal, host, network, host_ports, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (environment, slot) DO UPDATE SET service = excluded.service, ordinal = excluded.ordinal, host = excluded.host,
       network = excluded.network, host_ports = excluded.host_ports, updated_at = excluded.updated_at`,
  ).run(s.environment, s.slot, s.service, s.ordinal, s.host, s.network, JSON.stringify(s.hostPorts), now);
}

export function forgetSlot(db: Db, environment: string, slot: string): void {
  db.prepare('DELETE FROM slots WHERE environment = ? AND slot = ?').run(environment, slot);
}

/** Every slot recorded, optionally of one environment (what should have a container). */
export function allSlots(db: Db, environment?: string): SlotRecord[] {
  const rows = environment === undefined ? db.prepare('SELECT * FROM slots ORDER BY environment, ordinal').all() : db.prepare('SELECT * FROM slots WHERE environment = ? ORDER BY ordinal').all(environment);
  return (rows as SlotRow[]).map(toSlot);
}
