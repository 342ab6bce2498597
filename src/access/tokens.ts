/**
 * Tokens: 32 random bytes, shown once; the store keeps their SHA-256 (a token
 * is random, so a fast hash is enough; no password stretching is needed).
 */
import { createHash, randomBytes } from 'node:crypto';
import { conflict, invalid, notFound, unauthenticated } from '../errors.js';
import type { Store } from '../store/db.js';
import { countTokens, insertToken, listTokens, revokeToken, tokenByHash, tokenByName, type Role, type TokenRecord } from '../store/tokens.js';
import { ROLES } from './roles.js';

const PREFIX = 'berth_';
const NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/;

export const hashToken = (token: string): string => createHash('sha256').update(token).digest('hex');

export function newTokenSecret(): string {
  return `${PREFIX}${randomBytes(32).toString('base64url')}`;
}

export interface CreatedToken {
  token: string;
  record: TokenRecord;
}

/** `environments`: those of the applied configuration, which a deployer's `envs` must name ([] when none is applied). */
export async function createToken(db: Store, request: { name: string; role: string; envs?: string[]; createdBy: string }, environments: readonly string[] = []): Promise<CreatedToken> {
  if (!NAME.test(request.name)) throw invalid(`"${request.name}" is not a token name`, { fix: 'use lowercase letters, digits, ".", "_" and "-" (up to 63), e.g. --name ci-dev' });
  if (!(ROLES as readonly string[]).includes(request.role)) throw invalid(`"${request.role}" is not a role`, { fix: `use one of: ${ROLES.join(', ')}` });
  const envs = request.envs ?? [];
  if (envs.length > 0 && request.role !== 'deployer') throw invalid(`--envs limits a deployer; a ${request.role} token is not limited to environments`, { fix: 'drop --envs, or use --role deployer' });
  const unknown = envs.find((env) => !environments.includes(env));
  if (unknown !== undefined) {
    throw invalid(`--envs names "${unknown}", which is not an environment of the applied configuration (${environments.length > 0 ? `its environments: ${environments.join(', ')}` : 'none is applied yet'})`, {
      fix: environments.length > 0 ? `name environments of berth.yaml: --envs ${environments.join(',')}` : 'apply the configuration first (berth apply), then create the token',
    });
  }
  if (await tokenByName(db, request.name)) throw conflict(`a token named ${request.name} exists already`, { fix: `choose another name, or revoke it first: berth token revoke ${request.name}` });
  const token = newTokenSecret();
  const record = await insertToken(db, { name: request.name, role: request.role as Role, envs, hash: hashToken(token), createdBy: request.createdBy });
  return { token, record };
}

/**
 * A warden's token for `host` (role host, named warden-<host>, or with a suffix when that name was
 * used before): it may renew that host's lease and nothing else. The host's earlier ones are revoked.
 */
export async function createHostToken(db: Store, host: string, createdBy: string, now = Date.now()): Promise<CreatedToken> {
  const base = `warden-${host}`;
  if (!NAME.test(`${base}-xxxxxxxx`)) throw invalid(`host "${host}" makes no token name`, { fix: 'name hosts with lowercase letters, digits, ".", "_" and "-" (up to 48)' });
  for (const old of await listTokens(db)) if (old.role === 'host' && old.envs.includes(host) && old.revokedAt === null) await revokeToken(db, old.name, now);
  const name = (await tokenByName(db, base)) ? `${base}-${now.toString(36)}` : base;
  const token = newTokenSecret();
  const record = await insertToken(db, { name, role: 'host', envs: [host], hash: hashToken(token), createdBy }, now);
  return { token, record };
}

/** The first start of a server: an admin token when the store has none, else undefined. */
export async function bootstrapAdmin(db: Store): Promise<CreatedToken | undefined> {
  if (await countTokens(db) > 0) return undefined;
  return await createToken(db, { name: 'admin', role: 'admin', createdBy: 'server' });
}

/** The token an `Authorization: Bearer …` header carries, or unauthenticated saying why. */
export async function authenticate(db: Store, header: string | undefined): Promise<TokenRecord> {
  if (header === undefined || header === '') throw unauthenticated('this request needs a token, and none was sent', { fix: 'set BERTH_TOKEN (or send "Authorization: Bearer <token>"); an admin creates one with: berth token create --name NAME --role ROLE' });
  const match = /^Bearer\s+(\S+)$/i.exec(header);
  if (!match) throw unauthenticated('the Authorization header is not "Bearer <token>"', { fix: 'send "Authorization: Bearer <token>"' });
  const record = await tokenByHash(db, hashToken(match[1]!));
  if (!record) throw unauthenticated('the token is not valid (unknown or revoked)', { fix: 'check BERTH_TOKEN; berth token ls (as an admin) lists the live tokens' });
  return record;
}

export async function tokens(db: Store): Promise<TokenRecord[]> {
  return await listTokens(db);
}

export async function revoke(db: Store, name: string): Promise<void> {
  if (!await revokeToken(db, name)) throw notFound(`no live token named ${name}`, { fix: 'berth token ls lists them' });
}

/** A token as the API shows it (never its secret). */
export const tokenView = (t: TokenRecord) => ({ name: t.name, role: t.role, envs: t.envs, createdBy: t.createdBy, createdAt: new Date(t.createdAt).toISOString(), revokedAt: t.revokedAt === null ? null : new Date(t.revokedAt).toISOString() });
