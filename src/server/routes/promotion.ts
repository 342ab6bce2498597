/** What the promote and approve routes share: the promotion a request asks for, run with the server's hooks, and an approval's shape in answers. */
import type { RunContext } from '../../runtime/context.js';
import type { RolloutOptions } from '../../rollout/executor.js';
import { promote, type PromoteRequest } from '../../requests/promote.js';

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

/** The promotion `request` asks for, as a job of the server (also run once an approval is given, with `approved`). */
export function promotion(service: string, request: PromoteRequest, approved = false) {
  return (run: RunContext, options: RolloutOptions) => promote(run, service, request, { ...options, approved, onCanary: (text) => options.emit?.({ type: 'note', text }) });
}
