/** Build: one row per image build, and a cache of large files' hashes. */
import { epochMs, float64, int64, type Migration } from './columns.js';

const build: Migration = async (db, dialect) => {
  await db.schema
    .createTable('builds')
    .addColumn('image', 'text', (c) => c.notNull())
    .addColumn('key', 'text', (c) => c.notNull())
    .addColumn('image_id', 'text', (c) => c.notNull())
    .addColumn('parent_id', 'text', (c) => c.notNull())
    .addColumn('inputs', 'text', (c) => c.notNull())
    .addColumn('built_at', epochMs(dialect), (c) => c.notNull())
    .addColumn('duration_ms', int64(dialect), (c) => c.notNull())
    .addPrimaryKeyConstraint('builds_pkey', ['image', 'key'])
    .execute();
  await db.schema.createIndex('builds_by_time').on('builds').columns(['image', 'built_at desc']).execute();

  await db.schema
    .createTable('file_hashes')
    .addColumn('path', 'text', (c) => c.primaryKey())
    .addColumn('size', int64(dialect), (c) => c.notNull())
    .addColumn('mtime_ms', float64(dialect), (c) => c.notNull())
    .addColumn('sha256', 'text', (c) => c.notNull())
    .execute();
};
export default build;
