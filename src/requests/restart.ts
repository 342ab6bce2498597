/** `berth restart` and POST /v1/services/:service/restarts: one request, built by both, run here. */
import type { RunContext } from '../runtime/context.js';
import { restartService, type RestartOptions, type RestartResult } from '../release/restart.js';
import { timeoutOf } from './timeout.js';

export interface RestartRequest {
  environment: string;
  /** One slot of the service (e.g. web-production-2) instead of all. */
  instance?: string;
  timeoutMs?: number;
}

export function restart(run: RunContext, service: string, request: RestartRequest, options: Omit<RestartOptions, 'instance' | 'timeoutMs'> = {}): Promise<RestartResult> {
  return restartService(run, service, request.environment, { ...timeoutOf(request), ...options, ...(request.instance !== undefined ? { instance: request.instance } : {}) });
}
