/** `berth release` and POST /v1/services/:service/releases: one request, built by both, run here. */
import type { RunContext } from '../runtime/context.js';
import { releaseService } from '../release/operations.js';
import type { RolloutOptions } from '../rollout/executor.js';
import { requestedImage, type ImageRequest } from './pushed-image.js';
import { timeoutOf } from './timeout.js';

export interface ReleaseRequest extends ImageRequest {
  /** The pipeline's first environment. */
  environment: string;
  force?: boolean;
  timeoutMs?: number;
}

/** Releases the requested build of `service` (recording its client's push first) into the request's environment. */
export async function release(run: RunContext, service: string, request: ReleaseRequest, options: RolloutOptions = {}) {
  const image = await requestedImage(run.db, request);
  return releaseService(run, service, request.environment, {
    ...timeoutOf(request),
    ...options,
    force: request.force === true,
    ...(image !== undefined ? { image } : {}),
  });
}
