/** Tokens: create (the secret is in this answer only), list, revoke. Admin only. */
import type { FastifyInstance } from 'fastify';
import { createToken, revoke, tokens, tokenView } from '../../access/tokens.js';
import { actorOf } from '../request.js';
import type { ServerCore } from '../core.js';

const admin = { access: { level: 'admin' as const } };

export async function tokenRoutes(app: FastifyInstance, core: ServerCore): Promise<void> {
  app.post<{ Body: { name: string; role: string; envs?: string[] } }>(
    '/tokens',
    {
      config: admin,
      schema: {
        summary: 'create a token (its secret is returned once)',
        body: { type: 'object', required: ['name', 'role'], additionalProperties: false, properties: { name: { type: 'string' }, role: { type: 'string', enum: ['viewer', 'deployer', 'admin'] }, envs: { type: 'array', items: { type: 'string' } } } },
      },
    },
    async (request, reply) => {
      const { token, record } = await createToken(core.db, { ...request.body, createdBy: actorOf(request) }, request.body.envs?.length ? await core.environmentNames() : []);
      return reply.status(201).send({ token, ...tokenView(record) });
    },
  );
  app.get('/tokens', { config: admin, schema: { summary: 'every token (never their secrets)' } }, async () => ({ tokens: (await tokens(core.db)).map(tokenView) }));
  app.delete<{ Params: { name: string } }>('/tokens/:name', { config: admin, schema: { summary: 'revoke a token', params: { type: 'object', properties: { name: { type: 'string' } } } } }, async (request) => {
    await revoke(core.db, request.params.name);
    core.events.closeStreams(request.params.name);
    return { revoked: request.params.name };
  });
}
