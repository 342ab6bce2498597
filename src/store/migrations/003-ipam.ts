/**
 * Run: address allocations of flat networks (IPAM). One row per address ever
 * handed out; the primary key makes two owners of one address impossible and
 * the (network, slot) key gives each slot at most one address per network.
 */
import { sql } from 'kysely';
import { epochMs, oneOf, type Migration } from './columns.js';

const ipam: Migration = async (db, dialect) => {
  await db.schema
    .createTable('ipam_allocations')
    .addColumn('network', 'text', (c) => c.notNull())
    .addColumn('ip', 'text', (c) => c.notNull())
    .addColumn('mac', 'text', (c) => c.notNull())
    .addColumn('slot', 'text')
    .addColumn('incarnation', 'integer', (c) => c.notNull().check(sql`incarnation >= 1`))
    .addColumn('state', 'text', (c) => c.notNull().check(oneOf('state', ['allocated', 'bound', 'quarantined'])))
    .addColumn('container_id', 'text')
    .addColumn('allocated_at', epochMs(dialect), (c) => c.notNull())
    .addColumn('released_at', epochMs(dialect))
    .addPrimaryKeyConstraint('ipam_allocations_pkey', ['network', 'ip'])
    .addUniqueConstraint('ipam_allocations_slot_key', ['network', 'slot'])
    .addUniqueConstraint('ipam_allocations_mac_key', ['network', 'mac'])
    .addCheckConstraint('ipam_allocations_bound', sql`(state = 'bound') = (container_id is not null)`)
    .addCheckConstraint('ipam_allocations_quarantined', sql`(state = 'quarantined') = (released_at is not null)`)
    .addCheckConstraint('ipam_allocations_slotless', sql`slot is not null or state = 'quarantined'`)
    .execute();
};
export default ipam;
