/**
 * The flow of an approval: a promotion to a protected environment is asked
 * for (pending), then approved or rejected by a different token with rights on
 * that environment, or expires. Approving starts the promotion as it was asked;
 * refused before it started, the approval is pending again. Every change is
 * announced as an event.
 */
import type { EnvironmentSpec } from '../config/model.js';
import { notFound } from '../errors.js';
import { approvalById, decideApproval, expireApprovals, insertApproval, listApprovals, reopenApproval, setApprovalRollout, type ApprovalRecord } from '../store/approvals.js';
import { approvalView, decisionRefusal, type ApprovalView, type Decider, type Decision } from './approvals.js';
import type { EventSink } from './audit.js';
import type { Store } from '../store/db.js';

/** Records a pending approval for the promotion `request` (as asked) and announces it. */
export async function askApproval(db: Store, events: EventSink, ask: { service: string; environment: EnvironmentSpec; request: object; requestedBy: string }, now = Date.now()): Promise<ApprovalView> {
  const approval = await insertApproval(db, { service: ask.service, environment: ask.environment.name, request: ask.request as Record<string, unknown>, requestedBy: ask.requestedBy, createdAt: now, expiresAt: now + ask.environment.approvalTimeoutMs });
  const view = approvalView(approval);
  await events.publish('approval-requested', view);
  return view;
}

/** Marks the approvals past their time expired, and announces each. */
async function expire(db: Store, events: EventSink, now: number): Promise<void> {
  for (const a of await expireApprovals(db, now)) await events.publish('approval-expired', approvalView(a));
}

/** The approvals: pending first, then the decided ones, newest first (the expired marked so first). */
export async function approvalsNow(db: Store, events: EventSink, now = Date.now()): Promise<ApprovalView[]> {
  await expire(db, events, now);
  return (await listApprovals(db)).map(approvalView);
}

/** The environment approval `id` would promote to (its decider needs rights there); undefined when there is none. */
export async function environmentOfApproval(db: Store, id: number): Promise<string | undefined> {
  return (await approvalById(db, id))?.environment;
}

/**
 * What approving runs: `start` starts the promotion of `approval`, and calls
 * `started` with its rollout once it runs, which records the rollout,
 * announces the approval and gives its view.
 */
export type StartPromotion<T> = (approval: ApprovalRecord, started: (rollout: number) => Promise<ApprovalView>) => Promise<T>;

/** Decides approval `id` as `decider` (`by`: the actor). Rejected: its view; approved: what `start` returned. */
export async function decideOn<T>(db: Store, events: EventSink, decision: { id: number; decision: Decision; decider: Decider; by: string }, start: StartPromotion<T>, now = Date.now()): Promise<{ rejected: ApprovalView } | { started: T }> {
  await expire(db, events, now);
  const approval = await approvalById(db, decision.id);
  if (!approval) throw notFound(`approval #${decision.id} does not exist`, { fix: 'berth approvals lists them' });
  const refusal = decisionRefusal(approval, decision.decider, decision.decision, now);
  if (refusal) throw refusal;
  if (!await decideApproval(db, approval.id, { status: decision.decision === 'approve' ? 'approved' : 'rejected', by: decision.by, at: now })) {
    throw decisionRefusal((await approvalById(db, approval.id))!, decision.decider, decision.decision, now)!;
  }
  if (decision.decision === 'reject') {
    const view = approvalView((await approvalById(db, approval.id))!);
    await events.publish('approval-rejected', view);
    return { rejected: view };
  }
  try {
    return {
      started: await start(approval, async (rollout) => {
        await setApprovalRollout(db, approval.id, rollout);
        const view = approvalView((await approvalById(db, approval.id))!);
        await events.publish('approval-approved', view);
        return view;
      }),
    };
  } catch (error) {
    // Refused before it started (e.g. nothing runs in the stage before): the request still waits, to be approved once that is fixed.
    await reopenApproval(db, approval.id);
    throw error;
  }
}
