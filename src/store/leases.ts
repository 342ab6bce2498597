/**
 * Leases: one per service × environment, held by one process until it expires
 * unless renewed. Each change of holder hands out a new fencing token, larger
 * than any before for that service × environment; a write of a rollout goes
 * through `fenced`, which refuses it in the same transaction once the lease
 * has another token (a holder that stalled past its lease cannot write).
 */
import { BerthError } from '../errors.js';
import type { Db } from './db.js';

export interface Lease {
  service: string;
  environment: string;
  /** The rollout it is held for; 0 while the holder is still checking and planning. */
  rollout: number;
  /** Unique per process: hostname, pid and a random part. */
  holder: string;
  pid: number;
  hostname: string;
  token: number;
  acquiredAt: number;
  expiresAt: number;
}

/** Who asks for a lease, and for which rollout. */
export type Claim = Pick<Lease, 'service' | 'environment' | 'rollout' | 'holder' | 'pid' | 'hostname'>;

/** What a write of a rollout carries: the lease it holds, by its token. */
export interface Fence {
  service: string;
  environment: string;
  token: number;
}

interface LeaseRow {
  service: string;
  environment: string;
  rollout: number;
  holder: string;
  pid: number;
  hostname: string;
  token: number;
  acquired_at: number;
  expires_at: number;
}

const toLease = (r: LeaseRow): Lease => ({
  service: r.service,
  environment: r.environment,
  rollout: r.rollout,
  holder: r.holder,
  pid: r.pid,
  hostname: r.hostname,
  token: r.token,
  acquiredAt: r.acquired_at,
  expiresAt: r.expires_at,
});

export function leaseOf(db: Db, service: string, environment: string): Lease | undefined {
  const row = db.prepare('SELECT * FROM leases WHERE service = ? AND environment = ?').get(service, environment) as LeaseRow | undefined;
  return row && toLease(row);
}

/** The leases one process holds (what a Ctrl-C of that process leaves behind). */
export function leasesHeldBy(db: Db, holder: string): Lease[] {
  return (db.prepare('SELECT * FROM leases WHERE holder = ? ORDER BY service, environment').all(holder) as LeaseRow[]).map(toLease);
}

/** The last fencing token handed out for a service × environment (0: never leased). */
export function lastToken(db: Db, service: string, environment: string): number {
  const row = db.prepare('SELECT last FROM lease_tokens WHERE service = ? AND environment = ?').get(service, environment) as { last: number } | undefined;
  return row?.last ?? 0;
}

function nextToken(db: Db, service: string, environment: string): number {
  const row = db
    .prepare('INSERT INTO lease_tokens (service, environment, last) VALUES (?, ?, 1) ON CONFLICT (service, environment) DO UPDATE SET last = lease_tokens.last + 1 RETURNING last')
    .get(service, environment) as { last: number };
  return row.last;
}

/** Takes the lease when nobody holds it; otherwise returns who does (expired or not: the caller decides). */
export function tryLease(db: Db, claim: Claim, ttlMs: number, now = Date.now()): { taken: Lease } | { held: Lease } {
  return db.transaction((): { taken: Lease } | { held: Lease } => {
    const held = leaseOf(db, claim.service, claim.environment);
    if (held) return { held };
    const lease: Lease = { ...claim, token: nextToken(db, claim.service, claim.environment), acquiredAt: now, expiresAt: now + ttlMs };
    db.prepare('INSERT INTO leases (service, environment, rollout, holder, pid, hostname, token, acquired_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)').run(
      lease.service,
      lease.environment,
      lease.rollout,
      lease.holder,
      lease.pid,
      lease.hostname,
      lease.token,
      lease.acquiredAt,
      lease.expiresAt,
    );
    return { taken: lease };
  }).immediate();
}

/**
 * Takes over the lease `held` (read before) with a new token; undefined when it
 * changed meanwhile (another process took it over or released it first).
 */
export function takeOverLease(db: Db, held: Lease, claim: Claim, ttlMs: number, now = Date.now()): Lease | undefined {
  return db.transaction(() => {
    const current = leaseOf(db, held.service, held.environment);
    if (!current || current.token !== held.token) return undefined;
    const lease: Lease = { ...claim, service: held.service, environment: held.environment, token: nextToken(db, held.service, held.environment), acquiredAt: now, expiresAt: now + ttlMs };
    db.prepare('UPDATE leases SET rollout = ?, holder = ?, pid = ?, hostname = ?, token = ?, acquired_at = ?, expires_at = ? WHERE service = ? AND environment = ? AND token = ?').run(
      lease.rollout,
      lease.holder,
      lease.pid,
      lease.hostname,
      lease.token,
      lease.acquiredAt,
      lease.expiresAt,
      held.service,
      held.environment,
      held.token,
    );
    return lease;
  }).immediate();
}

/** Extends the lease by `ttlMs` from now; false when it is no longer this holder's (taken over, or released). */
export function renewLease(db: Db, lease: Fence & { holder: string }, ttlMs: number, now = Date.now()): boolean {
  const changed = db
    .prepare('UPDATE leases SET expires_at = ? WHERE service = ? AND environment = ? AND holder = ? AND token = ?')
    .run(now + ttlMs, lease.service, lease.environment, lease.holder, lease.token).changes;
  return changed === 1;
}

/** Gives the lease up; a lease taken over since stays with its new holder (false). */
export function dropLease(db: Db, fence: Fence): boolean {
  return db.prepare('DELETE FROM leases WHERE service = ? AND environment = ? AND token = ?').run(fence.service, fence.environment, fence.token).changes === 1;
}

/** A write refused because the rollout's lease has another holder now. */
export class LostLease extends BerthError {
  readonly fence: Fence;
  readonly current: Lease | undefined;

  constructor(message: string, fence: Fence, current: Lease | undefined, fix: string) {
    super('conflict', message, { fix });
    this.fence = fence;
    this.current = current;
  }
}

export function isLostLease(error: unknown): error is LostLease {
  return error instanceof LostLease;
}

export function lostLease(db: Db, fence: Fence, rollout: number): LostLease {
  const current = leaseOf(db, fence.service, fence.environment);
  const who = rollout > 0 ? `rollout #${rollout}` : `the rollout being planned`;
  const to = current ? `berth process ${current.pid} on ${current.hostname}` : 'another berth process, which has released it since';
  const newer = current?.token ?? lastToken(db, fence.service, fence.environment);
  return new LostLease(
    `${who} lost its lease of ${fence.service} in ${fence.environment} to ${to} (fencing token ${fence.token} < ${newer}); it stops here and the holder resumes it`,
    fence,
    current,
    `see where it stands: berth rollout ls, or berth history ${fence.service} --env ${fence.environment}`,
  );
}

/**
 * Runs `write` in one transaction with the check that the lease of the fence's
 * service × environment still has its token; otherwise nothing is written and
 * it throws a `LostLease` naming `rollout` (0: one not recorded yet).
 */
export function fenced<T>(db: Db, fence: Fence, rollout: number, write: () => T): T {
  return db.transaction(() => {
    requireFence(db, fence, rollout);
    return write();
  }).immediate();
}

/** Throws a `LostLease` unless the lease of the fence's service × environment still has its token. */
export function requireFence(db: Db, fence: Fence, rollout: number): void {
  const held = db.prepare('SELECT 1 FROM leases WHERE service = ? AND environment = ? AND token = ?').get(fence.service, fence.environment, fence.token);
  if (held === undefined) throw lostLease(db, fence, rollout);
}
