/**
 * Leases replace locks: one per service × environment, held by one process (its
 * holder id) until `expires_at` unless renewed, with a fencing token that every
 * write of a rollout must match. `lease_tokens` keeps the last token handed out
 * per service × environment, so a token is never given twice, also after the
 * lease was released. A lock left by an older Berth becomes an expired lease:
 * the next command takes it over (and resumes its rollout, if it was running).
 */
import { sql } from 'kysely';
import { epochMs, int64, type Migration } from './columns.js';

const leases: Migration = async (db, dialect) => {
  await db.schema
    .createTable('leases')
    .addColumn('service', 'text', (c) => c.notNull())
    .addColumn('environment', 'text', (c) => c.notNull())
    .addColumn('rollout', int64(dialect), (c) => c.notNull())
    .addColumn('holder', 'text', (c) => c.notNull())
    .addColumn('pid', 'integer', (c) => c.notNull())
    .addColumn('hostname', 'text', (c) => c.notNull())
    .addColumn('token', int64(dialect), (c) => c.notNull().check(sql`token >= 1`))
    .addColumn('acquired_at', epochMs(dialect), (c) => c.notNull())
    .addColumn('expires_at', epochMs(dialect), (c) => c.notNull())
    .addPrimaryKeyConstraint('leases_pkey', ['service', 'environment'])
    .execute();
  await db.schema.createIndex('leases_by_holder').on('leases').column('holder').execute();

  await db.schema
    .createTable('lease_tokens')
    .addColumn('service', 'text', (c) => c.notNull())
    .addColumn('environment', 'text', (c) => c.notNull())
    .addColumn('last', int64(dialect), (c) => c.notNull().check(sql`last >= 1`))
    .addPrimaryKeyConstraint('lease_tokens_pkey', ['service', 'environment'])
    .execute();

  await sql`insert into lease_tokens (service, environment, last) select service, environment, 1 from locks`.execute(db);
  // PostgreSQL's || wants text on one side at least: the pid is cast, which SQLite reads alike.
  await sql`insert into leases (service, environment, rollout, holder, pid, hostname, token, acquired_at, expires_at)
    select service, environment, rollout, hostname || ':' || cast(pid as text) || ':lock', pid, hostname, 1, acquired_at, acquired_at from locks`.execute(db);
  await db.schema.dropTable('locks').execute();
};
export default leases;
