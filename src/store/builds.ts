import type { Selectable } from 'kysely';
import type { Store } from './db.js';
import type { BuildsTable } from './schema.js';

/** What went into a build, kept so the next plan can say *why* an image is stale. */
export interface BuildInputs {
  recipe: string;
  /** The name shapes the image (its folder under /opt/berth/images), so it is part of the key. */
  image: string;
  settings: unknown;
  /** relative path → "<mode>:<sha256>" */
  files: Record<string, string>;
  parentId: string;
}

export interface BuildRecord {
  image: string;
  key: string;
  imageId: string;
  parentId: string;
  inputs: BuildInputs;
  builtAt: number;
  durationMs: number;
}

type Row = Selectable<BuildsTable>;

const fromRow = (row: Row): BuildRecord => ({
  image: row.image,
  key: row.key,
  imageId: row.image_id,
  parentId: row.parent_id,
  inputs: JSON.parse(row.inputs) as BuildInputs,
  builtAt: row.built_at,
  durationMs: row.duration_ms,
});

export async function recordBuild(db: Store, record: BuildRecord): Promise<void> {
  await db
    .insertInto('builds')
    .values({ image: record.image, key: record.key, image_id: record.imageId, parent_id: record.parentId, inputs: JSON.stringify(record.inputs), built_at: record.builtAt, duration_ms: record.durationMs })
    .onConflict((oc) =>
      oc.columns(['image', 'key']).doUpdateSet((eb) => ({
        image_id: eb.ref('excluded.image_id'),
        parent_id: eb.ref('excluded.parent_id'),
        inputs: eb.ref('excluded.inputs'),
        built_at: eb.ref('excluded.built_at'),
        duration_ms: eb.ref('excluded.duration_ms'),
      })),
    )
    .execute();
}

/** The most recent build of each image. */
export async function latestBuilds(db: Store): Promise<Map<string, BuildRecord>> {
  const rows = await db
    .selectFrom('builds as b')
    .selectAll('b')
    .where('b.built_at', '=', (eb) => eb.selectFrom('builds as newest').select((e) => e.fn.max('newest.built_at').as('built_at')).whereRef('newest.image', '=', 'b.image'))
    .execute();
  return new Map(rows.map((row) => [row.image, fromRow(row)]));
}

/** Every build of one image, newest first. */
export async function buildsOf(db: Store, image: string): Promise<BuildRecord[]> {
  return (await db.selectFrom('builds').selectAll().where('image', '=', image).orderBy('built_at', 'desc').execute()).map(fromRow);
}

/** A cached content hash of a large file, valid while its size and mtime are unchanged. */
export async function cachedFileHash(db: Store, path: string, size: number, mtimeMs: number): Promise<string | undefined> {
  const row = await db.selectFrom('file_hashes').select('sha256').where('path', '=', path).where('size', '=', size).where('mtime_ms', '=', mtimeMs).executeTakeFirst();
  return row?.sha256;
}

export async function rememberFileHash(db: Store, path: string, size: number, mtimeMs: number, sha256: string): Promise<void> {
  await db
    .insertInto('file_hashes')
    .values({ path, size, mtime_ms: mtimeMs, sha256 })
    .onConflict((oc) => oc.column('path').doUpdateSet((eb) => ({ size: eb.ref('excluded.size'), mtime_ms: eb.ref('excluded.mtime_ms'), sha256: eb.ref('excluded.sha256') })))
    .execute();
}
