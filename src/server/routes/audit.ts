/** The audit log: its entries (filtered by time and actor) and the verification of its chain. */
import { readAuditHead } from '../../access/audit-head.js';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { auditView, sinceInstant, verifyChain } from '../../access/audit.js';
import { auditRows, everyAuditRow } from '../../store/audit.js';
import type { ServerCore } from '../core.js';

const read = { access: { level: 'read' as const } };

const entrySchema = {
  type: 'object',
  properties: { seq: { type: 'integer' }, at: { type: 'string' }, actor: { type: 'string' }, action: { type: 'string' }, target: { type: 'string' }, outcome: { type: 'string' }, params: { type: 'object', additionalProperties: true }, hash: { type: 'string' } },
} as const;

export async function auditRoutes(app: FastifyInstance, core: ServerCore): Promise<void> {
  app.get(
    '/audit',
    {
      config: read,
      schema: {
        summary: 'the audit log, oldest first: every mutating request (allowed or refused) and every action of the reconciler',
        querystring: { type: 'object', additionalProperties: false, properties: { since: { type: 'string', description: 'a duration back from now (1h, 7d) or an ISO date' }, actor: { type: 'string' }, limit: { type: 'integer', minimum: 1, maximum: 100_000, description: 'the newest N entries' } } },
        response: { 200: { type: 'object', properties: { entries: { type: 'array', items: entrySchema } } } },
      },
    },
    async (request: FastifyRequest<{ Querystring: { since?: string; actor?: string; limit?: number } }>) => {
      const { since, actor, limit } = request.query;
      const rows = await auditRows(core.db, { ...(since !== undefined ? { since: sinceInstant(since) } : {}), ...(actor !== undefined ? { actor } : {}), limit: limit ?? 1000 });
      return { entries: rows.map(auditView) };
    },
  );
  app.get(
    '/audit/verify',
    {
      config: read,
      schema: {
        summary: "checks the audit log's hash chain: ok with the number of entries, or the first entry that does not match",
        response: { 200: { type: 'object', properties: { ok: { type: 'boolean' }, count: { type: 'integer' }, seq: { type: 'integer' }, reason: { type: 'string' } } } },
      },
    },
    async () => await verifyChain(everyAuditRow(core.db), readAuditHead(core.stateDir)),
  );
}
