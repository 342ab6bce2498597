/**
 * Ship: pushes to the registry and the references its garbage collection must keep.
 *
 * `pushes` has one row per (registry, repository, tag, digest) Berth pushed and
 * saw in the registry; a row is removed when GC deletes its manifest.
 * `refs` holds the digests other capabilities protect: Run records what is
 * deployed, Release what is kept for rollback, an operator may pin one.
 * Empty `environment`/`service` mean "not tied to one" (NULL would defeat UNIQUE).
 */
import { epochMs, int64, oneOf, type Migration } from './columns.js';

const ship: Migration = async (db, dialect) => {
  await db.schema
    .createTable('pushes')
    .addColumn('registry', 'text', (c) => c.notNull())
    .addColumn('repository', 'text', (c) => c.notNull())
    .addColumn('tag', 'text', (c) => c.notNull())
    .addColumn('digest', 'text', (c) => c.notNull())
    .addColumn('image', 'text', (c) => c.notNull())
    .addColumn('key', 'text', (c) => c.notNull())
    .addColumn('image_id', 'text', (c) => c.notNull())
    .addColumn('size', int64(dialect), (c) => c.notNull())
    .addColumn('pushed_at', epochMs(dialect), (c) => c.notNull())
    .addPrimaryKeyConstraint('pushes_pkey', ['registry', 'repository', 'tag', 'digest'])
    .execute();
  await db.schema.createIndex('pushes_by_build').on('pushes').columns(['image', 'key']).execute();

  await db.schema
    .createTable('refs')
    .addColumn('repository', 'text', (c) => c.notNull())
    .addColumn('digest', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull().check(oneOf('kind', ['deployed', 'rollback', 'pinned'])))
    .addColumn('environment', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('service', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('note', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('created_at', epochMs(dialect), (c) => c.notNull())
    .addPrimaryKeyConstraint('refs_pkey', ['repository', 'digest', 'kind', 'environment', 'service'])
    .execute();
  await db.schema.createIndex('refs_by_owner').on('refs').columns(['kind', 'environment', 'service']).execute();
};
export default ship;
