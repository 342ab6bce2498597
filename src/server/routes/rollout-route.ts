/**
 * What every rollout route shares: the timeout and push fields of its body,
 * the environment its access rule reads, and how it starts the rollout in the
 * server and answers (202 once journaled, 200 with the result when it ended
 * before that).
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { RunContext } from '../../runtime/context.js';
import type { RolloutResult } from '../../rollout/executor.js';
import type { ServerCore } from '../core.js';
import type { JobHooks, Started } from '../jobs.js';
import { actorOf } from '../request.js';

/** The body field every rollout route takes (requests/timeout.ts makes it the rollout's option). */
export const timeoutMs = { type: 'integer', minimum: 1000, maximum: 86_400_000, description: 'per instance, until healthy' } as const;

export const pushSchema = {
  type: 'object',
  description: 'the push of the build (from the client that pushed it): the server records it so hosts pull it by digest',
  required: ['registry', 'repository', 'tag', 'digest', 'image', 'key', 'imageId', 'size', 'pushedAt'],
  properties: { registry: { type: 'string' }, repository: { type: 'string' }, tag: { type: 'string' }, digest: { type: 'string', pattern: '^sha256:[0-9a-f]{64}$' }, image: { type: 'string' }, key: { type: 'string' }, imageId: { type: 'string' }, size: { type: 'integer' }, pushedAt: { type: 'integer' } },
} as const;

export const rolloutAnswer = {
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
