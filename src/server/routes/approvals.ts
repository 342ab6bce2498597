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

async function expire(core: ServerCore, now: number): Promise<void> {
  for (const a of await expireApprovals(core.db, now)) await core.events.publish('approval-expired', approvalView(a));
}

export async function approvalRoutes(app: FastifyInstance, core: ServerCore): Promise<void> {
  const environmentOfApproval = async (request: FastifyRequest) => (await approvalById(core.db, (request.params as { id: number }).id))?.environment;

  app.get('/approvals', { config: { access: { level: 'read' } }, schema: { summary: 'the approvals: pending first, then the decided ones, newest first' } }, async () => {
    await expire(core, Date.now());
    return { approvals: (await listApprovals(core.db)).map(approvalView) };
  });

  const decide = (decision: Decision) => async (request: IdReq, reply: FastifyReply) => {
    const now = Date.now();
    await expire(core, now);
    const approval = await approvalById(core.db, request.params.id);
    if (!approval) throw notFound(`approval #${request.params.id} does not exist`, { fix: 'berth approvals lists them' });
    const refusal = decisionRefusal(approval, request.token!, decision, now);
    if (refusal) throw refusal;
    const by = actorOf(request);
    if (!await decideApproval(core.db, approval.id, { status: decision === 'approve' ? 'approved' : 'rejected', by, at: now })) {
      throw decisionRefusal((await approvalById(core.db, approval.id))!, request.token!, decision, now)!;
    }
    if (decision === 'reject') {
      const view = approvalView((await approvalById(core.db, approval.id))!);
      await core.events.publish('approval-rejected', view);
      return reply.status(200).send({ approval: view });
    }
    try {
      return await startRollout(core, request, reply, promotion(approval.service, approval.request, true), async (started) => {
        await setApprovalRollout(core.db, approval.id, started.kind === 'started' ? started.rollout : started.result.rollout);
        const view = approvalView((await approvalById(core.db, approval.id))!);
        await core.events.publish('approval-approved', view);
        return { approval: view };
      });
    } catch (error) {
      // Refused before it started (e.g. nothing runs in the stage before): the request still waits, to be approved once that is fixed.
      await reopenApproval(core.db, approval.id);
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
