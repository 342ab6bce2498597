/**
 * Rollouts started over HTTP: release, promote, rollback, scale, canary
 * promote|abort. Each runs in the server (jobs.ts) through the same core
 * function the CLI calls in-process; the answer is 202 with the rollout's id
 * once it is journaled (follow it on /v1/events?rollout=ID), or 200 with the
 * result when it ended before that (nothing to do).
 */
import type { RunContext } from '../../runtime/context.js';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { environmentOf, serviceOf } from '../../runtime/context.js';
import { canaryAbort, canaryPromote, promoteService, releaseService, rollbackService, scaleService } from '../../release/operations.js';
import type { RolloutOptions, RolloutResult } from '../../rollout/executor.js';
import { recordPush, lastPushOf, type PushRecord } from '../../store/pushes.js';
import { actorOf } from '../app.js';
import type { ServerCore } from '../core.js';
import type { JobHooks, Started } from '../jobs.js';
import { approvalSchema, askApproval } from './approval-ask.js';

type Req = FastifyRequest<{ Params: { service: string }; Body: Record<string, unknown> }>;

const serviceParams = { type: 'object', required: ['service'], properties: { service: { type: 'string' } } } as const;
/** The body field every rollout route takes, and how it becomes the rollout's option. */
export const timeoutMs = { type: 'integer', minimum: 1000, maximum: 86_400_000, description: 'per instance, until healthy' } as const;
export const pushSchema = {
  type: 'object',
  description: 'the push of the build (from the client that pushed it): the server records it so hosts pull it by digest',
  required: ['registry', 'repository', 'tag', 'digest', 'image', 'key', 'imageId', 'size', 'pushedAt'],
  properties: { registry: { type: 'string' }, repository: { type: 'string' }, tag: { type: 'string' }, digest: { type: 'string', pattern: '^sha256:[0-9a-f]{64}$' }, image: { type: 'string' }, key: { type: 'string' }, imageId: { type: 'string' }, size: { type: 'integer' }, pushedAt: { type: 'integer' } },
} as const;

const rolloutAnswer = {
  202: { type: 'object', description: 'journaled and running in the server', properties: { rollout: { type: 'integer' }, events: { type: 'string' } } },
} as const;

export const envFrom = (key: string) => (request: FastifyRequest) => (request.body as Record<string, unknown> | undefined)?.[key] as string | undefined;

/** Starts a rollout in the server and answers for it; `more` adds to the answer (and sees how it started). */
export async function startRollout<R = RolloutResult>(
  core: ServerCore,
  request: FastifyRequest,
  reply: FastifyReply,
  work: (run: RunContext, hooks: JobHooks) => Promise<R>,
  more: (started: Started<R>) => Record<string, unknown> | Promise<Record<string, unknown>> = () => ({}),
): Promise<FastifyReply> {
  const run = await core.run(actorOf(request));
  const started = await core.jobs.start<R>(actorOf(request), (hooks) => work(run, hooks));
  if (started.kind === 'finished') return reply.status(200).send({ result: started.result, progress: started.progress, ...(await more(started)) });
  return reply.status(202).send({ rollout: started.rollout, events: `/v1/events?rollout=${started.rollout}`, ...(await more(started)) });
}

export const timeoutOf = (body: Record<string, unknown>): Pick<RolloutOptions, 'timeoutMs'> => (typeof body.timeoutMs === 'number' ? { timeoutMs: body.timeoutMs } : {});

/** The promotion a request body asks for (also run once an approval is given, with `approved`). */
export function promotion(service: string, b: Record<string, unknown>, approved = false) {
  return (run: RunContext, options: RolloutOptions) =>
    promoteService(run, service, b.to as string, {
      ...timeoutOf(b),
      ...options,
      ...(typeof b.from === 'string' ? { from: b.from } : {}),
      ...(typeof b.canary === 'number' ? { canary: b.canary } : {}),
      ...(typeof b.watchMs === 'number' ? { watchMs: b.watchMs } : {}),
      manual: b.manual === true,
      force: b.force === true,
      approved,
      onCanary: (text) => options.emit?.({ type: 'note', text }),
    });
}

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
    async (request: Req, reply) => {
      const body = request.body;
      const push = body.push as PushRecord | undefined;
      if (push && !await lastPushOf(core.db, { digest: push.digest })) await recordPush(core.db, push);
      const image = (body.image as string | undefined) ?? push?.digest;
      return startRollout(core, request, reply, (run, options) =>
        releaseService(run, request.params.service, body.environment as string, { ...timeoutOf(body), ...options, force: body.force === true, ...(image !== undefined ? { image } : {}) }),
      );
    },
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
    async (request: Req, reply) => {
      serviceOf(await core.project(), request.params.service);
      const target = environmentOf(await core.project(), request.body.to as string);
      if (target.protected) return reply.status(202).send({ approval: await askApproval(core, request, target) });
      return startRollout(core, request, reply, promotion(request.params.service, request.body));
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
    async (request: Req, reply) => {
      const b = request.body;
      return startRollout(core, request, reply, (run, options) => rollbackService(run, request.params.service, b.environment as string, { ...timeoutOf(b), ...options, force: b.force === true, ...(typeof b.to === 'number' ? { to: b.to } : {}) }));
    },
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
    async (request: Req, reply) => {
      const b = request.body;
      return startRollout(core, request, reply, (run, options) => scaleService(run, request.params.service, b.environment as string, b.replicas as number, { ...timeoutOf(b), ...options, force: b.force === true }));
    },
  );

  app.post<{ Params: { service: string; decision: 'promote' | 'abort' }; Body: Record<string, unknown> }>(
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
    async (request, reply) => {
      const b = request.body;
      const { service, decision } = request.params;
      return startRollout(core, request, reply, (run, options) => (decision === 'promote' ? canaryPromote(run, service, b.environment as string, { ...timeoutOf(b), ...options }) : canaryAbort(run, service, b.environment as string, { ...timeoutOf(b), ...options })));
    },
  );
}
