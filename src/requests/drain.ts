/** `berth host drain` and POST /v1/hosts/:host/drain: one request, built by both, run here. */
import type { RunContext } from '../runtime/context.js';
import { drainHost, type MoveResult } from '../fleet/move.js';
import type { RolloutOptions } from '../rollout/executor.js';
import { timeoutOf } from './timeout.js';

export interface DrainRequest {
  timeoutMs?: number;
}

export function drain(run: RunContext, host: string, request: DrainRequest, options: RolloutOptions = {}): Promise<MoveResult> {
  return drainHost(run, host, { ...timeoutOf(request), ...options });
}
