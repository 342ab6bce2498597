/**
 * POST /v1/services/:service/deployments: `berth deploy` run in the server
 * (Run's all-at-once deploy, no front door), answered once journaled; its
 * progress (the deploy's own events) and its result go to the event stream.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { DeployEvent } from '../../release/deploy.js';
import { deploy, type DeployRequest } from '../../requests/deploy.js';
import type { ServerCore } from '../core.js';
import { envFrom, pushSchema, startRollout, timeoutMs } from './rollout-route.js';

export async function deploymentRoutes(app: FastifyInstance, core: ServerCore): Promise<void> {
  app.post(
    '/services/:service/deployments',
    {
      config: { access: { level: 'deploy', environment: envFrom('environment') } },
      schema: {
        summary: "create or replace a service's instances in an environment (no front door) and wait until they are healthy",
        params: { type: 'object', required: ['service'], properties: { service: { type: 'string' } } },
        body: {
          type: 'object',
          required: ['environment'],
          additionalProperties: false,
          properties: {
            environment: { type: 'string' },
            image: { type: 'string', description: 'digest, image ID or tag' },
            push: pushSchema,
            force: { type: 'boolean' },
            concurrency: { type: 'integer', minimum: 1, maximum: 256 },
            timeoutMs,
          },
        },
        response: { 202: { type: 'object', properties: { rollout: { type: 'integer' }, events: { type: 'string' } } } },
      },
    },
    async (request: FastifyRequest<{ Params: { service: string }; Body: DeployRequest }>, reply) =>
      startRollout(core, request, reply, (run, hooks) =>
        deploy(run, request.params.service, request.body, {
          privileged: request.token?.role === 'admin',
          onEvent: (event: DeployEvent) => hooks.emit(event),
          onJournaled: hooks.onJournaled,
          signal: hooks.signal,
        }),
      ),
  );
}
