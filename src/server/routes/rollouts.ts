/** The rollouts: the open ones, one with its journal, cancelling a running one, abandoning an interrupted one. */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { abandonRollout } from '../../rollout/abandon.js';
import { environmentOfRollout, findRollout, openRolloutViews } from '../../release/rollout-lookup.js';
import { rolloutView } from '../../rollout/rollout-view.js';
import { actorOf } from '../request.js';
import type { ServerCore } from '../core.js';

const idParams = { type: 'object', required: ['id'], properties: { id: { type: 'integer', minimum: 1 } } } as const;
type IdReq = FastifyRequest<{ Params: { id: number } }>;

export async function rolloutRoutes(app: FastifyInstance, core: ServerCore): Promise<void> {
  const environment = (request: FastifyRequest) => environmentOfRollout(core.db, (request.params as { id: number }).id);
  const find = (id: number) => findRollout(core.db, id);

  app.get('/rollouts', { config: { access: { level: 'read' } }, schema: { summary: 'the rollouts still open (running, interrupted, canary)' } }, async () => ({ rollouts: await openRolloutViews(core.db) }));
  app.get('/rollouts/:id', { config: { access: { level: 'read' } }, schema: { summary: 'one rollout and its steps', params: idParams } }, async (request: IdReq) => await rolloutView(core.db, await find(request.params.id)));
  app.post(
    '/rollouts/:id/cancel',
    { config: { access: { level: 'deploy', environment } }, schema: { summary: 'stop a running rollout before its next step; it rolls back to what ran before', params: idParams } },
    async (request: IdReq, reply) => {
      const r = await find(request.params.id);
      core.jobs.cancel(r.id, actorOf(request));
      return reply.status(202).send({ rollout: r.id, cancelling: true, events: `/v1/events?rollout=${r.id}` });
    },
  );
  app.post(
    '/rollouts/:id/abandon',
    { config: { access: { level: 'deploy', environment } }, schema: { summary: 'end an interrupted rollout, putting back what ran', params: idParams } },
    async (request: IdReq) => {
      const r = await find(request.params.id);
      return abandonRollout(await core.run(actorOf(request)), r.id, {});
    },
  );
}
