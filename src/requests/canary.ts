/** `berth canary promote|abort` and POST /v1/services/:service/canary/:decision: one request, built by both, run here. */
import type { RunContext } from '../runtime/context.js';
import { canaryAbort, canaryPromote } from '../release/operations.js';
import type { RolloutOptions, RolloutResult } from '../rollout/executor.js';
import { timeoutOf } from './timeout.js';

export type CanaryDecision = 'promote' | 'abort';

export interface CanaryRequest {
  environment: string;
  timeoutMs?: number;
}

export function decideCanary(run: RunContext, service: string, decision: CanaryDecision, request: CanaryRequest, options: RolloutOptions = {}): Promise<RolloutResult> {
  const decide = decision === 'promote' ? canaryPromote : canaryAbort;
  return decide(run, service, request.environment, { ...timeoutOf(request), ...options });
}
