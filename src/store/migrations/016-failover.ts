/**
 * Host failure: each host's health as the server's watcher last decided it (up, suspect, down,
 * returning; since when and why), each host's warden lease (until when the warden on it may let
 * its instances run), the token role 'host' (a warden's: it may renew its own host's lease and
 * nothing else), and rollouts of kind 'failover' (a down host's instances recreated elsewhere).
 */
import { autoId, epochMs, oneOf, type Migration } from './columns.js';
import { rebuildSqliteTable } from './sqlite-rebuild.js';

const KINDS = ['release', 'promote', 'rollback', 'canary', 'scale', 'deploy', 'move', 'reconcile', 'restart', 'stop', 'rm', 'abandon', 'failover'];
const ROLES = ['viewer', 'deployer', 'admin', 'host'];
const STATUSES = ['running', 'canary', 'succeeded', 'failed', 'rolled-back', 'aborted', 'abandoned'];

const failover: Migration = async (db, dialect) => {
  await db.schema
    .createTable('host_health')
    .addColumn('name', 'text', (c) => c.primaryKey())
    .addColumn('state', 'text', (c) => c.notNull().check(oneOf('state', ['up', 'suspect', 'down', 'returning'])))
    .addColumn('since', epochMs(dialect), (c) => c.notNull())
    .addColumn('reason', 'text', (c) => c.notNull().defaultTo(''))
    .execute();
  await db.schema
    .createTable('warden_leases')
    .addColumn('host', 'text', (c) => c.primaryKey())
    .addColumn('renewed_at', epochMs(dialect), (c) => c.notNull())
    .addColumn('expires_at', epochMs(dialect), (c) => c.notNull())
    .execute();

  // The two databases differ here: PostgreSQL replaces a CHECK constraint in place, SQLite cannot.
  if (dialect === 'postgres') {
    await db.schema.alterTable('tokens').dropConstraint('tokens_role_check').execute();
    await db.schema.alterTable('tokens').addCheckConstraint('tokens_role_check', oneOf('role', ROLES)).execute();
    await db.schema.alterTable('rollouts').dropConstraint('rollouts_kind_check').execute();
    await db.schema.alterTable('rollouts').addCheckConstraint('rollouts_kind_check', oneOf('kind', KINDS)).execute();
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
  await rebuildSqliteTable(db, 'rollouts', create, ['id', 'service', 'environment', 'release', 'previous', 'kind', 'forced', 'status', 'message', 'actor', 'plan', 'done', 'started_at', 'finished_at', 'evidence']);
  await db.schema.createIndex('rollouts_by_service').on('rollouts').columns(['service', 'environment', 'id desc']).execute();
  const tokens = (name: string) =>
    db.schema
      .createTable(name)
      .$call(autoId('id', dialect))
      .addColumn('name', 'text', (c) => c.notNull().unique())
      .addColumn('role', 'text', (c) => c.notNull().check(oneOf('role', ROLES)))
      .addColumn('envs', 'text', (c) => c.notNull().defaultTo('[]'))
      .addColumn('hash', 'text', (c) => c.notNull().unique())
      .addColumn('created_by', 'text', (c) => c.notNull())
      .addColumn('created_at', epochMs(dialect), (c) => c.notNull())
      .addColumn('revoked_at', epochMs(dialect));
  await rebuildSqliteTable(db, 'tokens', tokens, ['id', 'name', 'role', 'envs', 'hash', 'created_by', 'created_at', 'revoked_at']);
};
export default failover;
