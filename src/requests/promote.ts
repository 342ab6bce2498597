/**
 * `berth promote`, POST /v1/services/:service/promotions and the approval of a
 * promotion to a protected environment: one request, built by the CLI and the
 * route, kept in the approval until it is given, checked and run here.
 */
import type { RunContext } from '../runtime/context.js';
import { invalid } from '../errors.js';
import { promoteService, type PromoteOptions } from '../release/operations.js';
import type { RolloutOptions, RolloutResult } from '../rollout/executor.js';
import { timeoutOf } from './timeout.js';

export interface PromoteRequest {
  to: string;
  /** Default: the nearest earlier stage of the pipeline that runs a release. */
  from?: string;
  /** 0..1: a canary with this share of the traffic instead of a rolling update. */
  canary?: number;
  /** With a canary: how long its gates watch it. */
  watchMs?: number;
  /** With a canary: leave it open for `berth canary promote|abort`. */
  manual?: boolean;
  force?: boolean;
  timeoutMs?: number;
}

const FIELDS = new Set(['to', 'from', 'canary', 'watchMs', 'manual', 'force', 'timeoutMs']);

/** `value` as a PromoteRequest, or an invalid-input error naming the field. */
export function promoteRequest(value: unknown): PromoteRequest {
  const bad = (what: string) => invalid(`a promote request ${what}`, { fix: 'berth promote <service> --to <env> [--from <env>] [--canary 10% [--manual] [--watch 30s]] [--force]' });
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw bad('is not an object');
  const r = value as Record<string, unknown>;
  const unknown = Object.keys(r).filter((key) => !FIELDS.has(key));
  if (unknown.length > 0) throw bad(`has unknown fields: ${unknown.join(', ')}`);
  if (typeof r.to !== 'string' || r.to === '') throw bad('names no target environment (to)');
  if (r.from !== undefined && typeof r.from !== 'string') throw bad('has a from that is not an environment name');
  if (r.canary !== undefined && !(typeof r.canary === 'number' && r.canary > 0 && r.canary <= 1)) throw bad(`has a canary share ${JSON.stringify(r.canary)} outside (0, 1]`);
  for (const key of ['watchMs', 'timeoutMs'] as const) {
    if (r[key] !== undefined && !(Number.isInteger(r[key]) && (r[key] as number) >= 0)) throw bad(`has a ${key} that is not a whole number of milliseconds`);
  }
  for (const key of ['manual', 'force'] as const) if (r[key] !== undefined && typeof r[key] !== 'boolean') throw bad(`has a ${key} that is not true or false`);
  return r as unknown as PromoteRequest;
}

/** Runs the promotion `request` asks for (checked first); `options` adds the caller's hooks and, from the server, whether it was approved. */
export async function promote(run: RunContext, service: string, request: PromoteRequest, options: RolloutOptions & Pick<PromoteOptions, 'approved' | 'onCanary'> = {}): Promise<RolloutResult> {
  const r = promoteRequest(request);
  return promoteService(run, service, r.to, {
    ...timeoutOf(r),
    ...options,
    ...(r.from !== undefined ? { from: r.from } : {}),
    ...(r.canary !== undefined ? { canary: r.canary } : {}),
    ...(r.watchMs !== undefined ? { watchMs: r.watchMs } : {}),
    manual: r.manual === true,
    force: r.force === true,
  });
}
