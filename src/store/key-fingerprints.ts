/**
 * Fingerprints of the keys that stay files on each server (they must not be in the database), so
 * that servers sharing a store find out when one of them has another key: the first to use a key
 * records its fingerprint, the others compare theirs.
 */
import { createHash } from 'node:crypto';
import type { Store } from './db.js';

export function keyFingerprint(key: Uint8Array): string {
  return createHash('sha256').update('berth key fingerprint\0').update(key).digest('hex').slice(0, 16);
}

/** Records the fingerprint when none is; returns the one the store has (this one, or another server's). */
export async function sharedKeyFingerprint(db: Store, name: string, fingerprint: string): Promise<string> {
  await db.insertInto('key_fingerprints').values({ name, fingerprint }).onConflict((oc) => oc.column('name').doNothing()).execute();
  const row = await db.selectFrom('key_fingerprints').select('fingerprint').where('name', '=', name).executeTakeFirstOrThrow();
  return row.fingerprint;
}
