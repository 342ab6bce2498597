/**
 * Rollouts started over HTTP: release, promote, rollback, scale, canary
 * promote|abort. Each runs in the server (jobs.ts) through the same core
 * function the CLI calls in-process; the answer is 202 with the rollout's id
 * once it is journaled (follow it on /v1/events?rollout=ID), or 200 with the
 * result when it ended before that (nothing to do).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { askApproval } from '../../access/approval-flow.js';
import { environmentOf, serviceOf } from '../../runtime/context.js';
import { decideCanary, type CanaryRequest } from '../../requests/canary.js';
import type { PromoteRequest } from '../../requests/promote.js';
import { release, type ReleaseRequest } from '../../requests/release.js';
import { rollback, type RollbackRequest } from '../../requests/rollback.js';
import { scale, type ScaleRequest } from '../../requests/scale.js';
import type { ServerCore } from '../core.js';
import { actorOf } from '../request.js';
import { approvalSchema, promotion } from './promotion.js';
import { envFrom, pushSchema, rolloutAnswer, startRollout, timeoutMs } from './rollout-route.js';

const serviceParams = { type: 'object', required: ['service'], properties: { service: { type: 'string' } } } as const;

export async function releaseRoutes(app: FastifyInstance, core: ServerCore): Promise<void> {
  app.post(
    '/services/:service/releases',
    {
      config: { access: { level: 'deploy', environment: envFrom('environment') } },
      schema: {
        summary: 'release a build (by digest) with the applied settings into the first environment of the pipeline',
        params: serviceParams,
        body: { type: 'object', required: ['environment'], additionalProperties: false, properties: { environment: { type: 'string' }, image: { type: 'string', description: 'digest, image ID or tag' }, push: pushSchema, force: { type: 'boolean' }, timeoutMs } },
        response: rolloutAnswer,
      },
    },
    async (request: FastifyRequest<{ Params: { service: string }; Body: ReleaseRequest }>, reply) =>
      startRollout(core, request, reply, (run, options) => release(run, request.params.service, request.body, options)),
  );

  app.post(
    '/services/:service/promotions',
    {
      config: { access: { level: 'deploy', environment: envFrom('to') } },
      schema: {
        summary: 'promote the release an environment runs (same digest, same settings) to the next, rolling or as a canary',
        params: serviceParams,
        body: {
          type: 'object',
          required: ['to'],
          additionalProperties: false,
          properties: { to: { type: 'string' }, from: { type: 'string' }, canary: { type: 'number', exclusiveMinimum: 0, maximum: 1 }, manual: { type: 'boolean' }, watchMs: { type: 'integer', minimum: 0 }, force: { type: 'boolean' }, timeoutMs },
        },
        response: { 202: { ...rolloutAnswer[202], description: 'journaled and running in the server; or, to a protected environment, the approval it waits for', properties: { ...rolloutAnswer[202].properties, approval: approvalSchema } } },
      },
    },
    async (request: FastifyRequest<{ Params: { service: string }; Body: PromoteRequest }>, reply) => {
      const { service } = request.params;
      serviceOf(await core.project(), service);
      const target = environmentOf(await core.project(), request.body.to);
      if (target.protected) return reply.status(202).send({ approval: await askApproval(core.db, core.events, { service, environment: target, request: request.body, requestedBy: actorOf(request) }) });
      return startRollout(core, request, reply, promotion(service, request.body));
    },
  );

  app.post(
    '/services/:service/rollbacks',
    {
      config: { access: { level: 'deploy', environment: envFrom('environment') } },
      schema: {
        summary: 'roll an environment back to the release it ran before, or to a given one',
        params: serviceParams,
        body: { type: 'object', required: ['environment'], additionalProperties: false, properties: { environment: { type: 'string' }, to: { type: 'integer', minimum: 1 }, force: { type: 'boolean' }, timeoutMs } },
        response: rolloutAnswer,
      },
    },
    async (request: FastifyRequest<{ Params: { service: string }; Body: RollbackRequest }>, reply) =>
      startRollout(core, request, reply, (run, options) => rollback(run, request.params.service, request.body, options)),
  );

  app.post(
    '/services/:service/scale',
    {
      config: { access: { level: 'deploy', environment: envFrom('environment') } },
      schema: {
        summary: 'set the number of instances of a service in an environment',
        params: serviceParams,
        body: { type: 'object', required: ['environment', 'replicas'], additionalProperties: false, properties: { environment: { type: 'string' }, replicas: { type: 'integer', minimum: 0 }, force: { type: 'boolean' }, timeoutMs } },
        response: rolloutAnswer,
      },
    },
    async (request: FastifyRequest<{ Params: { service: string }; Body: ScaleRequest }>, reply) =>
      startRollout(core, request, reply, (run, options) => scale(run, request.params.service, request.body, options)),
  );

  app.post<{ Params: { service: string; decision: 'promote' | 'abort' }; Body: CanaryRequest }>(
    '/services/:service/canary/:decision',
    {
      config: { access: { level: 'deploy', environment: envFrom('environment') } },
      schema: {
        summary: 'decide an open canary by hand',
        params: { type: 'object', required: ['service', 'decision'], properties: { service: { type: 'string' }, decision: { type: 'string', enum: ['promote', 'abort'] } } },
        body: { type: 'object', required: ['environment'], additionalProperties: false, properties: { environment: { type: 'string' }, timeoutMs } },
        response: rolloutAnswer,
      },
    },
    async (request, reply) => startRollout(core, request, reply, (run, options) => decideCanary(run, request.params.service, request.params.decision, request.body, options)),
  );
}
