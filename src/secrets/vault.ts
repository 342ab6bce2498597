/**
 * The vault: stored secret values are encrypted with AES-256-GCM under a
 * 32-byte key kept outside the database — BERTH_SECRET_KEY (64 hex digits or
 * the base64 of 32 bytes), else the key file <state dir>/secret.key, made once.
 * Each value gets its own random 96-bit nonce; the secret's address (service,
 * environment, name) is the additional authenticated data, so a row copied
 * onto another secret's does not open. A row records the key's id (a short
 * hash of it), so a value read with another key is named as such instead of
 * failing as "damaged".
 *
 * Why GCM: it authenticates as it encrypts (an altered byte fails to open),
 * node:crypto has it, and a random nonce is safe far beyond the number of
 * values one project stores (2^32 encryptions per key).
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { failed, invalid, unavailable } from '../errors.js';
import type { SealedValue, SecretAddress } from '../store/secrets.js';

export const SECRET_KEY_ENV = 'BERTH_SECRET_KEY';
export const SECRET_KEY_FILE = 'secret.key';

const KEY_BYTES = 32;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const MAKE_A_KEY = 'make one with: openssl rand -hex 32';

export interface SecretKey {
  key: Buffer;
  /** A short hash of the key: what a row records, and what messages name. */
  id: string;
  /** Where it came from, for messages: "BERTH_SECRET_KEY" or "the key file <path>". */
  source: string;
}

/** 64 hex digits, or the base64 of 32 bytes; anything else is refused (its text is never shown: it is a key). */
export function parseSecretKey(text: string, source: string): Buffer {
  const trimmed = text.trim();
  if (/^[0-9a-fA-F]{64}$/.test(trimmed)) return Buffer.from(trimmed, 'hex');
  if (/^[A-Za-z0-9+/]{43}=?$/.test(trimmed)) {
    const key = Buffer.from(trimmed, 'base64');
    if (key.length === KEY_BYTES) return key;
  }
  throw invalid(`${source} is not a secret key: expected 64 hex digits or the base64 of 32 bytes, got ${trimmed.length} character(s)`, {
    fix: `set it to the key the secrets were stored with, or ${MAKE_A_KEY}`,
  });
}

export function keyId(key: Buffer): string {
  return createHash('sha256').update('berth secret key id\0').update(key).digest('hex').slice(0, 12);
}

/**
 * The key: BERTH_SECRET_KEY when set, else <state dir>/secret.key. With
 * `create`, a missing key file is made (32 random bytes, 0600); without it, a
 * missing one is undefined (reading makes no key: a new one could open nothing).
 */
export function secretKey(stateDir: string, env: NodeJS.ProcessEnv, options: { create: boolean }): SecretKey | undefined {
  const fromEnv = env[SECRET_KEY_ENV];
  if (fromEnv !== undefined && fromEnv !== '') {
    const key = parseSecretKey(fromEnv, SECRET_KEY_ENV);
    return { key, id: keyId(key), source: SECRET_KEY_ENV };
  }
  const file = join(stateDir, SECRET_KEY_FILE);
  const source = `the key file ${file}`;
  const text = readKeyFile(file) ?? (options.create ? makeKeyFile(stateDir, file) : undefined);
  if (text === undefined) return undefined;
  const key = parseSecretKey(text, source);
  return { key, id: keyId(key), source };
}

function readKeyFile(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    throw unavailable(`cannot read the secret key file ${file}: ${code ?? String(error)}`, { fix: `make ${file} readable by the user running berth (and no one else: mode 0600)`, cause: error });
  }
}

function makeKeyFile(stateDir: string, file: string): string {
  mkdirSync(stateDir, { recursive: true });
  try {
    // 'wx': of two processes making it at once, one writes and both read the same key.
    writeFileSync(file, `${randomBytes(KEY_BYTES).toString('hex')}\n`, { mode: 0o600, flag: 'wx' });
    chmodSync(file, 0o600);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  return readFileSync(file, 'utf8');
}

/** "secret DB_PASSWORD of web in production": how messages name a stored secret. */
export function describeSecret(address: SecretAddress): string {
  return `secret ${address.name} of ${address.service} in ${address.environment}`;
}

/** What a row is bound to: the same ciphertext under another address does not open. */
function associatedData(address: SecretAddress): Buffer {
  return Buffer.from(JSON.stringify(['berth-secret-v1', address.service, address.environment, address.name]), 'utf8');
}

export function seal(key: SecretKey, address: SecretAddress, value: string): SealedValue {
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key.key, nonce, { authTagLength: TAG_BYTES });
  cipher.setAAD(associatedData(address));
  const ciphertext = Buffer.concat([cipher.update(value, 'utf8'), cipher.final()]);
  return { keyId: key.id, nonce, ciphertext, tag: cipher.getAuthTag() };
}

/** The value; a wrong or missing key is named, an altered row is refused (never a garbled value). */
export function unseal(key: SecretKey | undefined, address: SecretAddress, sealed: SealedValue, stateDir: string): string {
  const what = describeSecret(address);
  if (key === undefined) {
    throw invalid(`${what} was encrypted with key ${sealed.keyId}, and there is no key: ${SECRET_KEY_ENV} is not set and there is no ${join(stateDir, SECRET_KEY_FILE)}`, {
      fix: `set ${SECRET_KEY_ENV} to the key it was stored with, or restore that key file`,
    });
  }
  if (key.id !== sealed.keyId) {
    throw invalid(`${what} was encrypted with key ${sealed.keyId}, ${key.source} is key ${key.id}`, { fix: `set the key it was stored with (${SECRET_KEY_ENV} or ${join(stateDir, SECRET_KEY_FILE)}), or set the value again with this key` });
  }
  const nonce = Buffer.from(sealed.nonce);
  const tag = Buffer.from(sealed.tag);
  try {
    if (nonce.length !== NONCE_BYTES || tag.length !== TAG_BYTES) throw new Error('bad nonce or tag length');
    const decipher = createDecipheriv('aes-256-gcm', key.key, nonce, { authTagLength: TAG_BYTES });
    decipher.setAAD(associatedData(address));
    decipher.setAuthTag(tag);
    return Buffer.concat([decipher.update(Buffer.from(sealed.ciphertext)), decipher.final()]).toString('utf8');
  } catch (error) {
    throw failed(`${what} does not decrypt with key ${key.id} although it was stored with it: its row in the store was altered or damaged`, {
      fix: `set the value again: berth secret set ${address.service} ${address.name} --env ${address.environment} < value-file`,
      cause: error,
    });
  }
}
