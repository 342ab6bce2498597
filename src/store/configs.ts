/** The versions of the configuration `berth apply` uploaded: each a set of files with its digest. */
import type { Selectable } from 'kysely';
import { inTransaction, type Store } from './db.js';
import type { ConfigVersionsTable } from './schema.js';

export interface ConfigVersion {
  version: number;
  project: string;
  digest: string;
  /** Relative path → SHA-256 of its content: what the diff of the next apply compares with. */
  files: Record<string, string>;
  actor: string;
  appliedAt: number;
}

type Row = Selectable<ConfigVersionsTable>;

const toVersion = (r: Row): ConfigVersion => ({ version: r.version, project: r.project, digest: r.digest, files: JSON.parse(r.files) as Record<string, string>, actor: r.actor, appliedAt: r.applied_at });

export async function latestConfig(db: Store): Promise<ConfigVersion | undefined> {
  const row = await db.selectFrom('config_versions').selectAll().orderBy('version', 'desc').limit(1).executeTakeFirst();
  return row && toVersion(row);
}

export async function configVersion(db: Store, version: number): Promise<ConfigVersion | undefined> {
  const row = await db.selectFrom('config_versions').selectAll().where('version', '=', version).executeTakeFirst();
  return row && toVersion(row);
}

export async function listConfigs(db: Store): Promise<ConfigVersion[]> {
  return (await db.selectFrom('config_versions').selectAll().orderBy('version', 'desc').execute()).map(toVersion);
}

/** Numbers the version (one more than the last) and records it, in one transaction. */
export async function insertConfig(db: Store, config: Omit<ConfigVersion, 'version' | 'appliedAt'>, now = Date.now()): Promise<ConfigVersion> {
  return inTransaction(db, async (tx) => {
    const last = await tx.selectFrom('config_versions').select('version').orderBy('version', 'desc').limit(1).executeTakeFirst();
    const row = await tx
      .insertInto('config_versions')
      .values({ version: (last?.version ?? 0) + 1, project: config.project, digest: config.digest, files: JSON.stringify(config.files), actor: config.actor, applied_at: now })
      .returningAll()
      .executeTakeFirstOrThrow();
    return toVersion(row);
  });
}

/** Keeps an applied configuration's files (its wire bundle, JSON), so every server sharing the store loads the same. */
export async function saveConfigBundle(db: Store, version: number, bundle: Uint8Array): Promise<void> {
  await db.insertInto('config_bundles').values({ version, bundle }).onConflict((oc) => oc.column('version').doNothing()).execute();
}

/** The files of an applied version as saveConfigBundle kept them; undefined for one applied before they were kept. */
export async function configBundle(db: Store, version: number): Promise<Uint8Array | undefined> {
  const row = await db.selectFrom('config_bundles').select('bundle').where('version', '=', version).executeTakeFirst();
  return row?.bundle;
}
