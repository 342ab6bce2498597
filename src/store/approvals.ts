/** Approvals: a promotion to a protected environment waiting for a second token, and how it was decided. */
import type { Selectable } from 'kysely';
import type { Store } from './db.js';
import type { ApprovalsTable } from './schema.js';

export type ApprovalStatus = 'pending' | 'approved' | 'rejected' | 'expired';

export interface ApprovalRecord {
  id: number;
  service: string;
  environment: string;
  /** The promotion's request body, as the requester sent it. */
  request: Record<string, unknown>;
  requestedBy: string;
  status: ApprovalStatus;
  createdAt: number;
  expiresAt: number;
  decidedBy: string | null;
  decidedAt: number | null;
  rollout: number | null;
}

type Row = Selectable<ApprovalsTable>;

const toRecord = (r: Row): ApprovalRecord => ({
  id: r.id,
  service: r.service,
  environment: r.environment,
  request: JSON.parse(r.request) as Record<string, unknown>,
  requestedBy: r.requested_by,
  status: r.status as ApprovalStatus,
  createdAt: r.created_at,
  expiresAt: r.expires_at,
  decidedBy: r.decided_by,
  decidedAt: r.decided_at,
  rollout: r.rollout,
});

export async function insertApproval(db: Store, a: { service: string; environment: string; request: Record<string, unknown>; requestedBy: string; createdAt: number; expiresAt: number }): Promise<ApprovalRecord> {
  const row = await db
    .insertInto('approvals')
    .values({ service: a.service, environment: a.environment, request: JSON.stringify(a.request), requested_by: a.requestedBy, status: 'pending', created_at: a.createdAt, expires_at: a.expiresAt })
    .returningAll()
    .executeTakeFirstOrThrow();
  return toRecord(row);
}

export async function approvalById(db: Store, id: number): Promise<ApprovalRecord | undefined> {
  const row = await db.selectFrom('approvals').selectAll().where('id', '=', id).executeTakeFirst();
  return row && toRecord(row);
}

/** Pending first (oldest first), then the decided ones, newest first. */
export async function listApprovals(db: Store, limit = 200): Promise<ApprovalRecord[]> {
  const rows = await db
    .selectFrom('approvals')
    .selectAll()
    .orderBy((eb) => eb.case().when('status', '=', 'pending').then(0).else(1).end())
    .orderBy((eb) => eb.case().when('status', '=', 'pending').then(eb.ref('id')).else(eb.neg(eb.ref('id'))).end())
    .limit(limit)
    .execute();
  return rows.map(toRecord);
}

/** Marks every pending approval whose time is up as expired; returns them. */
export async function expireApprovals(db: Store, now: number): Promise<ApprovalRecord[]> {
  const rows = await db
    .updateTable('approvals')
    .set((eb) => ({ status: 'expired', decided_at: eb.ref('expires_at') }))
    .where('status', '=', 'pending')
    .where('expires_at', '<=', now)
    .returningAll()
    .execute();
  return rows.map(toRecord);
}

/** pending → approved|rejected, only if still pending (two deciders at once: one wins). Returns whether it changed. */
export async function decideApproval(db: Store, id: number, decision: { status: 'approved' | 'rejected'; by: string; at: number }): Promise<boolean> {
  const result = await db
    .updateTable('approvals')
    .set({ status: decision.status, decided_by: decision.by, decided_at: decision.at })
    .where('id', '=', id)
    .where('status', '=', 'pending')
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

/** An approval whose promotion was refused before it started goes back to pending, so it can be approved again. */
export async function reopenApproval(db: Store, id: number): Promise<void> {
  await db
    .updateTable('approvals')
    .set({ status: 'pending', decided_by: null, decided_at: null })
    .where('id', '=', id)
    .where('status', '=', 'approved')
    .where('rollout', 'is', null)
    .execute();
}

export async function setApprovalRollout(db: Store, id: number, rollout: number): Promise<void> {
  await db.updateTable('approvals').set({ rollout }).where('id', '=', id).execute();
}
