/** GET /v1/status: what runs against what should (berth status), with the drift the reconciler fixes or only reports. */
import type { FastifyInstance } from 'fastify';
import { statusOf } from '../../reconcile/status.js';
import { actorOf } from '../request.js';
import type { ServerCore } from '../core.js';
import { serverStatus } from '../../leader/status.js';

export async function statusRoutes(app: FastifyInstance, core: ServerCore): Promise<void> {
  app.get('/status', { config: { access: { level: 'read' } }, schema: { summary: 'each service × environment: release, replicas, running, healthy, drift' } }, async (request) => statusOf(await core.run(actorOf(request))));
  app.get('/server/status', { config: { access: { level: 'read' } }, schema: { summary: 'the servers seen in the last minute, which one leads (epoch, since, lease end), and the store (kind, schema version)' } }, async () =>
    serverStatus(core.db, core.leadership?.id ?? 'this server'),
  );
}
