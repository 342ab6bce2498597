/**
 * Stored secrets, the core that `berth secret` and the server's routes both
 * call: set a value (encrypted at once), read it back for a deploy, list
 * names, delete. Nothing here returns a value except readStoredSecret, which
 * only the deploy path calls; no route may expose it.
 */
import type { Project } from '../config/model.js';
import { isReservedEnvName, RESERVED_ENV_PREFIX } from '../config/schema.js';
import { invalid } from '../errors.js';
import type { Store } from '../store/db.js';
import { deleteSecret, putSecret, sealedSecret, secretEntries, type SecretAddress, type SecretEntry } from '../store/secrets.js';
import { storedRefsOf } from './refs.js';
import { secretKey, seal, unseal, type SecretKey } from './vault.js';

export type { SecretAddress, SecretEntry };

/** A value is copied into /run/secrets and exported as a variable: a large one is most likely the wrong file. */
export const MAX_SECRET_BYTES = 64 * 1024;

const SECRET_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export interface SetSecretInput extends SecretAddress {
  value: string;
  actor: string;
}

export interface SetSecretResult {
  /** Whether a value was stored before (it is replaced). */
  replaced: boolean;
  /** The id of the key it was encrypted with. */
  keyId: string;
}

/** Encrypts and stores a value (a missing key file is made); the value is never echoed. */
export async function setStoredSecret(db: Store, stateDir: string, env: NodeJS.ProcessEnv, input: SetSecretInput, now = Date.now()): Promise<SetSecretResult> {
  checkName(input.name);
  const bytes = Buffer.byteLength(input.value, 'utf8');
  if (bytes === 0) throw invalid(`the value of ${input.name} is empty`, { fix: 'pipe the value in: berth secret set <service> <NAME> --env <env> < value-file' });
  if (bytes > MAX_SECRET_BYTES) throw invalid(`the value of ${input.name} is ${bytes} bytes, more than ${MAX_SECRET_BYTES}`, { fix: 'store a smaller value (a secret is copied into each instance and exported as a variable); put large files in the image or a config file' });
  const key = secretKey(stateDir, env, { create: true })!;
  const address = addressOf(input);
  const replaced = await putSecret(db, address, seal(key, address, input.value), input.actor, now);
  return { replaced, keyId: key.id };
}

/** Reads stored values with one key look-up for many secrets (a deploy reads all of a service's at once). */
export function storedSecretReader(db: Store, stateDir: string, env: NodeJS.ProcessEnv): (address: SecretAddress) => Promise<string | undefined> {
  let key: SecretKey | undefined | null = null;
  return async (address) => {
    const sealed = await sealedSecret(db, address);
    if (sealed === undefined) return undefined;
    if (key === null) key = secretKey(stateDir, env, { create: false });
    return unseal(key, address, sealed, stateDir);
  };
}

/** One stored value, or undefined when none is set. */
export function readStoredSecret(db: Store, stateDir: string, env: NodeJS.ProcessEnv, address: SecretAddress): Promise<string | undefined> {
  return storedSecretReader(db, stateDir, env)(address);
}

/** Names, environments, and who set them when: never a value. */
export async function listStoredSecrets(db: Store, service: string, environment?: string): Promise<SecretEntry[]> {
  return await secretEntries(db, service, environment);
}

/** A stored secret as `berth secret ls --json` (and a server's route) shows it: never its value. */
export interface SecretStatus extends SecretAddress {
  /** false: berth.yaml reads it from the store, and no value is set. */
  set: boolean;
  /** ISO 8601, when set. */
  updatedAt?: string;
  updatedBy?: string;
}

/** A service's stored secrets (in one environment, or all), and those berth.yaml reads from the store that are not set; by environment, then name. */
export async function secretStatuses(db: Store, project: Project, service: string, environment?: string): Promise<SecretStatus[]> {
  const entries = await secretEntries(db, service, environment);
  const statuses: SecretStatus[] = entries.map((e) => ({ service: e.service, environment: e.environment, name: e.name, set: true, updatedAt: new Date(e.updatedAt).toISOString(), updatedBy: e.updatedBy }));
  for (const wanted of storedRefsOf(project, service, environment)) {
    if (!entries.some((e) => e.environment === wanted.environment && e.name === wanted.name)) statuses.push({ ...wanted, set: false });
  }
  return statuses.sort((a, b) => a.environment.localeCompare(b.environment) || a.name.localeCompare(b.name));
}

/** Returns whether a value was stored. */
export async function removeStoredSecret(db: Store, address: SecretAddress): Promise<boolean> {
  checkName(address.name);
  return await deleteSecret(db, addressOf(address));
}

function checkName(name: string): void {
  if (!SECRET_NAME.test(name)) throw invalid(`"${name}" is not a valid secret name: each secret becomes the environment variable of its name`, { fix: 'use letters, digits and _ only, not starting with a digit, like DB_PASSWORD' });
  if (isReservedEnvName(name)) throw invalid(`the secret name "${name}" is reserved: names starting with ${RESERVED_ENV_PREFIX} are Berth's own`, { fix: `rename it, like APP_${name.slice(RESERVED_ENV_PREFIX.length)}` });
}

function addressOf(a: SecretAddress): SecretAddress {
  return { service: a.service, environment: a.environment, name: a.name };
}
