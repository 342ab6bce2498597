/**
 * Registry secrets (S3 keys, the registry password, http.secret) are read from
 * the environment or a file only when Berth writes the registry's config file
 * or calls the registry, and never appear in output: redact() hides them.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Project, RegistrySettings, SecretRef } from '../config/model.js';
import { readablePath } from '../config/readable-files.js';
import { invalid, notFound, unavailable } from '../errors.js';

/** Whose files a secret is read from: the project's (on a server, only what its configuration may read: readable-files.ts). */
export type SecretFiles = Pick<Project, 'dir' | 'readable'>;

/** The value of a secret; `key` is its berth.yaml key, for messages. */
export function readSecret(ref: SecretRef, key: string, env: NodeJS.ProcessEnv, files?: SecretFiles): string {
  if (ref.env !== undefined) {
    const value = env[ref.env];
    if (value === undefined || value === '') {
      throw invalid(`${key}: the environment variable ${ref.env} is not set`, { fix: `export ${ref.env}=<value> before running berth, or name a file with "file:"` });
    }
    return value;
  }
  const file = files ? readablePath(files, ref.file!, key) : ref.file!;
  if (!existsSync(file)) throw notFound(`${key}: no such file ${file}`, { fix: `write the secret into ${file} (mode 0600), or name an environment variable with "env:"` });
  try {
    return readFileSync(file, 'utf8').trim();
  } catch (error) {
    throw unavailable(`${key}: cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`, { fix: `make ${file} readable by the user running berth`, cause: error });
  }
}

export interface RegistrySecrets {
  httpSecret: string;
  s3?: { accessKey: string; secretKey: string };
  password?: string;
}

/** Every secret the registry's config or calls need. The http.secret is generated once into `secretFile` when not configured. */
export function registrySecrets(settings: RegistrySettings, secretFile: string, env: NodeJS.ProcessEnv, files?: SecretFiles): RegistrySecrets {
  const storage = settings.storage;
  return {
    httpSecret: settings.secret ? readSecret(settings.secret, 'registry.secret', env, files) : generatedSecret(secretFile),
    ...(storage.kind === 's3'
      ? { s3: { accessKey: readSecret(storage.accessKey, 'registry.storage.s3.access_key', env, files), secretKey: readSecret(storage.secretKey, 'registry.storage.s3.secret_key', env, files) } }
      : {}),
    ...(settings.password ? { password: readSecret(settings.password, 'registry.password', env, files) } : {}),
  };
}

/** Only the password, for calls (no http.secret needed). */
export function registryPassword(settings: RegistrySettings, env: NodeJS.ProcessEnv, files?: SecretFiles): string | undefined {
  return settings.password ? readSecret(settings.password, 'registry.password', env, files) : undefined;
}

function generatedSecret(file: string): string {
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  mkdirSync(dirname(file), { recursive: true });
  const secret = randomBytes(32).toString('hex');
  writeFileSync(file, `${secret}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  return secret;
}

/** Replaces every secret value in a text with ***. */
export function redactor(secrets: RegistrySecrets | undefined): (text: string) => string {
  const values = secrets ? [secrets.httpSecret, secrets.s3?.accessKey, secrets.s3?.secretKey, secrets.password].filter((v): v is string => typeof v === 'string' && v.length >= 4) : [];
  return (text) => values.reduce((out, value) => out.split(value).join('***'), text);
}
