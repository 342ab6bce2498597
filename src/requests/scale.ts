/** `berth scale` and POST /v1/services/:service/scale: one request, built by both, run here. */
import type { RunContext } from '../runtime/context.js';
import { scaleService } from '../release/operations.js';
import type { RolloutOptions, RolloutResult } from '../rollout/executor.js';
import { timeoutOf } from './timeout.js';

export interface ScaleRequest {
  environment: string;
  replicas: number;
  /** Needed to scale to 0. */
  force?: boolean;
  timeoutMs?: number;
}

export function scale(run: RunContext, service: string, request: ScaleRequest, options: RolloutOptions = {}): Promise<RolloutResult> {
  return scaleService(run, service, request.environment, request.replicas, { ...timeoutOf(request), ...options, force: request.force === true });
}
