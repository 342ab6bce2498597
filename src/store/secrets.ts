/**
 * Stored secrets' rows: (service, environment, name) → an encrypted value
 * (secrets/vault.ts seals and opens it; this module never sees a plaintext).
 * Listing returns names and who set them when, never the sealed bytes.
 */
import type { Db } from './db.js';

/** An encrypted value as the vault seals it: AES-256-GCM's nonce, ciphertext and tag, and the id of the key. */
export interface SealedValue {
  keyId: string;
  nonce: Buffer;
  ciphertext: Buffer;
  tag: Buffer;
}

export interface SecretAddress {
  service: string;
  environment: string;
  name: string;
}

export interface SecretEntry extends SecretAddress {
  updatedAt: number;
  updatedBy: string;
}

/** Writes (or replaces) a secret's sealed value; returns whether one was there before. */
export function putSecret(db: Db, address: SecretAddress, sealed: SealedValue, actor: string, now = Date.now()): boolean {
  return db.transaction(() => {
    const existed = db.prepare('SELECT 1 FROM secrets WHERE service = ? AND environment = ? AND name = ?').get(address.service, address.environment, address.name) !== undefined;
    db.prepare(
      `INSERT INTO secrets (service, environment, name, key_id, nonce, ciphertext, tag, updated_at, updated_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (service, environment, name) DO UPDATE SET key_id = excluded.key_id, nonce = excluded.nonce, ciphertext = excluded.ciphertext,
         tag = excluded.tag, updated_at = excluded.updated_at, updated_by = excluded.updated_by`,
    ).run(address.service, address.environment, address.name, sealed.keyId, sealed.nonce, sealed.ciphertext, sealed.tag, now, actor);
    return existed;
  })();
}

/** A secret's sealed value, or undefined when none is stored. */
export function sealedSecret(db: Db, address: SecretAddress): SealedValue | undefined {
  const row = db
    .prepare('SELECT key_id AS keyId, nonce, ciphertext, tag FROM secrets WHERE service = ? AND environment = ? AND name = ?')
    .get(address.service, address.environment, address.name) as SealedValue | undefined;
  return row;
}

/** The names of a service's stored secrets (in one environment, or all), with who set each when; ordered by environment, then name. */
export function secretEntries(db: Db, service: string, environment?: string): SecretEntry[] {
  const sql = `SELECT service, environment, name, updated_at AS updatedAt, updated_by AS updatedBy FROM secrets WHERE service = ?${environment === undefined ? '' : ' AND environment = ?'} ORDER BY environment, name`;
  return db.prepare(sql).all(...(environment === undefined ? [service] : [service, environment])) as SecretEntry[];
}

/** Returns whether there was one to delete. */
export function deleteSecret(db: Db, address: SecretAddress): boolean {
  return db.prepare('DELETE FROM secrets WHERE service = ? AND environment = ? AND name = ?').run(address.service, address.environment, address.name).changes > 0;
}
