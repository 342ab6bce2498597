/** `berth move` and POST /v1/instances/:instance/moves: one request, built by both, run here. */
import type { RunContext } from '../runtime/context.js';
import { moveInstance, type MoveResult } from '../fleet/move.js';
import type { RolloutOptions } from '../rollout/executor.js';
import { timeoutOf } from './timeout.js';

export interface MoveRequest {
  environment: string;
  /** A host of the environment. */
  to: string;
  timeoutMs?: number;
}

export function move(run: RunContext, instance: string, request: MoveRequest, options: RolloutOptions = {}): Promise<MoveResult> {
  return moveInstance(run, instance, request.environment, request.to, { ...timeoutOf(request), ...options });
}
