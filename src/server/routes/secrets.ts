/**
 * Stored secrets over HTTP: set (deploy rights on the environment), list names
 * (read), remove. No route ever returns a value; the audit log keeps no value.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { environmentOf, serviceOf } from '../../runtime/context.js';
import { notFound } from '../../errors.js';
import { readsFromStore } from '../../secrets/refs.js';
import { removeStoredSecret, secretStatuses, setStoredSecret } from '../../secrets/stored.js';
import { describeSecret } from '../../secrets/vault.js';
import { SECRET_BODY_LIMIT } from '../limits.js';
import { actorOf } from '../request.js';
import type { ServerCore } from '../core.js';

const params = { type: 'object', required: ['service', 'name'], properties: { service: { type: 'string' }, name: { type: 'string' } } } as const;
type One = FastifyRequest<{ Params: { service: string; name: string }; Body: { environment: string; value: string }; Querystring: { env: string } }>;

export async function secretRoutes(app: FastifyInstance, core: ServerCore): Promise<void> {
  app.put(
    '/services/:service/secrets/:name',
    {
      config: { access: { level: 'deploy', environment: (r) => (r.body as { environment?: string } | undefined)?.environment } },
      bodyLimit: SECRET_BODY_LIMIT,
      schema: { summary: 'store a secret value (encrypted at rest) for a service in an environment', params, body: { type: 'object', required: ['environment', 'value'], additionalProperties: false, properties: { environment: { type: 'string' }, value: { type: 'string' } } } },
    },
    async (request: One) => {
      const { service, name } = request.params;
      const project = await core.project();
      serviceOf(project, service);
      environmentOf(project, request.body.environment);
      const address = { service, environment: request.body.environment, name };
      const result = await setStoredSecret(core.db, core.stateDir, core.env, { ...address, value: request.body.value, actor: actorOf(request) });
      return { ...address, replaced: result.replaced, keyId: result.keyId, readByConfig: readsFromStore(project, address) };
    },
  );
  app.get(
    '/services/:service/secrets',
    { config: { access: { level: 'read' } }, schema: { summary: 'the names of the stored secrets of a service (never values)', params: { type: 'object', properties: { service: { type: 'string' } } }, querystring: { type: 'object', additionalProperties: false, properties: { env: { type: 'string' } } } } },
    async (request: FastifyRequest<{ Params: { service: string }; Querystring: { env?: string } }>) => {
      const project = await core.project();
      const listed = await secretStatuses(core.db, project, request.params.service, request.query.env);
      if (listed.length === 0) {
        serviceOf(project, request.params.service);
        if (request.query.env !== undefined) environmentOf(project, request.query.env);
      }
      return { secrets: listed };
    },
  );
  app.delete(
    '/services/:service/secrets/:name',
    { config: { access: { level: 'deploy', environment: (r) => (r.query as { env?: string }).env } }, schema: { summary: 'remove a stored secret', params, querystring: { type: 'object', required: ['env'], additionalProperties: false, properties: { env: { type: 'string' } } } } },
    async (request: One) => {
      const address = { service: request.params.service, environment: request.query.env, name: request.params.name };
      if (!await removeStoredSecret(core.db, address)) throw notFound(`${describeSecret(address)} is not set`, { fix: `list what is stored with: berth secret ls ${address.service}` });
      return { ...address, removed: true, readByConfig: readsFromStore(await core.project(), address) };
    },
  );
}
