/** Ship's records: what Berth pushed where, with the digest the registry holds. */
import type { Db } from './db.js';

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

interface Row {
  registry: string;
  repository: string;
  tag: string;
  digest: string;
  image: string;
  key: string;
  image_id: string;
  size: number;
  pushed_at: number;
}

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

export function recordPush(db: Db, p: PushRecord): void {
  db.prepare(
    `INSERT INTO pushes (registry, repository, tag, digest, image, key, image_id, size, pushed_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (registry, repository, tag, digest) DO UPDATE SET image_id = excluded.image_id, size = excluded.size, pushed_at = excluded.pushed_at`,
  ).run(p.registry, p.repository, p.tag, p.digest, p.image, p.key, p.imageId, p.size, p.pushedAt);
}

/** Every push to one registry, newest first. */
export function pushesTo(db: Db, registry: string): PushRecord[] {
  return (db.prepare('SELECT * FROM pushes WHERE registry = ? ORDER BY pushed_at DESC').all(registry) as Row[]).map(fromRow);
}

/** The last push of one tag to one registry. */
export function lastPush(db: Db, registry: string, repository: string, tag: string): PushRecord | undefined {
  const row = db.prepare('SELECT * FROM pushes WHERE registry = ? AND repository = ? AND tag = ? ORDER BY pushed_at DESC LIMIT 1').get(registry, repository, tag) as Row | undefined;
  return row && fromRow(row);
}

/** Forgets the pushes of a manifest that garbage collection deleted. */
export function forgetPushes(db: Db, registry: string, repository: string, digest: string): void {
  db.prepare('DELETE FROM pushes WHERE registry = ? AND repository = ? AND digest = ?').run(registry, repository, digest);
}

/** The last push of an engine image (by image ID) or of a manifest (by digest), to any registry. */
export function lastPushOf(db: Db, by: { imageId: string } | { digest: string }): PushRecord | undefined {
  const row = ('imageId' in by
    ? db.prepare('SELECT * FROM pushes WHERE image_id = ? ORDER BY pushed_at DESC LIMIT 1').get(by.imageId)
    : db.prepare('SELECT * FROM pushes WHERE digest = ? ORDER BY pushed_at DESC LIMIT 1').get(by.digest)) as Row | undefined;
  return row && fromRow(row);
}

/** The last push of a manifest (by digest) or of an engine image (by image ID) to one registry. */
export function lastPushTo(db: Db, registry: string, by: { imageId: string } | { digest: string }): PushRecord | undefined {
  const row = ('imageId' in by
    ? db.prepare('SELECT * FROM pushes WHERE registry = ? AND image_id = ? ORDER BY pushed_at DESC LIMIT 1').get(registry, by.imageId)
    : db.prepare('SELECT * FROM pushes WHERE registry = ? AND digest = ? ORDER BY pushed_at DESC LIMIT 1').get(registry, by.digest)) as Row | undefined;
  return row && fromRow(row);
}
