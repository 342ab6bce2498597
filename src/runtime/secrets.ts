/**
 * Service secrets: read at deploy time from the environment or a file (an
 * environment's own `secrets:` override the service's, so production never
 * reads dev's value) and copied into each instance's container after it is
 * created and before it starts, through the engine's archive API
 * (instance-files.ts), as /run/secrets/<NAME>, 0400, owned by the user the
 * service runs as; the image's entrypoint exports each file as a variable at
 * every start.
 *
 * Why this design: a bind mount of a folder on the Berth machine is an empty
 * folder on any other host, and the engine's archive API reaches every host
 * the same way. The files live in the container's writable layer: kept across
 * container and engine restarts, removed with the container, never in an image
 * layer, a label, the container's Env (docker inspect), a log line or an error
 * (only names and paths are ever printed). On the host they are files of that
 * layer, readable by root (as everything is) and the service's user only.
 * Its limit: `docker commit`, `docker export` or `docker cp` of an instance
 * copies them out, so anyone with the engine's socket can read them — as they
 * can anyway (exec, or the process's environment).
 *
 * A `stored` secret's value is the one `berth secret set` stored (encrypted,
 * secrets/vault.ts) for the service in the environment being deployed.
 *
 * Rotation: the spec hash covers an HMAC of the values (secretsMac), so a
 * changed value rolls the instances, while the hash, which is a label, gives
 * nothing to brute-force a value with: the key is `<state dir>/spec-mac.key`
 * (32 random bytes, mode 0600, made once per project).
 */
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { canonicalJson } from '../imaging/plan.js';
import type { EnvironmentSpec, Project, ServiceSpec } from '../config/model.js';
import { notFound, unavailable } from '../errors.js';
import { keyFingerprint, sharedKeyFingerprint } from '../store/key-fingerprints.js';
import { readSecret } from '../registry/secrets.js';
import { isStored, secretRefsOf } from '../secrets/refs.js';
import { storedSecretReader } from '../secrets/stored.js';
import type { Store } from '../store/db.js';
import type { ConfigContent } from './instance-files.js';
import type { SlotContents } from './instance-spec.js';

export { secretRefsOf };

/** Where `stored` secrets are read: the project's store and state directory (the key file, when BERTH_SECRET_KEY is not set). */
export interface SecretStore {
  db: Store;
  stateDir: string;
}

/** Reads every secret of the service in the environment now, so a missing one fails the deploy before anything changes. */
export async function readServiceSecrets(service: ServiceSpec, environment: EnvironmentSpec, env: NodeJS.ProcessEnv, store?: SecretStore, project?: Pick<Project, 'dir' | 'readable'>): Promise<Map<string, string>> {
  const stored = store ? storedSecretReader(store.db, store.stateDir, env) : undefined;
  const values = new Map<string, string>();
  for (const [name, { ref, key }] of secretRefsOf(service, environment)) {
    if (!isStored(ref)) {
      values.set(name, readSecret(ref, key, env, project));
      continue;
    }
    if (!stored) throw new Error(`${key} is a stored secret, and no store was given to read it from`);
    const value = await stored({ service: service.name, environment: environment.name, name });
    if (value === undefined) {
      throw notFound(`secret ${name} of ${service.name} in ${environment.name} is not set (${key} is "stored")`, {
        fix: `run: berth secret set ${service.name} ${name} --env ${environment.name} < value-file`,
      });
    }
    values.set(name, value);
  }
  return values;
}

/** The project's key for secretsMac, made on first use. */
export function specMacKey(stateDir: string): Buffer {
  const file = join(stateDir, 'spec-mac.key');
  try {
    return Buffer.from(readFileSync(file, 'utf8').trim(), 'hex');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  mkdirSync(stateDir, { recursive: true });
  try {
    // 'wx': of two processes making it at once, one writes and both read the same key.
    writeFileSync(file, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600, flag: 'wx' });
    chmodSync(file, 0o600);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  return Buffer.from(readFileSync(file, 'utf8').trim(), 'hex');
}

/**
 * The spec-MAC key, checked against the one the other servers of the store use: a server with
 * another key (or none, so it just made one) would see every instance with a secret as changed and
 * roll it. Refused instead, naming the file to copy.
 */
export async function sharedSpecMacKey(db: Store, stateDir: string): Promise<Buffer> {
  const key = specMacKey(stateDir);
  const mine = keyFingerprint(key);
  const theirs = await sharedKeyFingerprint(db, 'spec-mac', mine);
  if (theirs !== mine) {
    const file = join(stateDir, 'spec-mac.key');
    throw unavailable(`this server's ${file} (fingerprint ${mine}) is not the spec-MAC key the other servers of this store use (fingerprint ${theirs})`, {
      fix: `copy spec-mac.key from the --state folder of a server of this store into ${stateDir} (mode 0600), then run the command again (docs/ha.md)`,
    });
  }
  return key;
}

/** An HMAC-SHA256 of the secrets' names and values (never the values themselves nor a plain hash of them). */
export function secretsMac(key: Buffer, secrets: ReadonlyMap<string, string>): string {
  return createHmac('sha256', key).update(canonicalJson(Object.fromEntries(secrets))).digest('hex');
}

/** What the spec hash sees of the files copied into an instance; undefined when there are none (the hash stays as it was). */
export function slotContents(key: Buffer, secrets: ReadonlyMap<string, string>, configs: readonly ConfigContent[]): SlotContents | undefined {
  if (secrets.size === 0 && configs.length === 0) return undefined;
  return {
    ...(secrets.size > 0 ? { secretsMac: secretsMac(key, secrets) } : {}),
    ...(configs.length > 0 ? { configs: Object.fromEntries(configs.map((c) => [c.target, `${c.mode.toString(8)}:${createHash('sha256').update(c.content).digest('hex')}`])) } : {}),
  };
}
