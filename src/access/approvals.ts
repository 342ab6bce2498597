/**
 * Approvals (pure): a promotion to a protected environment waits until a
 * different token with rights on that environment approves or rejects it,
 * before it expires.
 */
import { conflict, forbidden, type BerthError } from '../errors.js';
import type { ApprovalRecord } from '../store/approvals.js';
import { mayChange, type Grant } from './roles.js';

export interface Decider extends Grant {
  name: string;
}

export type Decision = 'approve' | 'reject';

const iso = (ms: number) => new Date(ms).toISOString();

export function isExpired(approval: Pick<ApprovalRecord, 'status' | 'expiresAt'>, now: number): boolean {
  return approval.status === 'expired' || (approval.status === 'pending' && now >= approval.expiresAt);
}

/** Why `decider` may not decide `approval` now (undefined: it may). An expired one is `conflict`; the caller marks it expired. */
export function decisionRefusal(approval: ApprovalRecord, decider: Decider, decision: Decision, now: number): BerthError | undefined {
  const what = `approval #${approval.id} (promote ${approval.service} to ${approval.environment})`;
  if (isExpired(approval, now)) {
    return conflict(`${what} expired at ${iso(approval.expiresAt)}, unapproved`, { fix: `ask again: berth promote ${approval.service} --to ${approval.environment}` });
  }
  if (approval.status !== 'pending') {
    return conflict(`${what} was ${approval.status} already${approval.decidedBy ? ` by ${approval.decidedBy}` : ''}${approval.decidedAt !== null ? ` at ${iso(approval.decidedAt)}` : ''}`, {
      fix: approval.rollout !== null ? `follow its rollout: berth rollout show ${approval.rollout}` : 'berth approvals lists the pending ones',
    });
  }
  if (!mayChange(decider, approval.environment)) {
    return forbidden(`token ${decider.name} may not ${decision} ${what}: it has no rights on ${approval.environment}`, { fix: `a token with rights on ${approval.environment} (a deployer for it, or an admin) decides it` });
  }
  if (decider.name === approval.requestedBy) {
    return forbidden(`an approval needs a different token than the one that asked (${approval.requestedBy} asked)`, { fix: `another token with rights on ${approval.environment} decides it: berth ${decision} ${approval.id}` });
  }
  return undefined;
}

/** An approval as the API shows it. */
export function approvalView(a: ApprovalRecord) {
  return {
    id: a.id,
    service: a.service,
    environment: a.environment,
    requestedBy: a.requestedBy,
    status: a.status,
    createdAt: iso(a.createdAt),
    expiresAt: iso(a.expiresAt),
    decidedBy: a.decidedBy,
    decidedAt: a.decidedAt === null ? null : iso(a.decidedAt),
    rollout: a.rollout,
    request: a.request,
  };
}

export type ApprovalView = ReturnType<typeof approvalView>;
