/**
 * IPAM's table: one row per address of a flat network ever handed out. These
 * functions only read and write rows; which address a slot gets is decided by
 * src/network/ipam.ts, which runs each change in one transaction and passes its `tx`.
 */
import type { Selectable } from 'kysely';
import { conflict } from '../errors.js';
import { isUniqueViolation, type Store } from './db.js';
import type { IpamAllocationsTable } from './schema.js';

export type AllocationState = 'allocated' | 'bound' | 'quarantined';

export interface Allocation {
  network: string;
  ip: string;
  mac: string;
  /** null: quarantined, and its last slot has taken another address since. */
  slot: string | null;
  /** Counts the slot's requests for this address; each new container is a new incarnation. */
  incarnation: number;
  state: AllocationState;
  /** Set exactly when the state is 'bound'. */
  containerId: string | null;
  allocatedAt: number;
  releasedAt: number | null;
}

/** A new holder of an address, as `claimIpamAddress` writes it. */
export interface IpamClaim {
  network: string;
  ip: string;
  mac: string;
  slot: string;
  incarnation: number;
  now: number;
}

type Row = Selectable<IpamAllocationsTable>;

const toAllocation = (r: Row): Allocation => ({
  network: r.network,
  ip: r.ip,
  mac: r.mac,
  slot: r.slot,
  incarnation: r.incarnation,
  // The table's CHECK admits only these three.
  state: r.state as AllocationState,
  containerId: r.container_id,
  allocatedAt: r.allocated_at,
  releasedAt: r.released_at,
});

/** Every row, or one network's, in no particular order. */
export async function ipamAllocations(db: Store, network?: string): Promise<Allocation[]> {
  let query = db.selectFrom('ipam_allocations').selectAll();
  if (network !== undefined) query = query.where('network', '=', network);
  return (await query.execute()).map(toAllocation);
}

export async function ipamAllocationOfSlot(db: Store, network: string, slot: string): Promise<Allocation | undefined> {
  const row = await db.selectFrom('ipam_allocations').selectAll().where('network', '=', network).where('slot', '=', slot).executeTakeFirst();
  return row && toAllocation(row);
}

export async function ipamAllocationAt(db: Store, network: string, ip: string): Promise<Allocation | undefined> {
  const row = await db.selectFrom('ipam_allocations').selectAll().where('network', '=', network).where('ip', '=', ip).executeTakeFirst();
  return row && toAllocation(row);
}

/**
 * Writes `claim` as a fresh allocation of a never-used address, or of one
 * quarantined since `releasedBy` at the latest; undefined when the row is any
 * other: the WHERE refuses it, whatever the caller believed.
 */
export async function claimIpamAddress(db: Store, claim: IpamClaim, releasedBy: number): Promise<Allocation | undefined> {
  // Read before the insert: on PostgreSQL (SERIALIZABLE) a claim racing another for the same address
  // then fails its MAC's unique check as a serialization failure, which the transaction runs again and
  // then sees the address taken; without the read the loser got a unique violation naming the MAC.
  const macHolder = await db.selectFrom('ipam_allocations').select('ip').where('network', '=', claim.network).where('mac', '=', claim.mac).executeTakeFirst();
  if (macHolder && macHolder.ip !== claim.ip) throw conflict(`MAC ${claim.mac} belongs to address ${macHolder.ip} in network ${claim.network}`, { fix: 'try again: the next request sees the address the slot holds' });
  try {
    const row = await db
      .insertInto('ipam_allocations')
      .values({ network: claim.network, ip: claim.ip, mac: claim.mac, slot: claim.slot, incarnation: claim.incarnation, state: 'allocated', container_id: null, allocated_at: claim.now, released_at: null })
      .onConflict((oc) =>
        oc
          .columns(['network', 'ip'])
          .doUpdateSet((eb) => ({
            mac: eb.ref('excluded.mac'),
            slot: eb.ref('excluded.slot'),
            incarnation: eb.ref('excluded.incarnation'),
            state: 'allocated',
            container_id: null,
            allocated_at: eb.ref('excluded.allocated_at'),
            released_at: null,
          }))
          .where('ipam_allocations.state', '=', 'quarantined')
          .where('ipam_allocations.released_at', '<=', releasedBy),
      )
      .returningAll()
      .executeTakeFirst();
    return row && toAllocation(row);
  } catch (error) {
    if (!isUniqueViolation(error)) throw error;
    // The address is decided by the ON CONFLICT above; what is left is the slot's key or the MAC's.
    const bySlot = /slot/.test(`${(error as { constraint?: string }).constraint ?? ''} ${(error as Error).message}`);
    throw conflict(bySlot ? `slot ${claim.slot} holds an address in network ${claim.network} already (another claim for it won)` : `MAC ${claim.mac} belongs to another address in network ${claim.network}`, {
      fix: 'try again: the next request sees the address the slot holds',
      cause: error,
    });
  }
}

/** The holder's next incarnation of its own address, allocated again for a new container. */
export async function renewIpamAllocation(db: Store, network: string, ip: string, now: number): Promise<Allocation> {
  const row = await db
    .updateTable('ipam_allocations')
    .set((eb) => ({ incarnation: eb('incarnation', '+', 1), state: 'allocated', container_id: null, allocated_at: now, released_at: null }))
    .where('network', '=', network)
    .where('ip', '=', ip)
    .returningAll()
    .executeTakeFirstOrThrow();
  return toAllocation(row);
}

export async function bindIpamAllocation(db: Store, network: string, ip: string, containerId: string): Promise<void> {
  await db.updateTable('ipam_allocations').set({ state: 'bound', container_id: containerId }).where('network', '=', network).where('ip', '=', ip).execute();
}

export async function quarantineIpamAllocation(db: Store, network: string, ip: string, now: number): Promise<Allocation> {
  const row = await db
    .updateTable('ipam_allocations')
    .set({ state: 'quarantined', container_id: null, released_at: now })
    .where('network', '=', network)
    .where('ip', '=', ip)
    .returningAll()
    .executeTakeFirstOrThrow();
  return toAllocation(row);
}

/** A quarantined address keeps its row without an owner, so its quarantine still runs out before anyone else takes it. */
export async function disownIpamAllocation(db: Store, network: string, ip: string): Promise<void> {
  await db.updateTable('ipam_allocations').set({ slot: null }).where('network', '=', network).where('ip', '=', ip).execute();
}

export async function deleteIpamAllocation(db: Store, network: string, ip: string): Promise<void> {
  await db.deleteFrom('ipam_allocations').where('network', '=', network).where('ip', '=', ip).execute();
}
