/**
 * Where a store is: a folder (the embedded SQLite file, as always) or a PostgreSQL database named
 * by a `postgres://user@host:port/db` URL. The password is never part of the URL (it would be in
 * the process list, the shell's history and every message that names the store): it comes from
 * PGPASSWORD or a password file. What is shown of a location never carries it.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse } from 'pg-connection-string';
import { invalid } from '../errors.js';

export const STORE_FILE = 'berth.db';

export type StoreLocation =
  | { kind: 'sqlite'; dir: string; file: string }
  | {
      kind: 'postgres';
      /** user@host:port/database: how messages name it. */
      display: string;
      host: string;
      port: number;
      user: string;
      database: string;
      /** What `pg` gets for TLS, as libpq reads the URL's sslmode (disable, prefer, require, verify-ca, verify-full). */
      ssl: boolean | object | undefined;
      /** Undefined: `pg` reads PGPASSWORD. */
      password: string | undefined;
    };

/** The URL parameters Berth passes on; anything else is a typo until someone needs it. */
const PARAMETERS = new Set(['sslmode', 'sslrootcert', 'sslcert', 'sslkey']);
const SSL_MODES = new Set(['disable', 'prefer', 'require', 'verify-ca', 'verify-full']);

export function isPostgresUrl(text: string): boolean {
  return /^postgres(ql)?:\/\//i.test(text);
}

export interface LocationOptions {
  /** A file whose first line is the database password (instead of PGPASSWORD). */
  passwordFile?: string;
}

/** A folder or a postgres:// URL as a location; `invalid` naming what is wrong, never the password. */
export function storeLocation(text: string, options: LocationOptions = {}): StoreLocation {
  if (!isPostgresUrl(text)) {
    if (options.passwordFile !== undefined) throw invalid('--store-password-file is for a PostgreSQL store (--store postgres://…), not a folder');
    return { kind: 'sqlite', dir: text, file: join(text, STORE_FILE) };
  }
  const fix = 'write it as postgres://USER@HOST:PORT/DATABASE[?sslmode=require], with the password in PGPASSWORD or --store-password-file';
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw invalid('the store URL is not a valid URL', { fix });
  }
  if (url.password !== '') throw invalid(`the store URL postgres://${url.username}@${url.host}${url.pathname} carries a password, which would be seen in the process list and in logs`, { fix: 'take it out of the URL; give it in PGPASSWORD or in a file named by --store-password-file' });
  const database = decodeURIComponent(url.pathname.replace(/^\//, ''));
  const user = decodeURIComponent(url.username);
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  const port = url.port === '' ? 5432 : Number(url.port);
  const display = `${user}@${url.host}${url.port === '' ? ':5432' : ''}/${database}`;
  if (host === '') throw invalid(`the store URL ${text} names no host`, { fix });
  if (user === '') throw invalid(`the store URL postgres://${url.host}/${database} names no user`, { fix });
  if (database === '' || database.includes('/')) throw invalid(`the store URL postgres://${user}@${url.host}${url.pathname} names no database (or more than one path part)`, { fix });
  for (const [name, value] of url.searchParams) {
    if (!PARAMETERS.has(name)) throw invalid(`the store URL's parameter "${name}" is not one Berth knows (${[...PARAMETERS].join(', ')})`, { fix });
    if (name === 'sslmode' && !SSL_MODES.has(value)) throw invalid(`the store URL's sslmode "${value}" is not one of ${[...SSL_MODES].join(', ')}`, { fix });
  }
  let ssl: boolean | object | undefined;
  try {
    // libpq's meaning of sslmode (require encrypts without checking the certificate, verify-full checks it and the name).
    ssl = parse(text, { useLibpqCompat: true }).ssl as boolean | object | undefined;
  } catch (error) {
    throw invalid(`the store URL's TLS settings cannot be used: ${(error as Error).message}`, { fix, cause: error });
  }
  return { kind: 'postgres', display, host, port, user, database, ssl, password: options.passwordFile === undefined ? undefined : readPasswordFile(options.passwordFile) };
}

function readPasswordFile(file: string): string {
  let text: string;
  try {
    text = readFileSync(resolve(file), 'utf8');
  } catch (error) {
    throw invalid(`cannot read the store's password file ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, { fix: 'name a readable file whose first line is the password', cause: error });
  }
  const password = text.split(/\r?\n/)[0] ?? '';
  if (password === '') throw invalid(`the store's password file ${file} is empty`, { fix: 'write the password on its first line' });
  return password;
}

/** How messages name a location: the SQLite file, or user@host:port/database. */
export function describeLocation(location: StoreLocation): string {
  return location.kind === 'sqlite' ? location.file : `PostgreSQL ${location.display}`;
}

const STORE_ERROR = Symbol.for('berth.store-error');

/** Marks a failure as the store's (a connection or query of PostgreSQL), naming which store. */
export function tagStoreError(error: unknown, where: string): unknown {
  if (error instanceof Error && !(STORE_ERROR in error)) Object.defineProperty(error, STORE_ERROR, { value: where });
  return error;
}

/** The store a failure came from, when `tagStoreError` marked it. */
export function storeErrorOrigin(error: unknown): string | undefined {
  return error instanceof Error ? ((error as unknown as Record<symbol, string | undefined>)[STORE_ERROR]) : undefined;
}
