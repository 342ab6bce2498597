/**
 * Stored secrets: a service's secret value per environment, encrypted with
 * AES-256-GCM under a key kept outside the database (secrets/vault.ts). A row
 * holds the nonce, the ciphertext, the tag and the id of the key (a short
 * hash, never the key), so a value read with another key is named, not garbled.
 */
export default `
  CREATE TABLE secrets (
    service     TEXT NOT NULL,
    environment TEXT NOT NULL,
    name        TEXT NOT NULL,
    key_id      TEXT NOT NULL,
    nonce       BLOB NOT NULL,
    ciphertext  BLOB NOT NULL,
    tag         BLOB NOT NULL,
    updated_at  INTEGER NOT NULL,
    updated_by  TEXT NOT NULL,
    PRIMARY KEY (service, environment, name)
  );
`;
