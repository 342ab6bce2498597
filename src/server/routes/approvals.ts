/**
 * Approvals: a promotion to a protected environment is asked for (the promote
 * route answers with the pending approval instead of a rollout), then approved
 * or rejected by a different token with rights on that environment. Approving
 * starts the promotion as it was asked, with the approver as the actor.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { approvalsNow, decideOn, environmentOfApproval } from '../../access/approval-flow.js';
import type { Decision } from '../../access/approvals.js';
import { promoteRequest } from '../../requests/promote.js';
import type { ServerCore } from '../core.js';
import { actorOf } from '../request.js';
import { approvalSchema, promotion } from './promotion.js';
import { startRollout } from './rollout-route.js';

const idParams = { type: 'object', required: ['id'], properties: { id: { type: 'integer', minimum: 1 } } } as const;
type IdReq = FastifyRequest<{ Params: { id: number } }>;

export async function approvalRoutes(app: FastifyInstance, core: ServerCore): Promise<void> {
  const environment = (request: FastifyRequest) => environmentOfApproval(core.db, (request.params as { id: number }).id);

  app.get('/approvals', { config: { access: { level: 'read' } }, schema: { summary: 'the approvals: pending first, then the decided ones, newest first' } }, async () => ({ approvals: await approvalsNow(core.db, core.events) }));

  const decide = (decision: Decision) => async (request: IdReq, reply: FastifyReply) => {
    const outcome = await decideOn(core.db, core.events, { id: request.params.id, decision, decider: request.token!, by: actorOf(request) }, (approval, started) =>
      startRollout(core, request, reply, promotion(approval.service, promoteRequest(approval.request), true), async (s) => ({ approval: await started(s.kind === 'started' ? s.rollout : s.result.rollout) })),
    );
    return 'rejected' in outcome ? reply.status(200).send({ approval: outcome.rejected }) : outcome.started;
  };

  const decisionRoute = (decision: Decision, summary: string) =>
    app.post(
      `/approvals/:id/${decision}`,
      {
        config: { access: { level: 'deploy', environment } },
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
