/** A host's warden renews its lease: the only route a host token may call, for its own host only. */
import type { FastifyInstance } from 'fastify';
import { renewHostLease } from '../../fleet/warden-lease.js';
import type { ServerCore } from '../core.js';
import { actorOf } from '../request.js';

export async function hostRoutes(app: FastifyInstance, core: ServerCore): Promise<void> {
  app.post<{ Params: { host: string } }>(
    '/hosts/:host/lease',
    {
      config: { access: { level: 'host', environment: (request) => (request.params as { host: string }).host } },
      schema: {
        summary: "renew the host's warden lease (a host token of that host only); 409 when the server holds the host down: its warden stops its instances",
        params: { type: 'object', required: ['host'], properties: { host: { type: 'string' } } },
        response: { 200: { type: 'object', properties: { host: { type: 'string' }, expiresAt: { type: 'string' }, ttlMs: { type: 'integer' } } } },
      },
    },
    async (request) => renewHostLease(await core.run(actorOf(request)), request.params.host),
  );
}
