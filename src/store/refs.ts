/**
 * The reference database: digests that garbage collection must keep whatever
 * retention says. Run calls protectDigest when it deploys (kind 'deployed'),
 * Release when it keeps a previous version for rollback (kind 'rollback'),
 * and releaseDigest when a reference ends.
 */
import type { Db } from './db.js';

export type RefKind = 'deployed' | 'rollback' | 'pinned';

export interface Ref {
  /** Repository inside the registry, e.g. berth/hello-node. */
  repository: string;
  digest: string;
  kind: RefKind;
  /** '' when not tied to one environment or service. */
  environment: string;
  service: string;
  note: string;
  createdAt: number;
}

export interface RefKey {
  repository: string;
  digest: string;
  kind: RefKind;
  environment?: string;
  service?: string;
}

interface Row {
  repository: string;
  digest: string;
  kind: RefKind;
  environment: string;
  service: string;
  note: string;
  created_at: number;
}

/** Protects a digest; protecting it again under the same key only updates the note. */
export function protectDigest(db: Db, ref: RefKey & { note?: string }, now = Date.now()): void {
  db.prepare(
    `INSERT INTO refs (repository, digest, kind, environment, service, note, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (repository, digest, kind, environment, service) DO UPDATE SET note = excluded.note`,
  ).run(ref.repository, ref.digest, ref.kind, ref.environment ?? '', ref.service ?? '', ref.note ?? '', now);
}

/** Ends one reference; returns whether it existed. The digest stays protected while any other reference holds it. */
export function releaseDigest(db: Db, ref: RefKey): boolean {
  const result = db
    .prepare('DELETE FROM refs WHERE repository = ? AND digest = ? AND kind = ? AND environment = ? AND service = ?')
    .run(ref.repository, ref.digest, ref.kind, ref.environment ?? '', ref.service ?? '');
  return result.changes > 0;
}

/** Every reference, oldest first. */
export function allRefs(db: Db): Ref[] {
  return (db.prepare('SELECT * FROM refs ORDER BY created_at, repository, digest').all() as Row[]).map((r) => ({
    repository: r.repository,
    digest: r.digest,
    kind: r.kind,
    environment: r.environment,
    service: r.service,
    note: r.note,
    createdAt: r.created_at,
  }));
}
