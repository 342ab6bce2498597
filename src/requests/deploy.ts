/** `berth deploy` and POST /v1/services/:service/deployments: one request, built by both, run here. */
import type { RunContext } from '../runtime/context.js';
import { deployService, type DeployOptions, type DeployResult } from '../release/deploy.js';
import { requestedImage, type ImageRequest } from './pushed-image.js';
import { timeoutOf } from './timeout.js';

export interface DeployRequest extends ImageRequest {
  environment: string;
  force?: boolean;
  /** Parallel container launches. */
  concurrency?: number;
  timeoutMs?: number;
}

/** What the caller adds: progress, the server's hooks, and whether an admin asks. */
export type DeployHooks = Pick<DeployOptions, 'onEvent' | 'onJournaled' | 'signal' | 'privileged'>;

/** Deploys the requested image of `service` (recording its client's push first) into the request's environment. */
export async function deploy(run: RunContext, service: string, request: DeployRequest, hooks: DeployHooks = {}): Promise<DeployResult> {
  const image = await requestedImage(run.db, request);
  return deployService(run, service, request.environment, {
    ...(image !== undefined ? { image } : {}),
    ...timeoutOf(request),
    ...(request.concurrency !== undefined ? { concurrency: request.concurrency } : {}),
    force: request.force === true,
    ...hooks,
  });
}
