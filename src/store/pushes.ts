/** Ship's records: what Berth pushed where, with the digest the registry holds. */
import type { Selectable } from 'kysely';
import type { Store } from './db.js';
import type { PushesTable } from './schema.js';

export interface PushRecord {
  /** host:port of the registry. */
  registry: string;
  /** berth/<image> */
  repository: string;
  tag: string;
  digest: string;
  image: string;
  key: string;
  imageId: string;
  size: number;
  pushedAt: number;
}

type Row = Selectable<PushesTable>;

const fromRow = (r: Row): PushRecord => ({
  registry: r.registry,
  repository: r.repository,
  tag: r.tag,
  digest: r.digest,
  image: r.image,
  key: r.key,
  imageId: r.image_id,
  size: r.size,
  pushedAt: r.pushed_at,
});

export async function recordPush(db: Store, p: PushRecord): Promise<void> {
  await db
    .insertInto('pushes')
    .values({ registry: p.registry, repository: p.repository, tag: p.tag, digest: p.digest, image: p.image, key: p.key, image_id: p.imageId, size: p.size, pushed_at: p.pushedAt })
    .onConflict((oc) =>
      oc.columns(['registry', 'repository', 'tag', 'digest']).doUpdateSet((eb) => ({ image_id: eb.ref('excluded.image_id'), size: eb.ref('excluded.size'), pushed_at: eb.ref('excluded.pushed_at') })),
    )
    .execute();
}

/** Every push to one registry, newest first. */
export async function pushesTo(db: Store, registry: string): Promise<PushRecord[]> {
  return (await db.selectFrom('pushes').selectAll().where('registry', '=', registry).orderBy('pushed_at', 'desc').execute()).map(fromRow);
}

/** The last push of one tag to one registry. */
export async function lastPush(db: Store, registry: string, repository: string, tag: string): Promise<PushRecord | undefined> {
  const row = await db
    .selectFrom('pushes')
    .selectAll()
    .where('registry', '=', registry)
    .where('repository', '=', repository)
    .where('tag', '=', tag)
    .orderBy('pushed_at', 'desc')
    .limit(1)
    .executeTakeFirst();
  return row && fromRow(row);
}

/** Forgets the pushes of a manifest that garbage collection deleted. */
export async function forgetPushes(db: Store, registry: string, repository: string, digest: string): Promise<void> {
  await db.deleteFrom('pushes').where('registry', '=', registry).where('repository', '=', repository).where('digest', '=', digest).execute();
}

/** The last push of an engine image (by image ID) or of a manifest (by digest), to any registry. */
export async function lastPushOf(db: Store, by: { imageId: string } | { digest: string }): Promise<PushRecord | undefined> {
  const select = db.selectFrom('pushes').selectAll();
  const row = await ('imageId' in by ? select.where('image_id', '=', by.imageId) : select.where('digest', '=', by.digest)).orderBy('pushed_at', 'desc').limit(1).executeTakeFirst();
  return row && fromRow(row);
}

/** The last push of a manifest (by digest) or of an engine image (by image ID) to one registry. */
export async function lastPushTo(db: Store, registry: string, by: { imageId: string } | { digest: string }): Promise<PushRecord | undefined> {
  const select = db.selectFrom('pushes').selectAll().where('registry', '=', registry);
  const row = await ('imageId' in by ? select.where('image_id', '=', by.imageId) : select.where('digest', '=', by.digest)).orderBy('pushed_at', 'desc').limit(1).executeTakeFirst();
  return row && fromRow(row);
}
