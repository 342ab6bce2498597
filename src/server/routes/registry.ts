/**
 * POST /v1/registry/gc: `berth registry gc [--dry-run]` run by the server, on
 * the registry of its machine, protecting what its store knows runs (releases,
 * deployments, rollbacks) with the same core function as in-process.
 */
import type { FastifyInstance } from 'fastify';
import { conflict, unavailable } from '../../errors.js';
import { collectGarbage } from '../../registry/gc.js';
import { registryTarget, runningRegistry, runsWithSettingsOf } from '../../registry/process.js';
import { actorOf } from '../request.js';
import type { ServerCore } from '../core.js';
import { startRollout } from './rollout-route.js';

export async function registryRoutes(app: FastifyInstance, core: ServerCore): Promise<void> {
  // One process runs every request: the maintenance marker (a pid) cannot tell two of them apart.
  let running: string | undefined;
  app.post<{ Body: { dryRun?: boolean } | undefined }>(
    '/registry/gc',
    {
      config: { access: { level: 'admin' } },
      schema: {
        summary: "garbage-collect the registry this server's machine runs, from the server's reference database (releases, deployments, pushes)",
        body: { type: 'object', additionalProperties: false, properties: { dryRun: { type: 'boolean', description: 'plan only: what would be deleted and what is protected' } } },
      },
    },
    async (request, reply) => {
      const run = await core.run(actorOf(request));
      const target = registryTarget(run.project, run.env);
      if (!runningRegistry(target.paths)) {
        throw unavailable(`the registry of ${run.project.name} is not running on the server's machine (state ${core.stateDir}); garbage collection needs it`, {
          fix: `start it there against the server's state: BERTH_STATE_DIR=${core.stateDir} berth registry up`,
        });
      }
      if (!runsWithSettingsOf(target)) {
        throw conflict("the registry on the server's machine was started from other registry settings than the applied configuration's; a garbage collection restarts it (read-only, then writable) from the applied ones, so it refuses", {
          fix: `start the registry there from the same berth.yaml (its registry: paths absolute or left to their defaults), against the server's state: BERTH_STATE_DIR=${core.stateDir} berth registry down, then registry up`,
        });
      }
      if (running !== undefined) throw conflict(`a garbage collection asked by ${running} is running in this server`, { fix: 'wait for it to finish' });
      running = actorOf(request);
      const dryRun = request.body?.dryRun === true;
      try {
        return await startRollout(core, request, reply, (r, hooks) => collectGarbage(r.project, core.engine, r.db, r.env, { dryRun, signal: hooks.signal, onStep: (text) => hooks.emit({ type: 'gc-step', text }) }));
      } finally {
        running = undefined;
      }
    },
  );
}
