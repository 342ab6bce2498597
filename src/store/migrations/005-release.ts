/**
 * Release: numbered releases per service (a digest plus its configuration),
 * rollouts of a release into an environment with their journal, the replica
 * count `berth scale` set, and one lock per service × environment.
 * The rollouts' CHECKs are named: PostgreSQL replaces them by name (006, 007, 012).
 */
import { sql } from 'kysely';
import { autoId, epochMs, int64, oneOf, type Migration } from './columns.js';

const release: Migration = async (db, dialect) => {
  await db.schema
    .createTable('releases')
    .addColumn('service', 'text', (c) => c.notNull())
    .addColumn('number', 'integer', (c) => c.notNull().check(sql`number >= 1`))
    .addColumn('image', 'text', (c) => c.notNull())
    .addColumn('image_id', 'text', (c) => c.notNull())
    .addColumn('digest', 'text', (c) => c.notNull())
    .addColumn('repository', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('config', 'text', (c) => c.notNull())
    .addColumn('created_at', epochMs(dialect), (c) => c.notNull())
    .addColumn('created_by', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('releases_pkey', ['service', 'number'])
    .execute();

  await db.schema
    .createTable('rollouts')
    .$call(autoId('id', dialect))
    .addColumn('service', 'text', (c) => c.notNull())
    .addColumn('environment', 'text', (c) => c.notNull())
    .addColumn('release', 'integer', (c) => c.notNull())
    .addColumn('previous', 'integer')
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('forced', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('message', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('actor', 'text', (c) => c.notNull())
    .addColumn('plan', 'text', (c) => c.notNull())
    .addColumn('done', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('started_at', epochMs(dialect), (c) => c.notNull())
    .addColumn('finished_at', epochMs(dialect))
    .addCheckConstraint('rollouts_kind_check', oneOf('kind', ['release', 'promote', 'rollback', 'canary', 'scale']))
    .addCheckConstraint('rollouts_status_check', oneOf('status', ['running', 'canary', 'succeeded', 'failed', 'rolled-back', 'aborted']))
    .execute();
  await db.schema.createIndex('rollouts_by_service').on('rollouts').columns(['service', 'environment', 'id desc']).execute();

  await db.schema
    .createTable('scales')
    .addColumn('service', 'text', (c) => c.notNull())
    .addColumn('environment', 'text', (c) => c.notNull())
    .addColumn('replicas', 'integer', (c) => c.notNull().check(sql`replicas >= 0`))
    .addPrimaryKeyConstraint('scales_pkey', ['service', 'environment'])
    .execute();

  await db.schema
    .createTable('locks')
    .addColumn('service', 'text', (c) => c.notNull())
    .addColumn('environment', 'text', (c) => c.notNull())
    .addColumn('rollout', int64(dialect), (c) => c.notNull())
    .addColumn('pid', 'integer', (c) => c.notNull())
    .addColumn('hostname', 'text', (c) => c.notNull())
    .addColumn('acquired_at', epochMs(dialect), (c) => c.notNull())
    .addPrimaryKeyConstraint('locks_pkey', ['service', 'environment'])
    .execute();

  await db.schema
    .createTable('front_doors')
    .addColumn('service', 'text', (c) => c.notNull())
    .addColumn('environment', 'text', (c) => c.notNull())
    .addColumn('address', 'text', (c) => c.notNull())
    .addColumn('port', 'integer', (c) => c.notNull())
    .addPrimaryKeyConstraint('front_doors_pkey', ['service', 'environment'])
    .execute();
};
export default release;
