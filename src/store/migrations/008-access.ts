/**
 * Who did what: the audit log (each entry carries the hash of the one before,
 * so an edited, deleted or reordered row breaks the chain), and the approvals
 * a promotion to a protected environment waits for.
 */
import { autoId, epochMs, int64, oneOf, type Migration } from './columns.js';

const access: Migration = async (db, dialect) => {
  // seq is chosen by the writer (the chain's next number), not by the database.
  await db.schema
    .createTable('audit')
    .addColumn('seq', int64(dialect), (c) => c.primaryKey())
    .addColumn('at', 'text', (c) => c.notNull())
    .addColumn('actor', 'text', (c) => c.notNull())
    .addColumn('action', 'text', (c) => c.notNull())
    .addColumn('target', 'text', (c) => c.notNull())
    .addColumn('params', 'text', (c) => c.notNull())
    .addColumn('outcome', 'text', (c) => c.notNull())
    .addColumn('prev_hash', 'text', (c) => c.notNull())
    .addColumn('hash', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('audit_by_actor').on('audit').columns(['actor', 'seq']).execute();

  await db.schema
    .createTable('approvals')
    .$call(autoId('id', dialect))
    .addColumn('service', 'text', (c) => c.notNull())
    .addColumn('environment', 'text', (c) => c.notNull())
    .addColumn('request', 'text', (c) => c.notNull())
    .addColumn('requested_by', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull().check(oneOf('status', ['pending', 'approved', 'rejected', 'expired'])))
    .addColumn('created_at', epochMs(dialect), (c) => c.notNull())
    .addColumn('expires_at', epochMs(dialect), (c) => c.notNull())
    .addColumn('decided_by', 'text')
    .addColumn('decided_at', epochMs(dialect))
    .addColumn('rollout', int64(dialect))
    .execute();
  await db.schema.createIndex('approvals_by_status').on('approvals').columns(['status', 'id']).execute();
};
export default access;
