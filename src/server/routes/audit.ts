/** The audit log: its entries (filtered by time and actor) and the verification of its chain. */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { auditEntries, verifyAuditLog } from '../../access/audit.js';
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
    async (request: FastifyRequest<{ Querystring: { since?: string; actor?: string; limit?: number } }>) => ({ entries: await auditEntries(core.db, request.query) }),
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
    async () => await verifyAuditLog(core.db, core.stateDir),
  );
}
