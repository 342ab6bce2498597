/**
 * The canary's gates, judged like Argo Rollouts / Kayenta and not on one
 * sample: pure, over plain readings with their timestamps.
 *
 * - Each canary instance is judged by the health model (health/judge.ts): it
 *   fails the canary only after unhealthy_after consecutive failed probes; a
 *   crash ends it at once.
 * - The error rate is judged at the END of the watch window, over that window:
 *   the canary's (at least min_requests requests) against the baseline's (the
 *   stable instances of the same front door) plus `tolerance` points. Too
 *   little traffic aborts: not enough evidence to promote.
 * - A failing baseline: the canary is still judged relative to it (it may be
 *   the fix); the reason and the evidence say the baseline was failing.
 * - A probe or counter read Berth could not make is inconclusive and retried;
 *   only inconclusive_limit of them in a row count as a failure.
 */
import type { CanarySettings, HealthTiming } from '../config/model.js';
import { judge, startJudging, summary, type Judgement, type ProbeResult } from '../health/judge.js';

export interface ServerCounters {
  requests: number;
  /** 5xx answers plus connection and response errors. */
  errors: number;
}

export interface InstanceReading {
  /** Berth's probe of the instance (absent without a health check). */
  probe?: ProbeResult;
  /** The container exited, restarted or vanished: not a probe, the canary fails at once. */
  crashed?: string;
  /** Its state could not be read this time. */
  inconclusive?: string;
}

export interface CanaryReading {
  at: number;
  instances: Record<string, InstanceReading>;
  /** The front door's cumulative counters per server (canary and baseline), or why they could not be read. */
  counters: Record<string, ServerCounters> | { inconclusive: string };
}

export interface CanaryGate {
  canaries: string[];
  settings: CanarySettings;
  health?: HealthTiming;
  startedAt?: number;
  /** The first and the latest successful counter reads: the window the rates are judged over. */
  first?: { at: number; counters: Record<string, ServerCounters> };
  last?: { at: number; counters: Record<string, ServerCounters> };
  instances: Record<string, { judgement: Judgement; worstStreak: number; inconclusive: number; inconclusiveTotal: number; crashed?: string }>;
  counterInconclusive: number;
  counterInconclusiveTotal: number;
  lastCounterProblem?: string;
}

export interface GroupEvidence {
  servers: string[];
  requests: number;
  errors: number;
  /** errors / requests, 0 without requests. */
  rate: number;
}

export interface CanaryEvidence {
  gate: 'canary';
  decision: 'promote' | 'abort';
  reason: string;
  window: { from: string; to: string; ms: number } | null;
  settings: { watchMs: number; minRequests: number; tolerance: number; inconclusiveLimit: number; unhealthyAfter: number | null };
  canary: GroupEvidence;
  baseline: GroupEvidence;
  instances: { slot: string; verdict: string; passed: number; failed: number; ignored: number; inconclusive: number; worstStreak: number; lastProblem?: string; crashed?: string }[];
  inconclusiveReads: { counters: number; probes: number };
}

export type CanaryDecision = { decision: 'wait' } | { decision: 'promote' | 'abort'; reason: string; evidence: CanaryEvidence };

/** The canary instances were admitted by their launch gate: they start healthy. */
export function openCanaryGate(canaries: string[], settings: CanarySettings, health: HealthTiming | undefined, at: number): CanaryGate {
  const instances = Object.fromEntries(canaries.map((slot) => [slot, { judgement: startJudging(at - (health?.startPeriodMs ?? 0), 'healthy', at), worstStreak: 0, inconclusive: 0, inconclusiveTotal: 0 }]));
  return { canaries, settings, ...(health ? { health } : {}), instances, counterInconclusive: 0, counterInconclusiveTotal: 0 };
}

export function observeCanary(g: CanaryGate, r: CanaryReading): CanaryGate {
  const instances = { ...g.instances };
  for (const slot of g.canaries) {
    const reading = r.instances[slot] ?? { crashed: 'its container is gone' };
    const was = instances[slot]!;
    if (reading.crashed) instances[slot] = { ...was, crashed: reading.crashed };
    else if (reading.inconclusive !== undefined) instances[slot] = { ...was, inconclusive: was.inconclusive + 1, inconclusiveTotal: was.inconclusiveTotal + 1 };
    else if (reading.probe && g.health) {
      const judgement = judge(was.judgement, reading.probe, g.health);
      const inconclusive = 'inconclusive' in reading.probe;
      instances[slot] = {
        ...was,
        judgement,
        worstStreak: Math.max(was.worstStreak, judgement.failures),
        inconclusive: inconclusive ? was.inconclusive + 1 : 0,
        inconclusiveTotal: was.inconclusiveTotal + (inconclusive ? 1 : 0),
      };
    } else instances[slot] = { ...was, inconclusive: 0 };
  }
  const next: CanaryGate = { ...g, instances, startedAt: g.startedAt ?? r.at };
  if ('inconclusive' in r.counters) {
    return { ...next, counterInconclusive: g.counterInconclusive + 1, counterInconclusiveTotal: g.counterInconclusiveTotal + 1, lastCounterProblem: r.counters.inconclusive as string };
  }
  const read = { at: r.at, counters: r.counters as Record<string, ServerCounters> };
  return { ...next, first: g.first ?? read, last: read, counterInconclusive: 0 };
}

export function decideCanary(g: CanaryGate): CanaryDecision {
  const limit = g.settings.inconclusiveLimit;
  for (const slot of g.canaries) {
    const i = g.instances[slot]!;
    if (i.crashed) return end(g, 'abort', `canary instance ${slot}: ${i.crashed}`);
    if (i.judgement.verdict === 'unhealthy') {
      return end(g, 'abort', `canary instance ${slot} failed ${i.judgement.failures} consecutive probes (unhealthy_after ${g.health!.unhealthyAfter}): ${i.judgement.lastProblem}`);
    }
    if (i.inconclusive >= limit) {
      return end(g, 'abort', `canary instance ${slot} could not be probed ${i.inconclusive} times in a row (inconclusive_limit ${limit}): ${i.judgement.lastProblem ?? 'its state could not be read'}`);
    }
  }
  if (g.counterInconclusive >= limit) {
    return end(g, 'abort', `the front door's counters could not be read ${g.counterInconclusive} times in a row (inconclusive_limit ${limit}): ${g.lastCounterProblem}`);
  }
  // Judged at the end of the window, on a counter read made at or after it.
  if (g.startedAt === undefined || !g.last || g.last.at - g.startedAt < g.settings.watchMs) return { decision: 'wait' };
  const { canary, baseline } = groups(g);
  const over = `over ${seconds(g.last.at - g.first!.at)}`;
  if (canary.requests < g.settings.minRequests) {
    return end(g, 'abort', `not enough evidence: only ${canary.requests} requests reached the canary ${over} (min_requests ${g.settings.minRequests}); send it more traffic or watch longer`);
  }
  const rates = `canary ${rateText(canary)} vs baseline ${rateText(baseline)} ${over} (tolerance ${points(g.settings.tolerance)})`;
  const baselineNote = baseline.requests === 0 ? '; the baseline served no requests, so it counts as clean' : baseline.rate > g.settings.tolerance ? `; the baseline was failing itself (${percent(baseline.rate)} errors)` : '';
  if (canary.rate > baseline.rate + g.settings.tolerance) return end(g, 'abort', `error rate: ${rates}${baselineNote}`);
  return end(g, 'promote', `${rates}${baselineNote}`);
}

/** Each server's requests and errors over the window (a server whose counters restarted counts from zero). */
function groups(g: CanaryGate): { canary: GroupEvidence; baseline: GroupEvidence } {
  const last = g.last?.counters ?? {};
  const first = g.first?.counters ?? {};
  const delta = (name: string) => {
    const now = last[name]!;
    const then = first[name];
    return then && now.requests >= then.requests && now.errors >= then.errors ? { requests: now.requests - then.requests, errors: now.errors - then.errors } : now;
  };
  const group = (servers: string[]): GroupEvidence => {
    const sums = servers.map(delta).reduce((a, b) => ({ requests: a.requests + b.requests, errors: a.errors + b.errors }), { requests: 0, errors: 0 });
    return { servers, ...sums, rate: sums.requests === 0 ? 0 : sums.errors / sums.requests };
  };
  const names = Object.keys(last).sort();
  return { canary: group(names.filter((n) => g.canaries.includes(n))), baseline: group(names.filter((n) => !g.canaries.includes(n))) };
}

function end(g: CanaryGate, decision: 'promote' | 'abort', reason: string): CanaryDecision {
  const { canary, baseline } = groups(g);
  const window = g.first && g.last ? { from: new Date(g.first.at).toISOString(), to: new Date(g.last.at).toISOString(), ms: g.last.at - g.first.at } : null;
  return {
    decision,
    reason,
    evidence: {
      gate: 'canary',
      decision,
      reason,
      window,
      settings: { ...g.settings, unhealthyAfter: g.health?.unhealthyAfter ?? null },
      canary,
      baseline,
      instances: g.canaries.map((slot) => {
        const i = g.instances[slot]!;
        const s = summary(i.judgement);
        return { slot, ...s, inconclusive: i.inconclusiveTotal, worstStreak: i.worstStreak, ...(i.crashed ? { crashed: i.crashed } : {}) };
      }),
      inconclusiveReads: { counters: g.counterInconclusiveTotal, probes: g.canaries.reduce((n, slot) => n + g.instances[slot]!.inconclusiveTotal, 0) },
    },
  };
}

const percent = (rate: number) => `${(rate * 100).toFixed(1)}%`;
const points = (tolerance: number) => `${+(tolerance * 100).toFixed(2)} points`;
const rateText = (group: GroupEvidence) => `${percent(group.rate)} errors (${group.errors} of ${group.requests} requests)`;
const seconds = (ms: number) => `${+(ms / 1000).toFixed(1)} s`;
