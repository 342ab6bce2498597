/**
 * Rollouts you can trust: a deploy is a rollout too (kind 'deploy'), an
 * interrupted rollout can be abandoned (status 'abandoned'), and a rollout keeps
 * the evidence of its health and canary decisions (JSON).
 */
import { autoId, epochMs, oneOf, type Migration } from './columns.js';
import { rebuildSqliteTable } from './sqlite-rebuild.js';

const KINDS = ['release', 'promote', 'rollback', 'canary', 'scale', 'deploy'];
const STATUSES = ['running', 'canary', 'succeeded', 'failed', 'rolled-back', 'aborted', 'abandoned'];

const trust: Migration = async (db, dialect) => {
  // The two databases differ here: PostgreSQL replaces a CHECK constraint in place, SQLite cannot.
  if (dialect === 'postgres') {
    await db.schema.alterTable('rollouts').dropConstraint('rollouts_kind_check').execute();
    await db.schema.alterTable('rollouts').addCheckConstraint('rollouts_kind_check', oneOf('kind', KINDS)).execute();
    await db.schema.alterTable('rollouts').dropConstraint('rollouts_status_check').execute();
    await db.schema.alterTable('rollouts').addCheckConstraint('rollouts_status_check', oneOf('status', STATUSES)).execute();
    await db.schema.alterTable('rollouts').addColumn('evidence', 'text', (c) => c.notNull().defaultTo('{}')).execute();
    return;
  }
  const create = (name: string) =>
    db.schema
      .createTable(name)
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
      .addColumn('evidence', 'text', (c) => c.notNull().defaultTo('{}'))
      .addCheckConstraint('rollouts_kind_check', oneOf('kind', KINDS))
      .addCheckConstraint('rollouts_status_check', oneOf('status', STATUSES));
  await rebuildSqliteTable(db, 'rollouts', create, ['id', 'service', 'environment', 'release', 'previous', 'kind', 'forced', 'status', 'message', 'actor', 'plan', 'done', 'started_at', 'finished_at']);
  await db.schema.createIndex('rollouts_by_service').on('rollouts').columns(['service', 'environment', 'id desc']).execute();
};
export default trust;
