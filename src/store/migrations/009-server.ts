/**
 * The server: API tokens (only their SHA-256 is kept), the versions of the
 * configuration `berth apply` uploaded, and the event stream (its seq is the
 * SSE event id a client resumes from).
 */
import { autoId, epochMs, int64, oneOf, type Migration } from './columns.js';

const server: Migration = async (db, dialect) => {
  await db.schema
    .createTable('tokens')
    .$call(autoId('id', dialect))
    .addColumn('name', 'text', (c) => c.notNull().unique())
    .addColumn('role', 'text', (c) => c.notNull().check(oneOf('role', ['viewer', 'deployer', 'admin'])))
    .addColumn('envs', 'text', (c) => c.notNull().defaultTo('[]'))
    .addColumn('hash', 'text', (c) => c.notNull().unique())
    .addColumn('created_by', 'text', (c) => c.notNull())
    .addColumn('created_at', epochMs(dialect), (c) => c.notNull())
    .addColumn('revoked_at', epochMs(dialect))
    .execute();

  // version is chosen by the writer (the last one plus one), not by the database.
  await db.schema
    .createTable('config_versions')
    .addColumn('version', 'integer', (c) => c.primaryKey())
    .addColumn('project', 'text', (c) => c.notNull())
    .addColumn('digest', 'text', (c) => c.notNull())
    .addColumn('files', 'text', (c) => c.notNull())
    .addColumn('actor', 'text', (c) => c.notNull())
    .addColumn('applied_at', epochMs(dialect), (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('events')
    .$call(autoId('seq', dialect))
    .addColumn('at', epochMs(dialect), (c) => c.notNull())
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('rollout', int64(dialect))
    .addColumn('data', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('events_rollout').on('events').columns(['rollout', 'seq']).execute();
};
export default server;
