/** The configuration: apply a bundle (versioned, with its diff; ?dryRun shows the diff only), and the versions applied. */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { decodeBundle } from '../../apply/bundle.js';
import { applyBundle, appliedVersions } from '../../apply/versions.js';
import { BUNDLE_BODY_LIMIT } from '../limits.js';
import { actorOf } from '../request.js';
import type { ServerCore } from '../core.js';

export async function configRoutes(app: FastifyInstance, core: ServerCore): Promise<void> {
  app.post(
    '/config',
    {
      config: { access: { level: 'admin' } },
      bodyLimit: BUNDLE_BODY_LIMIT,
      schema: {
        summary: 'apply a configuration: the project folder as path → base64 content; answers with its version and the diff against the version before',
        body: { type: 'object', required: ['files'], additionalProperties: false, properties: { files: { type: 'object', additionalProperties: { type: 'string' } }, executable: { type: 'array', items: { type: 'string' } }, dryRun: { type: 'boolean' } } },
      },
    },
    async (request: FastifyRequest<{ Body: { files: Record<string, string>; executable?: string[]; dryRun?: boolean } }>, reply) => {
      const outcome = await applyBundle(core.db, core.stateDir, core.env, decodeBundle({ files: request.body.files, executable: request.body.executable ?? [] }), { actor: actorOf(request), dryRun: request.body.dryRun === true, allowRead: core.allowRead });
      if (outcome.applied) await core.events.publish('config-applied', { version: outcome.version, project: outcome.project, actor: actorOf(request), changes: outcome.diff.changes.map((c) => ({ path: c.path, change: c.change })) });
      return reply.status(outcome.applied ? 201 : 200).send(outcome);
    },
  );
  app.get('/config', { config: { access: { level: 'read' } }, schema: { summary: 'the configuration versions applied, newest first' } }, async () => ({ versions: await appliedVersions(core.db) }));
}
