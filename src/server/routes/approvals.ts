/**
 * Approvals: a promotion to a protected environment is asked for (the promote
 * route answers with the pending approval instead of a rollout), then approved
 * or rejected by a different token with rights on that environment. Approving
 * starts the promotion as it was asked, with the approver as the actor.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { approvalView, decisionRefusal, type Decision } from '../../access/approvals.js';
import { notFound } from '../../errors.js';
import { approvalById, decideApproval, expireApprovals, listApprovals, reopenApproval, setApprovalRollout } from '../../store/approvals.js';
import { actorOf } from '../app.js';
import type { ServerCore } from '../core.js';
import { approvalSchema } from './approval-ask.js';
import { promotion, startRollout } from './releases.js';

const idParams = { type: 'object', required: ['id'], properties: { id: { type: 'integer', minimum: 1 } } } as const;
type IdReq = FastifyRequest<{ Params: { id: number } }>;

function expire(core: ServerCore, now: number): void {
  for (const a of expireApprovals(core.db, now)) core.events.publish('approval-expired', approvalView(a));
}

export async function approvalRoutes(app: FastifyInstance, core: ServerCore): Promise<void> {
  const environmentOfApproval = (request: FastifyRequest) => approvalById(core.db, (request.params as { id: number }).id)?.environment;

  app.get('/approvals', { config: { access: { level: 'read' } }, schema: { summary: 'the approvals: pending first, then the decided ones, newest first' } }, async () => {
    expire(core, Date.now());
    return { approvals: listApprovals(core.db).map(approvalView) };
  });

  const decide = (decision: Decision) => async (request: IdReq, reply: FastifyReply) => {
    const now = Date.now();
    expire(core, now);
    const approval = approvalById(core.db, request.params.id);
    if (!approval) throw notFound(`approval #${request.params.id} does not exist`, { fix: 'berth approvals lists them' });
    const refusal = decisionRefusal(approval, request.token!, decision, now);
    if (refusal) throw refusal;
    const by = actorOf(request);
    if (!decideApproval(core.db, approval.id, { status: decision === 'approve' ? 'approved' : 'rejected', by, at: now })) {
      throw decisionRefusal(approvalById(core.db, approval.id)!, request.token!, decision, now)!;
    }
    if (decision === 'reject') {
      const view = approvalView(approvalById(core.db, approval.id)!);
      core.events.publish('approval-rejected', view);
      return reply.status(200).send({ approval: view });
    }
    try {
      return await startRollout(core, request, reply, promotion(approval.service, approval.request, true), (started) => {
        setApprovalRollout(core.db, approval.id, started.kind === 'started' ? started.rollout : started.result.rollout);
        const view = approvalView(approvalById(core.db, approval.id)!);
        core.events.publish('approval-approved', view);
        return { approval: view };
      });
    } catch (error) {
      // Refused before it started (e.g. nothing runs in the stage before): the request still waits, to be approved once that is fixed.
      reopenApproval(core.db, approval.id);
      throw error;
    }
  };

  const decisionRoute = (decision: Decision, summary: string) =>
    app.post(
      `/approvals/:id/${decision}`,
      {
        config: { access: { level: 'deploy', environment: environmentOfApproval } },
        schema: {
          summary,
          params: idParams,
          response: {
            202: { type: 'object', description: 'approved: the promotion is journaled and running', properties: { rollout: { type: 'integer' }, events: { type: 'string' }, approval: approvalSchema } },
            200: { type: 'object', properties: { approval: approvalSchema, result: { type: 'object', additionalProperties: true } } },
          },
        },
      },
      decide(decision),
    );
  decisionRoute('approve', 'approve a pending promotion (by a different token than the one that asked, with rights on its environment): it starts');
  decisionRoute('reject', 'reject a pending promotion (by a different token than the one that asked, with rights on its environment)');
}
