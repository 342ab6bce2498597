/**
 * The one health model: a pure state machine over Berth's probe results with
 * their timestamps. Every path that decides (deploy and release gates,
 * restart, resume after a crash, canary watches) judges an instance with it.
 */
import { HEALTH_DEFAULTS, type HealthTiming } from '../config/model.js';

export type ProbeResult =
  | { at: number; ok: true }
  | { at: number; ok: false; problem: string }
  /** Berth could not make the probe (the engine did not answer, no address): says nothing about the instance. */
  | { at: number; inconclusive: string };

export type Verdict = 'starting' | 'healthy' | 'unhealthy';

export interface Judgement {
  verdict: Verdict;
  /** When the container started: failures within the start period do not count. */
  startedAt: number;
  /** Consecutive passes, consecutive counted failures, consecutive inconclusive probes. */
  passes: number;
  failures: number;
  inconclusive: number;
  /** Since when it has been healthy without an unhealthy judgement. */
  healthySince?: number;
  lastFailureAt?: number;
  lastProblem?: string;
  totals: { passed: number; failed: number; ignored: number; inconclusive: number };
}

export function startJudging(startedAt: number, verdict: Verdict = 'starting', at = startedAt): Judgement {
  return {
    verdict,
    startedAt,
    passes: 0,
    failures: 0,
    inconclusive: 0,
    ...(verdict === 'healthy' ? { healthySince: at } : {}),
    totals: { passed: 0, failed: 0, ignored: 0, inconclusive: 0 },
  };
}

/**
 * The next judgement after one probe result. A failure counts unless it falls
 * in the start period, and at most one counts per `interval`, so probing a
 * starting instance faster than `interval` never makes it unhealthy sooner.
 */
export function judge(j: Judgement, r: ProbeResult, s: HealthTiming): Judgement {
  const totals = { ...j.totals };
  if ('inconclusive' in r) {
    totals.inconclusive++;
    return { ...j, inconclusive: j.inconclusive + 1, lastProblem: r.inconclusive, totals };
  }
  if (r.ok) {
    totals.passed++;
    const passes = j.passes + 1;
    const healthy = j.verdict === 'healthy' || passes >= s.healthyAfter;
    return {
      ...j,
      passes,
      failures: 0,
      inconclusive: 0,
      verdict: healthy ? 'healthy' : j.verdict,
      ...(healthy ? { healthySince: j.verdict === 'healthy' ? j.healthySince! : r.at } : {}),
      totals,
    };
  }
  const inStartPeriod = r.at - j.startedAt < s.startPeriodMs;
  const tooSoon = j.lastFailureAt !== undefined && r.at - j.lastFailureAt < s.intervalMs;
  if (inStartPeriod || tooSoon) {
    totals.ignored++;
    return { ...j, passes: 0, inconclusive: 0, lastProblem: r.problem, totals };
  }
  totals.failed++;
  const failures = j.failures + 1;
  const unhealthy = failures >= s.unhealthyAfter;
  const next: Judgement = { ...j, passes: 0, failures, inconclusive: 0, lastFailureAt: r.at, lastProblem: r.problem, verdict: unhealthy ? 'unhealthy' : j.verdict, totals };
  if (unhealthy) delete next.healthySince;
  return next;
}

/** Healthy for at least min_healthy without an unhealthy judgement: a rollout may move on. */
export function admitted(j: Judgement, now: number, s: HealthTiming): boolean {
  return j.verdict === 'healthy' && now - j.healthySince! >= s.minHealthyMs;
}

/** "3 passed, 1 failed (1 ignored in the start period or too soon), 0 inconclusive" for messages and evidence. */
export function summary(j: Judgement): { passed: number; failed: number; ignored: number; inconclusive: number; verdict: Verdict; lastProblem?: string } {
  return { ...j.totals, verdict: j.verdict, ...(j.lastProblem !== undefined ? { lastProblem: j.lastProblem } : {}) };
}

/** A service's timing with defaults filled in: releases recorded before healthy_after and friends existed have `retries` only. */
export function timingOf(h: Partial<HealthTiming> & { retries?: number }): HealthTiming {
  const d = HEALTH_DEFAULTS;
  return {
    intervalMs: h.intervalMs ?? d.intervalMs,
    timeoutMs: h.timeoutMs ?? d.timeoutMs,
    healthyAfter: h.healthyAfter ?? d.healthyAfter,
    unhealthyAfter: h.unhealthyAfter ?? h.retries ?? d.unhealthyAfter,
    minHealthyMs: h.minHealthyMs ?? d.minHealthyMs,
    startPeriodMs: h.startPeriodMs ?? d.startPeriodMs,
  };
}
