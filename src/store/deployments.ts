/**
 * Run's records: each slot's placement and kept host ports. (The `deployments`
 * table of migration 004 is no longer written: a deploy is a rollout, recorded
 * in `rollouts` with its release.)
 */
import type { Selectable } from 'kysely';
import type { Store } from './db.js';
import type { SlotsTable } from './schema.js';

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

type SlotRow = Selectable<SlotsTable>;

const toSlot = (r: SlotRow): SlotRecord => ({
  environment: r.environment,
  slot: r.slot,
  service: r.service,
  ordinal: r.ordinal,
  host: r.host,
  network: r.network,
  hostPorts: JSON.parse(r.host_ports) as Record<string, number>,
});

export async function slotsOf(db: Store, service: string, environment: string): Promise<SlotRecord[]> {
  return (await db.selectFrom('slots').selectAll().where('service', '=', service).where('environment', '=', environment).orderBy('ordinal').execute()).map(toSlot);
}

export async function saveSlot(db: Store, s: SlotRecord, now = Date.now()): Promise<void> {
  await db
    .insertInto('slots')
    .values({ environment: s.environment, slot: s.slot, service: s.service, ordinal: s.ordinal, host: s.host, network: s.network, host_ports: JSON.stringify(s.hostPorts), updated_at: now })
    .onConflict((oc) =>
      oc.columns(['environment', 'slot']).doUpdateSet((eb) => ({
        service: eb.ref('excluded.service'),
        ordinal: eb.ref('excluded.ordinal'),
        host: eb.ref('excluded.host'),
        network: eb.ref('excluded.network'),
        host_ports: eb.ref('excluded.host_ports'),
        updated_at: eb.ref('excluded.updated_at'),
      })),
    )
    .execute();
}

export async function forgetSlot(db: Store, environment: string, slot: string): Promise<void> {
  await db.deleteFrom('slots').where('environment', '=', environment).where('slot', '=', slot).execute();
}

/** Every slot recorded, optionally of one environment (what should have a container). */
export async function allSlots(db: Store, environment?: string): Promise<SlotRecord[]> {
  const rows =
    environment === undefined
      ? await db.selectFrom('slots').selectAll().orderBy('environment').orderBy('ordinal').execute()
      : await db.selectFrom('slots').selectAll().where('environment', '=', environment).orderBy('ordinal').execute();
  return rows.map(toSlot);
}
