/** The versions of the configuration `berth apply` uploaded: each a set of files with its digest. */
import type { Db } from './db.js';

export interface ConfigVersion {
  version: number;
  project: string;
  digest: string;
  /** Relative path → SHA-256 of its content: what the diff of the next apply compares with. */
  files: Record<string, string>;
  actor: string;
  appliedAt: number;
}

interface Row {
  version: number;
  project: string;
  digest: string;
  files: string;
  actor: string;
  applied_at: number;
}

const toVersion = (r: Row): ConfigVersion => ({ version: r.version, project: r.project, digest: r.digest, files: JSON.parse(r.files) as Record<string, string>, actor: r.actor, appliedAt: r.applied_at });

export function latestConfig(db: Db): ConfigVersion | undefined {
  const row = db.prepare('SELECT * FROM config_versions ORDER BY version DESC LIMIT 1').get() as Row | undefined;
  return row && toVersion(row);
}

export function configVersion(db: Db, version: number): ConfigVersion | undefined {
  const row = db.prepare('SELECT * FROM config_versions WHERE version = ?').get(version) as Row | undefined;
  return row && toVersion(row);
}

export function listConfigs(db: Db): ConfigVersion[] {
  return (db.prepare('SELECT * FROM config_versions ORDER BY version DESC').all() as Row[]).map(toVersion);
}

export function insertConfig(db: Db, config: Omit<ConfigVersion, 'version' | 'appliedAt'>, now = Date.now()): ConfigVersion {
  const next = ((db.prepare('SELECT MAX(version) AS v FROM config_versions').get() as { v: number | null }).v ?? 0) + 1;
  db.prepare('INSERT INTO config_versions (version, project, digest, files, actor, applied_at) VALUES (?, ?, ?, ?, ?, ?)').run(next, config.project, config.digest, JSON.stringify(config.files), config.actor, now);
  return configVersion(db, next)!;
}
