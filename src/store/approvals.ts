/** Approvals: a promotion to a protected environment waiting for a second token, and how it was decided. */
import type { Db } from './db.js';

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

interface Row {
  id: number;
  service: string;
  environment: string;
  request: string;
  requested_by: string;
  status: ApprovalStatus;
  created_at: number;
  expires_at: number;
  decided_by: string | null;
  decided_at: number | null;
  rollout: number | null;
}

const toRecord = (r: Row): ApprovalRecord => ({
  id: r.id,
  service: r.service,
  environment: r.environment,
  request: JSON.parse(r.request) as Record<string, unknown>,
  requestedBy: r.requested_by,
  status: r.status,
  createdAt: r.created_at,
  expiresAt: r.expires_at,
  decidedBy: r.decided_by,
  decidedAt: r.decided_at,
  rollout: r.rollout,
});

export function insertApproval(db: Db, a: { service: string; environment: string; request: Record<string, unknown>; requestedBy: string; createdAt: number; expiresAt: number }): ApprovalRecord {
  const info = db
    .prepare("INSERT INTO approvals (service, environment, request, requested_by, status, created_at, expires_at) VALUES (?, ?, ?, ?, 'pending', ?, ?)")
    .run(a.service, a.environment, JSON.stringify(a.request), a.requestedBy, a.createdAt, a.expiresAt);
  return approvalById(db, Number(info.lastInsertRowid))!;
}

export function approvalById(db: Db, id: number): ApprovalRecord | undefined {
  const row = db.prepare('SELECT * FROM approvals WHERE id = ?').get(id) as Row | undefined;
  return row && toRecord(row);
}

/** Pending first (oldest first), then the decided ones, newest first. */
export function listApprovals(db: Db, limit = 200): ApprovalRecord[] {
  return (db.prepare("SELECT * FROM approvals ORDER BY status = 'pending' DESC, CASE WHEN status = 'pending' THEN id ELSE -id END LIMIT ?").all(limit) as Row[]).map(toRecord);
}

/** Marks every pending approval whose time is up as expired; returns them. */
export function expireApprovals(db: Db, now: number): ApprovalRecord[] {
  return (db.prepare("UPDATE approvals SET status = 'expired', decided_at = expires_at WHERE status = 'pending' AND expires_at <= ? RETURNING *").all(now) as Row[]).map(toRecord);
}

/** pending → approved|rejected, only if still pending (two deciders at once: one wins). Returns whether it changed. */
export function decideApproval(db: Db, id: number, decision: { status: 'approved' | 'rejected'; by: string; at: number }): boolean {
  return db.prepare("UPDATE approvals SET status = ?, decided_by = ?, decided_at = ? WHERE id = ? AND status = 'pending'").run(decision.status, decision.by, decision.at, id).changes > 0;
}

/** An approval whose promotion was refused before it started goes back to pending, so it can be approved again. */
export function reopenApproval(db: Db, id: number): void {
  db.prepare("UPDATE approvals SET status = 'pending', decided_by = NULL, decided_at = NULL WHERE id = ? AND status = 'approved' AND rollout IS NULL").run(id);
}

export function setApprovalRollout(db: Db, id: number, rollout: number): void {
  db.prepare('UPDATE approvals SET rollout = ? WHERE id = ?').run(rollout, id);
}
