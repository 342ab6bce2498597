/**
 * Stored secrets' rows: (service, environment, name) → an encrypted value
 * (secrets/vault.ts seals and opens it; this module never sees a plaintext).
 * Listing returns names and who set them when, never the sealed bytes.
 */
import { inTransaction, type Store } from './db.js';

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
export async function putSecret(db: Store, address: SecretAddress, sealed: SealedValue, actor: string, now = Date.now()): Promise<boolean> {
  return inTransaction(db, async (tx) => {
    const existed = (await tx.selectFrom('secrets').select('name').where('service', '=', address.service).where('environment', '=', address.environment).where('name', '=', address.name).executeTakeFirst()) !== undefined;
    await tx
      .insertInto('secrets')
      .values({ ...address, key_id: sealed.keyId, nonce: sealed.nonce, ciphertext: sealed.ciphertext, tag: sealed.tag, updated_at: now, updated_by: actor })
      .onConflict((oc) =>
        oc.columns(['service', 'environment', 'name']).doUpdateSet((eb) => ({
          key_id: eb.ref('excluded.key_id'),
          nonce: eb.ref('excluded.nonce'),
          ciphertext: eb.ref('excluded.ciphertext'),
          tag: eb.ref('excluded.tag'),
          updated_at: eb.ref('excluded.updated_at'),
          updated_by: eb.ref('excluded.updated_by'),
        })),
      )
      .execute();
    return existed;
  });
}

/** A secret's sealed value, or undefined when none is stored. */
export async function sealedSecret(db: Store, address: SecretAddress): Promise<SealedValue | undefined> {
  return db
    .selectFrom('secrets')
    .select(['key_id as keyId', 'nonce', 'ciphertext', 'tag'])
    .where('service', '=', address.service)
    .where('environment', '=', address.environment)
    .where('name', '=', address.name)
    .executeTakeFirst();
}

/** The names of a service's stored secrets (in one environment, or all), with who set each when; ordered by environment, then name. */
export async function secretEntries(db: Store, service: string, environment?: string): Promise<SecretEntry[]> {
  let select = db.selectFrom('secrets').select(['service', 'environment', 'name', 'updated_at as updatedAt', 'updated_by as updatedBy']).where('service', '=', service);
  if (environment !== undefined) select = select.where('environment', '=', environment);
  return select.orderBy('environment').orderBy('name').execute();
}

/** Returns whether there was one to delete. */
export async function deleteSecret(db: Store, address: SecretAddress): Promise<boolean> {
  const result = await db.deleteFrom('secrets').where('service', '=', address.service).where('environment', '=', address.environment).where('name', '=', address.name).executeTakeFirst();
  return result.numDeletedRows > 0n;
}
