/**
 * Day-to-day operations through the server: restart a service's instances,
 * move one instance to another host, drain and undrain a host. Each calls the
 * same core function as the CLI in-process and, like a rollout, runs in the
 * server (jobs.ts): 202 once its first rollout is journaled, or 200 with its
 * result and progress when it ended without one.
 */
import type { FastifyInstance } from 'fastify';
import { undrainHost } from '../../fleet/move.js';
import { restart, type RestartRequest } from '../../requests/restart.js';
import { move, type MoveRequest } from '../../requests/move.js';
import { drain, type DrainRequest } from '../../requests/drain.js';
import { actorOf } from '../request.js';
import type { ServerCore } from '../core.js';
import { envFrom, startRollout, timeoutMs } from './rollout-route.js';

// 200 (ended before any rollout was journaled: {result, progress}) is left undeclared, as for the other rollouts: its result is the command's --json.
const started = {
  202: { type: 'object', description: 'journaled and running in the server', properties: { rollout: { type: 'integer' }, events: { type: 'string' } } },
} as const;

export async function operationRoutes(app: FastifyInstance, core: ServerCore): Promise<void> {
  app.post<{ Params: { service: string }; Body: RestartRequest }>(
    '/services/:service/restarts',
    {
      config: { access: { level: 'deploy', environment: envFrom('environment') } },
      schema: {
        summary: "restart a service's instances (or one) one at a time, each healthy before the next; a missing one is recreated on its slot and address",
        params: { type: 'object', required: ['service'], properties: { service: { type: 'string' } } },
        body: { type: 'object', required: ['environment'], additionalProperties: false, properties: { environment: { type: 'string' }, instance: { type: 'string', description: 'one slot of the service, e.g. web-production-2' }, timeoutMs } },
        response: started,
      },
    },
    async (request, reply) => startRollout(core, request, reply, (run, hooks) => restart(run, request.params.service, request.body, hooks)),
  );

  app.post<{ Params: { instance: string }; Body: MoveRequest }>(
    '/instances/:instance/moves',
    {
      config: { access: { level: 'deploy', environment: envFrom('environment') } },
      schema: {
        summary: 'move one instance to another host of its environment, health-gated through the front door, keeping its IP and MAC',
        params: { type: 'object', required: ['instance'], properties: { instance: { type: 'string' } } },
        body: { type: 'object', required: ['environment', 'to'], additionalProperties: false, properties: { environment: { type: 'string' }, to: { type: 'string', description: 'a host of the environment' }, timeoutMs } },
        response: started,
      },
    },
    async (request, reply) => startRollout(core, request, reply, (run, hooks) => move(run, request.params.instance, request.body, hooks)),
  );

  const hostParams = { type: 'object', required: ['host'], properties: { host: { type: 'string' } } } as const;
  app.post<{ Params: { host: string }; Body: DrainRequest | undefined }>(
    '/hosts/:host/drain',
    {
      config: { access: { level: 'admin' } },
      schema: {
        summary: 'drain a host: it gets nothing new, and its instances move to other hosts keeping their addresses',
        params: hostParams,
        body: { type: 'object', additionalProperties: false, properties: { timeoutMs } },
        response: started,
      },
    },
    async (request, reply) => startRollout(core, request, reply, (run, hooks) => drain(run, request.params.host, request.body ?? {}, hooks)),
  );

  app.post<{ Params: { host: string } }>(
    '/hosts/:host/undrain',
    {
      config: { access: { level: 'admin' } },
      schema: {
        summary: 'let a drained host take new instances again (the ones that moved away stay where they are)',
        params: hostParams,
        response: { 200: { type: 'object', properties: { host: { type: 'string' }, state: { type: 'string' }, wasDraining: { type: 'boolean' } } } },
      },
    },
    async (request) => await undrainHost(await core.run(actorOf(request)), request.params.host),
  );
}
