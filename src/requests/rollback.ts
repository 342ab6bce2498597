/** `berth rollback` and POST /v1/services/:service/rollbacks: one request, built by both, run here. */
import type { RunContext } from '../runtime/context.js';
import { rollbackService } from '../release/operations.js';
import type { RolloutOptions, RolloutResult } from '../rollout/executor.js';
import { timeoutOf } from './timeout.js';

export interface RollbackRequest {
  environment: string;
  /** The release to go back to; default: the one the environment ran before. */
  to?: number;
  /** Also to a release the environment never ran. */
  force?: boolean;
  timeoutMs?: number;
}

export function rollback(run: RunContext, service: string, request: RollbackRequest, options: RolloutOptions = {}): Promise<RolloutResult> {
  return rollbackService(run, service, request.environment, { ...timeoutOf(request), ...options, force: request.force === true, ...(request.to !== undefined ? { to: request.to } : {}) });
}
