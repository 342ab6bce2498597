/**
 * Several servers on one store (PostgreSQL), one of them leading. `leader` is the leader lease: one
 * row per name ('server'), its holder, its epoch (one more at each change of holder, never reused)
 * and its end, compared on the database's clock. `servers` is every server seen, with its heartbeat,
 * for `berth server status` and for a follower to reach the leader. A service's lease records the
 * leader epoch it was taken under, so a new leader takes over what an old one left at once.
 * `config_bundles` keeps each applied configuration's files, so every server loads the same one.
 * `key_fingerprints` records a fingerprint of each key that stays a file on every server (the
 * spec-MAC key), so a server with another key is told instead of silently computing other hashes.
 */
import { bytes, epochMs, int64, type Migration } from './columns.js';

const leadership: Migration = async (db, dialect) => {
  await db.schema
    .createTable('leader')
    .addColumn('name', 'text', (c) => c.primaryKey())
    .addColumn('holder', 'text', (c) => c.notNull())
    .addColumn('address', 'text', (c) => c.notNull())
    .addColumn('epoch', int64(dialect), (c) => c.notNull())
    .addColumn('since', epochMs(dialect), (c) => c.notNull())
    .addColumn('expires_at', epochMs(dialect), (c) => c.notNull())
    .execute();
  await db.schema
    .createTable('servers')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('address', 'text', (c) => c.notNull())
    .addColumn('version', 'text', (c) => c.notNull())
    .addColumn('started_at', epochMs(dialect), (c) => c.notNull())
    .addColumn('heartbeat_at', epochMs(dialect), (c) => c.notNull())
    .execute();
  await db.schema.alterTable('leases').addColumn('epoch', int64(dialect), (c) => c.notNull().defaultTo(0)).execute();
  await db.schema
    .createTable('config_bundles')
    .addColumn('version', 'integer', (c) => c.primaryKey())
    .addColumn('bundle', bytes(dialect), (c) => c.notNull())
    .execute();
  await db.schema
    .createTable('key_fingerprints')
    .addColumn('name', 'text', (c) => c.primaryKey())
    .addColumn('fingerprint', 'text', (c) => c.notNull())
    .execute();
};
export default leadership;
