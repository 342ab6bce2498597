/** Read-only views: instances (berth ps), a service's history, the hosts. */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { fleetInstances } from '../../runtime/fleet-instances.js';
import { fleetHosts } from '../../fleet/hosts.js';
import { history } from '../../release/operations.js';
import { actorOf } from '../request.js';
import type { ServerCore } from '../core.js';

const read = { access: { level: 'read' as const } };

export async function readRoutes(app: FastifyInstance, core: ServerCore): Promise<void> {
  app.get(
    '/instances',
    { config: read, schema: { summary: 'every instance: host, network, IP, MAC, ports, digest, state, health (berth ps)', querystring: { type: 'object', additionalProperties: false, properties: { env: { type: 'string' }, service: { type: 'string' } } } } },
    async (request: FastifyRequest<{ Querystring: { env?: string; service?: string } }>) =>
      fleetInstances(await core.run(actorOf(request)), { ...(request.query.env !== undefined ? { environment: request.query.env } : {}), ...(request.query.service !== undefined ? { service: request.query.service } : {}) }),
  );
  app.get(
    '/services/:service/history',
    { config: read, schema: { summary: "a service's releases and rollouts (berth history)", params: { type: 'object', properties: { service: { type: 'string' } } }, querystring: { type: 'object', additionalProperties: false, properties: { env: { type: 'string' } } } } },
    async (request: FastifyRequest<{ Params: { service: string }; Querystring: { env?: string } }>) => await history(await core.run(actorOf(request)), request.params.service, request.query.env),
  );
  app.get('/project', { config: read, schema: { summary: 'the applied project: its name, configuration version, pipeline, environments and services' } }, async () => {
    const project = await core.project();
    return {
      name: project.name,
      configVersion: core.loadedVersion(),
      pipeline: project.pipeline,
      environments: [...project.environments.values()].map((e) => ({ name: e.name, network: e.network, hosts: e.hosts })),
      services: [...project.services.values()].map((s) => ({ name: s.name, image: s.image })),
    };
  });
  app.get('/hosts', { config: read, schema: { summary: 'the hosts: state, reachability, capacity, reservations (berth hosts)' } }, async (request) => ({ hosts: await fleetHosts(await core.run(actorOf(request))) }));
}
