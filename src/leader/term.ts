/**
 * When a server renews, claims or gives up the leader lease: pure, on a clock the caller passes
 * (the process's monotonic one). A renewal is counted from the moment it was sent, before the
 * database extended the lease, so the leader's own deadline falls before the one the others see:
 * it stops acting `actMs` (two thirds of the TTL) after its last successful renewal was sent, and
 * nobody can take over before `ttlMs` after that renewal reached the database.
 */
import { invalid } from '../errors.js';

export const DEFAULT_LEADER_TTL_MS = 10_000;

export interface LeaderTiming {
  /** How long the lease lasts past a renewal, on the database's clock. */
  ttlMs: number;
  /** How often the leader renews. */
  renewMs: number;
  /** How long after a renewal was sent the leader still acts: two thirds of the TTL. */
  actMs: number;
  /** How often a follower looks whether the lease is free, and a leader retries a failed renewal. */
  retryMs: number;
}

/** The timing for a TTL and a renewal interval (default: a third of the TTL); refuses a renewal that would not come before the step-down. */
export function leaderTiming(ttlMs = DEFAULT_LEADER_TTL_MS, renewMs?: number): LeaderTiming {
  if (!Number.isInteger(ttlMs) || ttlMs < 300) throw invalid(`--leader-ttl ${ttlMs}ms is too short: a lease must last at least 300ms`, { fix: `leave it out for the default (${DEFAULT_LEADER_TTL_MS / 1000}s), or give e.g. --leader-ttl 10s` });
  const actMs = Math.floor((ttlMs * 2) / 3);
  const renew = renewMs ?? Math.floor(ttlMs / 3);
  if (!Number.isInteger(renew) || renew < 1 || renew >= actMs) {
    throw invalid(`--leader-renew ${renew}ms must be shorter than two thirds of --leader-ttl (${actMs}ms): a leader would stop acting before it renews`, { fix: `leave --leader-renew out for a third of the TTL (${Math.floor(ttlMs / 3)}ms)` });
  }
  return { ttlMs, renewMs: renew, actMs, retryMs: Math.min(1000, renew) };
}

export type LeaderState =
  | { role: 'follower'; triedAt?: number }
  | { role: 'leader'; epoch: number; renewedAt: number; triedAt: number };

export type Action = 'claim' | 'renew' | 'step-down';

/** Whether a leader may still write: its last successful renewal was sent less than `actMs` ago. */
export function acting(state: LeaderState, now: number, timing: LeaderTiming): boolean {
  return state.role === 'leader' && now - state.renewedAt < timing.actMs;
}

/** What to do next, and when (at or after `now`). */
export function nextAction(state: LeaderState, now: number, timing: LeaderTiming): { action: Action; at: number } {
  if (state.role === 'follower') return { action: 'claim', at: state.triedAt === undefined ? now : Math.max(now, state.triedAt + timing.retryMs) };
  const stepDownAt = state.renewedAt + timing.actMs;
  if (now >= stepDownAt) return { action: 'step-down', at: now };
  // A failed renewal is retried sooner than the interval, but a renewal always comes before the step-down would.
  const renewAt = state.triedAt > state.renewedAt ? state.triedAt + timing.retryMs : state.renewedAt + timing.renewMs;
  if (renewAt >= stepDownAt) return { action: 'step-down', at: stepDownAt };
  return { action: 'renew', at: Math.max(now, renewAt) };
}

/** After a claim sent at `sentAt`: the epoch won, or another server leads, or the store failed. */
export function afterClaim(sentAt: number, outcome: { epoch: number } | 'led' | 'failed'): LeaderState {
  if (typeof outcome === 'object') return { role: 'leader', epoch: outcome.epoch, renewedAt: sentAt, triedAt: sentAt };
  return { role: 'follower', triedAt: sentAt };
}

/** After a renewal sent at `sentAt`: extended, lost to a newer epoch, or the store failed (the deadline stays). */
export function afterRenew(state: LeaderState, sentAt: number, outcome: 'renewed' | 'lost' | 'failed'): LeaderState {
  if (state.role !== 'leader' || outcome === 'lost') return { role: 'follower', triedAt: sentAt };
  if (outcome === 'renewed') return { ...state, renewedAt: Math.max(state.renewedAt, sentAt), triedAt: sentAt };
  return { ...state, triedAt: sentAt };
}

/** After stepping down: a follower that claims again at once (a new term has a new epoch). */
export function afterStepDown(now: number): LeaderState {
  return { role: 'follower', triedAt: now };
}
