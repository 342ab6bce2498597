/**
 * Run: what should run. `deployments` has one row per `berth deploy` with its
 * outcome; `slots` holds each instance's placement and the host ports it keeps
 * (the engine's containers are the truth of what does run).
 */
import { sql } from 'kysely';
import { autoId, epochMs, oneOf, type Migration } from './columns.js';

const run: Migration = async (db, dialect) => {
  await db.schema
    .createTable('deployments')
    .$call(autoId('id', dialect))
    .addColumn('service', 'text', (c) => c.notNull())
    .addColumn('environment', 'text', (c) => c.notNull())
    .addColumn('image', 'text', (c) => c.notNull())
    .addColumn('image_id', 'text', (c) => c.notNull())
    .addColumn('digest', 'text', (c) => c.notNull())
    .addColumn('repository', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('replicas', 'integer', (c) => c.notNull())
    .addColumn('network', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull().check(oneOf('status', ['running', 'succeeded', 'failed'])))
    .addColumn('message', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('started_at', epochMs(dialect), (c) => c.notNull())
    .addColumn('finished_at', epochMs(dialect))
    .execute();
  await db.schema.createIndex('deployments_by_service').on('deployments').columns(['service', 'environment', 'id desc']).execute();

  await db.schema
    .createTable('slots')
    .addColumn('environment', 'text', (c) => c.notNull())
    .addColumn('slot', 'text', (c) => c.notNull())
    .addColumn('service', 'text', (c) => c.notNull())
    .addColumn('ordinal', 'integer', (c) => c.notNull().check(sql`ordinal >= 1`))
    .addColumn('host', 'text', (c) => c.notNull())
    .addColumn('network', 'text', (c) => c.notNull())
    .addColumn('host_ports', 'text', (c) => c.notNull().defaultTo('{}'))
    .addColumn('updated_at', epochMs(dialect), (c) => c.notNull())
    .addPrimaryKeyConstraint('slots_pkey', ['environment', 'slot'])
    .execute();
};
export default run;
