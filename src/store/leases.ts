/**
 * Leases: one per service × environment, held by one process until it expires
 * unless renewed. Each change of holder hands out a new fencing token, larger
 * than any before for that service × environment; a write of a rollout goes
 * through `fenced`, which refuses it in the same transaction once the lease
 * has another token (a holder that stalled past its lease cannot write).
 */
import type { Selectable } from 'kysely';
import { BerthError } from '../errors.js';
import { inTransaction, type Store } from './db.js';
import { isPostgres } from './leader.js';
import type { LeasesTable } from './schema.js';

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
  /** The leader epoch of the server that took it (0: not a leading server: a CLI, or a server alone on SQLite). */
  epoch: number;
}

/** Who asks for a lease, and for which rollout (and under which leader epoch, in a leading server). */
export type Claim = Pick<Lease, 'service' | 'environment' | 'rollout' | 'holder' | 'pid' | 'hostname'> & { epoch?: number };

/**
 * The leadership a server's write is made under (servers sharing a store): its epoch, and whether
 * it still acts (a leader that could not renew in time stops before anyone can take over).
 */
export interface LeaderFence {
  readonly epoch: number;
  acting(): boolean;
}

/** What a write of a rollout carries: the lease it holds, by its token, and in a leading server its leadership. */
export interface Fence {
  service: string;
  environment: string;
  token: number;
  leader?: LeaderFence | undefined;
}

type LeaseRow = Selectable<LeasesTable>;

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
  epoch: r.epoch,
});

export async function leaseOf(db: Store, service: string, environment: string): Promise<Lease | undefined> {
  const row = await db.selectFrom('leases').selectAll().where('service', '=', service).where('environment', '=', environment).executeTakeFirst();
  return row && toLease(row);
}

/** The leases one process holds (what a Ctrl-C of that process leaves behind). */
export async function leasesHeldBy(db: Store, holder: string): Promise<Lease[]> {
  return (await db.selectFrom('leases').selectAll().where('holder', '=', holder).orderBy('service').orderBy('environment').execute()).map(toLease);
}

/** The last fencing token handed out for a service × environment (0: never leased). */
export async function lastToken(db: Store, service: string, environment: string): Promise<number> {
  const row = await db.selectFrom('lease_tokens').select('last').where('service', '=', service).where('environment', '=', environment).executeTakeFirst();
  return row?.last ?? 0;
}

async function nextToken(tx: Store, service: string, environment: string): Promise<number> {
  const row = await tx
    .insertInto('lease_tokens')
    .values({ service, environment, last: 1 })
    .onConflict((oc) => oc.columns(['service', 'environment']).doUpdateSet((eb) => ({ last: eb('lease_tokens.last', '+', 1) })))
    .returning('last')
    .executeTakeFirstOrThrow();
  return row.last;
}

/** Takes the lease when nobody holds it; otherwise returns who does (expired or not: the caller decides). */
export async function tryLease(db: Store, claim: Claim, ttlMs: number, now = Date.now()): Promise<{ taken: Lease } | { held: Lease }> {
  return inTransaction(db, async (tx): Promise<{ taken: Lease } | { held: Lease }> => {
    const held = await leaseOf(tx, claim.service, claim.environment);
    if (held) return { held };
    const lease: Lease = { ...claim, epoch: claim.epoch ?? 0, token: await nextToken(tx, claim.service, claim.environment), acquiredAt: now, expiresAt: now + ttlMs };
    await tx
      .insertInto('leases')
      .values({
        service: lease.service,
        environment: lease.environment,
        rollout: lease.rollout,
        holder: lease.holder,
        pid: lease.pid,
        hostname: lease.hostname,
        token: lease.token,
        acquired_at: lease.acquiredAt,
        expires_at: lease.expiresAt,
        epoch: lease.epoch,
      })
      .execute();
    return { taken: lease };
  });
}

/**
 * Takes over the lease `held` (read before) with a new token; undefined when it
 * changed meanwhile (another process took it over or released it first).
 */
export async function takeOverLease(db: Store, held: Lease, claim: Claim, ttlMs: number, now = Date.now()): Promise<Lease | undefined> {
  return inTransaction(db, async (tx) => {
    const current = await leaseOf(tx, held.service, held.environment);
    if (!current || current.token !== held.token) return undefined;
    const lease: Lease = { ...claim, epoch: claim.epoch ?? 0, service: held.service, environment: held.environment, token: await nextToken(tx, held.service, held.environment), acquiredAt: now, expiresAt: now + ttlMs };
    await tx
      .updateTable('leases')
      .set({ rollout: lease.rollout, holder: lease.holder, pid: lease.pid, hostname: lease.hostname, token: lease.token, acquired_at: lease.acquiredAt, expires_at: lease.expiresAt, epoch: lease.epoch })
      .where('service', '=', held.service)
      .where('environment', '=', held.environment)
      .where('token', '=', held.token)
      .execute();
    return lease;
  });
}

/** Extends the lease by `ttlMs` from now; false when it is no longer this holder's (taken over, or released). */
export async function renewLease(db: Store, lease: Fence & { holder: string }, ttlMs: number, now = Date.now()): Promise<boolean> {
  const result = await db
    .updateTable('leases')
    .set({ expires_at: now + ttlMs })
    .where('service', '=', lease.service)
    .where('environment', '=', lease.environment)
    .where('holder', '=', lease.holder)
    .where('token', '=', lease.token)
    .executeTakeFirst();
  return result.numUpdatedRows === 1n;
}

/** Gives the lease up; a lease taken over since stays with its new holder (false). */
export async function dropLease(db: Store, fence: Fence): Promise<boolean> {
  const result = await db.deleteFrom('leases').where('service', '=', fence.service).where('environment', '=', fence.environment).where('token', '=', fence.token).executeTakeFirst();
  return result.numDeletedRows === 1n;
}

/** A write refused because the rollout's lease has another holder now. */
export class LostLease extends BerthError {
  /** The write's fence; none for a leading server's write outside a service's lease (IPAM's). */
  readonly fence: Fence | undefined;
  readonly current: Lease | undefined;

  constructor(message: string, fence: Fence | undefined, current: Lease | undefined, fix: string) {
    super('conflict', message, { fix });
    this.fence = fence;
    this.current = current;
  }
}

export function isLostLease(error: unknown): error is LostLease {
  return error instanceof LostLease;
}

export async function lostLease(db: Store, fence: Fence, rollout: number): Promise<LostLease> {
  const current = await leaseOf(db, fence.service, fence.environment);
  const who = rollout > 0 ? `rollout #${rollout}` : `the rollout being planned`;
  const to = current ? `berth process ${current.pid} on ${current.hostname}` : 'another berth process, which has released it since';
  const newer = current?.token ?? (await lastToken(db, fence.service, fence.environment));
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
 * it throws a `LostLease` naming `rollout` (0: one not recorded yet). `write`
 * must use only the `tx` it is given (see `inTransaction`).
 */
export function fenced<T>(db: Store, fence: Fence, rollout: number, write: (tx: Store) => Promise<T>): Promise<T> {
  return inTransaction(db, async (tx) => {
    await requireFence(tx, fence, rollout);
    return write(tx);
  });
}

/**
 * Throws a `LostLease` unless the lease of the fence's service × environment still has its token
 * and, for a leading server's write, its leadership still acts and no newer leader epoch exists.
 */
export async function requireFence(db: Store, fence: Fence, rollout: number): Promise<void> {
  if (fence.leader) await requireLeadership(db, fence, fence.leader, rollout);
  const held = await db.selectFrom('leases').select('token').where('service', '=', fence.service).where('environment', '=', fence.environment).where('token', '=', fence.token).executeTakeFirst();
  if (held === undefined) throw await lostLease(db, fence, rollout);
}

/** A write refused because the server making it no longer leads (it stepped down, or a newer leader epoch exists). */
export class LostLeadership extends LostLease {}

async function requireLeadership(db: Store, fence: Fence, leader: LeaderFence, rollout: number): Promise<void> {
  const who = rollout > 0 ? `rollout #${rollout}` : 'the rollout being planned';
  await checkLeadership(db, leader, `${who} of ${fence.service} in ${fence.environment}`, fence);
}

/**
 * A leading server's write that no service lease covers (IPAM's address changes, in the same
 * transaction): refused, as a fenced write is, once this server stopped acting or a newer leader
 * epoch exists. `what` names the write in the refusal.
 */
export async function requireLeaderEpoch(db: Store, leader: LeaderFence, what: string): Promise<void> {
  await checkLeadership(db, leader, what, undefined);
}

async function checkLeadership(db: Store, leader: LeaderFence, what: string, fence: Fence | undefined): Promise<void> {
  const fix = 'the server that leads now resumes it: see berth server status, and berth rollout ls';
  if (!leader.acting()) {
    throw new LostLeadership(`${what} stops: this server stopped leading (leader epoch ${leader.epoch}: its lease was not renewed in time)`, fence, undefined, fix);
  }
  // FOR SHARE on PostgreSQL: a takeover committing at the same time waits for this write, or this write fails (40001), runs again and sees it.
  const read = db.selectFrom('leader').select(['epoch', 'holder']).where('name', '=', 'server');
  const row = await (isPostgres(db) ? read.forShare() : read).executeTakeFirst();
  if (row && row.epoch > leader.epoch) {
    throw new LostLeadership(`${what} was refused: it was made under leader epoch ${leader.epoch}, and server ${row.holder} leads with epoch ${row.epoch} now`, fence, undefined, fix);
  }
}
