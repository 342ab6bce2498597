/**
 * The health gate: probes an instance from Berth's side and judges it
 * (judge.ts) until it is admitted (healthy_after passes, then min_healthy
 * without an unhealthy judgement), judged unhealthy, crashes or runs out of
 * time. While it has not passed a probe yet it is probed every 100 ms (a
 * command every 500 ms), like a Kubernetes startup probe, so rollouts stay
 * quick; after that every `interval`. The engine's own HEALTHCHECK status is
 * never read: its container state (exited, restarting, restarted) ends the
 * gate at once, since a crash is not a probe.
 */
import type { HealthCheck } from '../config/model.js';
import type { Engine } from '../engine/client.js';
import { sleep } from '../time.js';
import { admitted, judge, startJudging, summary, timingOf, type Judgement } from './judge.js';
import { probe, type ProbeTarget } from './probe.js';

export type { ProbeTarget } from './probe.js';

export type GateResult = { healthy: true; ms: number; probes?: ReturnType<typeof summary> } | { healthy: false; reason: string };

const STARTUP_PROBE_MS = 100;
const STARTUP_COMMAND_MS = 500;
const STATE_CHECK_MS = 250;
/** Without a health check, an instance that stays up this long (or min_healthy, if longer) counts as started. */
const SETTLE_MS = 1000;

/**
 * `restartsBefore`: the engine's restart count when the wait begins; any restart after it means the instance crashed.
 * `signal` aborted (a rollout cancelled): the wait ends at once as not healthy, with the abort's reason.
 */
export async function waitHealthy(engine: Engine, id: string, health: HealthCheck | undefined, target: ProbeTarget, timeoutMs: number, restartsBefore = 0, signal?: AbortSignal): Promise<GateResult> {
  const started = Date.now();
  const deadline = started + timeoutMs;
  const first = await engine.containers.inspect(id);
  if (!first) return { healthy: false, reason: 'the container disappeared' };
  const timing = health ? { ...health, ...timingOf(health) } : undefined;
  let j: Judgement = startJudging(Date.parse(first.startedAt) || started);
  let lastStateCheck = started;
  let crash = crashOf(first, restartsBefore);
  while (crash === undefined && Date.now() < deadline) {
    if (signal?.aborted) return { healthy: false, reason: signal.reason instanceof Error ? signal.reason.message : 'cancelled' };
    if (!timing) {
      if (Date.now() - started >= SETTLE_MS) return { healthy: true, ms: Date.now() - started };
    } else {
      j = judge(j, await probe(engine, id, timing, target), timing);
      if (j.verdict === 'unhealthy') return { healthy: false, reason: `unhealthy after ${j.failures} consecutive failed probes (unhealthy_after ${timing.unhealthyAfter}): ${j.lastProblem}` };
      if (admitted(j, Date.now(), timing)) return { healthy: true, ms: Date.now() - started, probes: summary(j) };
    }
    await sleep(Math.max(0, Math.min(nextProbeIn(j, timing), deadline - Date.now())));
    if (Date.now() - lastStateCheck >= STATE_CHECK_MS || !timing) {
      lastStateCheck = Date.now();
      const state = await engine.containers.inspect(id);
      crash = state ? crashOf(state, restartsBefore) : 'the container disappeared';
    }
  }
  if (crash !== undefined) return { healthy: false, reason: crash };
  const s = summary(j);
  const probes = timing ? ` (${s.passed} probe(s) passed, ${s.failed + s.ignored} failed, ${s.inconclusive} inconclusive)` : '';
  return { healthy: false, reason: `not healthy after ${Math.round(timeoutMs / 1000)} s: ${j.lastProblem ?? (timing ? 'no answer yet' : 'it did not stay up')}${probes}` };
}

/** Until its first pass, fast; then every interval, but no later than the end of min_healthy. */
function nextProbeIn(j: Judgement, timing: (HealthCheck & { intervalMs: number; minHealthyMs: number }) | undefined): number {
  if (!timing) return STARTUP_PROBE_MS;
  if (j.totals.passed === 0) return Math.min(timing.intervalMs, timing.kind === 'command' ? STARTUP_COMMAND_MS : STARTUP_PROBE_MS);
  if (j.verdict === 'healthy') return Math.min(timing.intervalMs, Math.max(0, j.healthySince! + timing.minHealthyMs - Date.now()));
  return timing.intervalMs;
}

function crashOf(state: { running: boolean; status: string; restartCount: number; exitCode: number }, restartsBefore: number): string | undefined {
  const restarts = state.restartCount - restartsBefore;
  if (state.running && state.status !== 'restarting' && restarts <= 0) return undefined;
  return `the container exited with code ${state.exitCode}${restarts > 0 ? ` (restarted ${restarts} time(s))` : ''}`;
}

