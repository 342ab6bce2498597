/**
 * Who may do what (pure): viewer reads everything but secrets; deployer also
 * rolls out (release, promote, rollback, scale, restart, canary) in the
 * environments the token names (all when it names none); admin also manages
 * tokens, hosts, the configuration and the registry. A host token (a warden's, made by
 * the server for one host, never by `berth token create`) may renew that host's lease and
 * nothing else: not even read.
 */
import type { Role } from '../store/tokens.js';

export type AccessLevel = 'read' | 'deploy' | 'admin' | 'host';

export interface Need {
  level: AccessLevel;
  /** The environment a deploy-level request changes; for the host level, the host. */
  environment?: string;
}

export interface Grant {
  role: Role;
  envs: string[];
}

/** The roles `berth token create` makes (a host token is the server's to make: `createHostToken`). */
export const ROLES: readonly Role[] = ['viewer', 'deployer', 'admin'];

const RANK: Record<Role, number> = { host: -1, viewer: 0, deployer: 1, admin: 2 };
const NEEDED: Record<Exclude<AccessLevel, 'host'>, Role> = { read: 'viewer', deploy: 'deployer', admin: 'admin' };

/** undefined when allowed, else what the token lacks (for the 403's message). */
export function lacks(grant: Grant, need: Need): string | undefined {
  if (need.level === 'host') {
    if (grant.role !== 'host') return `the role host (this token is a ${grant.role}; only a host's warden renews its lease)`;
    return need.environment !== undefined && grant.envs.includes(need.environment) ? undefined : `rights on host ${need.environment ?? '?'} (this token speaks for ${grant.envs.join(', ') || 'no host'})`;
  }
  const role = NEEDED[need.level];
  if (RANK[grant.role] < RANK[role]) return `the role ${role} (this token is a ${grant.role})`;
  if (grant.role === 'deployer' && need.level === 'deploy' && need.environment !== undefined && grant.envs.length > 0 && !grant.envs.includes(need.environment)) {
    return `rights on ${need.environment} (this token may deploy to ${grant.envs.join(', ')})`;
  }
  return undefined;
}

/** Whether a token may change an environment at all (a deployer for it, or an admin). */
export function mayChange(grant: Grant, environment: string): boolean {
  return lacks(grant, { level: 'deploy', environment }) === undefined;
}
