/** What the promote route needs of approvals: asking for one, and its shape in answers. */
import type { FastifyRequest } from 'fastify';
import { approvalView } from '../../access/approvals.js';
import type { EnvironmentSpec } from '../../config/model.js';
import { insertApproval } from '../../store/approvals.js';
import { actorOf } from '../app.js';
import type { ServerCore } from '../core.js';

export const approvalSchema = {
  type: 'object',
  properties: {
    id: { type: 'integer' },
    service: { type: 'string' },
    environment: { type: 'string' },
    requestedBy: { type: 'string' },
    status: { type: 'string', enum: ['pending', 'approved', 'rejected', 'expired'] },
    createdAt: { type: 'string' },
    expiresAt: { type: 'string' },
    decidedBy: { type: ['string', 'null'] },
    decidedAt: { type: ['string', 'null'] },
    rollout: { type: ['integer', 'null'] },
    request: { type: 'object', additionalProperties: true },
  },
} as const;

/** Records a pending approval for the promotion `request` asks for. */
export async function askApproval(core: ServerCore, request: FastifyRequest<{ Params: { service: string }; Body: Record<string, unknown> }>, environment: EnvironmentSpec, now = Date.now()) {
  const approval = await insertApproval(core.db, { service: request.params.service, environment: environment.name, request: request.body, requestedBy: actorOf(request), createdAt: now, expiresAt: now + environment.approvalTimeoutMs });
  const view = approvalView(approval);
  await core.events.publish('approval-requested', view);
  return view;
}
