/**
 * Stored secrets: a service's secret value per environment, encrypted with
 * AES-256-GCM under a key kept outside the database (secrets/vault.ts). A row
 * holds the nonce, the ciphertext, the tag and the id of the key (a short
 * hash, never the key), so a value read with another key is named, not garbled.
 */
import { bytes, epochMs, type Migration } from './columns.js';

const secrets: Migration = async (db, dialect) => {
  await db.schema
    .createTable('secrets')
    .addColumn('service', 'text', (c) => c.notNull())
    .addColumn('environment', 'text', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('key_id', 'text', (c) => c.notNull())
    .addColumn('nonce', bytes(dialect), (c) => c.notNull())
    .addColumn('ciphertext', bytes(dialect), (c) => c.notNull())
    .addColumn('tag', bytes(dialect), (c) => c.notNull())
    .addColumn('updated_at', epochMs(dialect), (c) => c.notNull())
    .addColumn('updated_by', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('secrets_pkey', ['service', 'environment', 'name'])
    .execute();
};
export default secrets;
