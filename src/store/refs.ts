/**
 * The reference database: digests that garbage collection must keep whatever
 * retention says. Run calls protectDigest when it deploys (kind 'deployed'),
 * Release when it keeps a previous version for rollback (kind 'rollback'),
 * and releaseDigest when a reference ends.
 */
import type { Store } from './db.js';

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

/** Protects a digest; protecting it again under the same key only updates the note. */
export async function protectDigest(db: Store, ref: RefKey & { note?: string }, now = Date.now()): Promise<void> {
  await db
    .insertInto('refs')
    .values({ repository: ref.repository, digest: ref.digest, kind: ref.kind, environment: ref.environment ?? '', service: ref.service ?? '', note: ref.note ?? '', created_at: now })
    .onConflict((oc) => oc.columns(['repository', 'digest', 'kind', 'environment', 'service']).doUpdateSet((eb) => ({ note: eb.ref('excluded.note') })))
    .execute();
}

/** Ends one reference; returns whether it existed. The digest stays protected while any other reference holds it. */
export async function releaseDigest(db: Store, ref: RefKey): Promise<boolean> {
  const result = await db
    .deleteFrom('refs')
    .where('repository', '=', ref.repository)
    .where('digest', '=', ref.digest)
    .where('kind', '=', ref.kind)
    .where('environment', '=', ref.environment ?? '')
    .where('service', '=', ref.service ?? '')
    .executeTakeFirst();
  return result.numDeletedRows > 0n;
}

/** Every reference, oldest first. */
export async function allRefs(db: Store): Promise<Ref[]> {
  const rows = await db.selectFrom('refs').selectAll().orderBy('created_at').orderBy('repository').orderBy('digest').execute();
  return rows.map((r) => ({
    repository: r.repository,
    digest: r.digest,
    kind: r.kind as RefKind,
    environment: r.environment,
    service: r.service,
    note: r.note,
    createdAt: r.created_at,
  }));
}
