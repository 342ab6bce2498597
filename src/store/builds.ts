import type { Db } from './db.js';

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

interface Row {
  image: string;
  key: string;
  image_id: string;
  parent_id: string;
  inputs: string;
  built_at: number;
  duration_ms: number;
}

const fromRow = (row: Row): BuildRecord => ({
  image: row.image,
  key: row.key,
  imageId: row.image_id,
  parentId: row.parent_id,
  inputs: JSON.parse(row.inputs) as BuildInputs,
  builtAt: row.built_at,
  durationMs: row.duration_ms,
});

export function recordBuild(db: Db, record: BuildRecord): void {
  db.prepare(
    `INSERT INTO builds (image, key, image_id, parent_id, inputs, built_at, duration_ms)
     VALUES (?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (image, key) DO UPDATE SET image_id = excluded.image_id, parent_id = excluded.parent_id,
       inputs = excluded.inputs, built_at = excluded.built_at, duration_ms = excluded.duration_ms`,
  ).run(record.image, record.key, record.imageId, record.parentId, JSON.stringify(record.inputs), record.builtAt, record.durationMs);
}

/** The most recent build of each image. */
export function latestBuilds(db: Db): Map<string, BuildRecord> {
  const rows = db
    .prepare(
      `SELECT b.* FROM builds b
       WHERE b.built_at = (SELECT MAX(built_at) FROM builds WHERE image = b.image)`,
    )
    .all() as Row[];
  return new Map(rows.map((row) => [row.image, fromRow(row)]));
}

/** Every build of one image, newest first. */
export function buildsOf(db: Db, image: string): BuildRecord[] {
  return (db.prepare('SELECT * FROM builds WHERE image = ? ORDER BY built_at DESC').all(image) as Row[]).map(fromRow);
}

/** A cached content hash of a large file, valid while its size and mtime are unchanged. */
export function cachedFileHash(db: Db, path: string, size: number, mtimeMs: number): string | undefined {
  const row = db.prepare('SELECT sha256 FROM file_hashes WHERE path = ? AND size = ? AND mtime_ms = ?').get(path, size, mtimeMs) as
    | { sha256: string }
    | undefined;
  return row?.sha256;
}

export function rememberFileHash(db: Db, path: string, size: number, mtimeMs: number, sha256: string): void {
  db.prepare('INSERT OR REPLACE INTO file_hashes (path, size, mtime_ms, sha256) VALUES (?, ?, ?, ?)').run(path, size, mtimeMs, sha256);
}
