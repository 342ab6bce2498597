/** Every route of /v1, one file per area. */
import type { FastifyInstance } from 'fastify';
import type { ServerCore } from '../core.js';
import { approvalRoutes } from './approvals.js';
import { auditRoutes } from './audit.js';
import { configRoutes } from './config.js';
import { deploymentRoutes } from './deployments.js';
import { eventRoutes } from './events.js';
import { hostRoutes } from './hosts.js';
import { operationRoutes } from './operations.js';
import { readRoutes } from './read.js';
import { registryRoutes } from './registry.js';
import { releaseRoutes } from './releases.js';
import { rolloutRoutes } from './rollouts.js';
import { secretRoutes } from './secrets.js';
import { statusRoutes } from './status.js';
import { tokenRoutes } from './tokens.js';

export async function registerRoutes(app: FastifyInstance, core: ServerCore): Promise<void> {
  for (const routes of [configRoutes, releaseRoutes, deploymentRoutes, operationRoutes, rolloutRoutes, registryRoutes, readRoutes, eventRoutes, tokenRoutes, secretRoutes, statusRoutes, approvalRoutes, auditRoutes, hostRoutes]) await routes(app, core);
}
