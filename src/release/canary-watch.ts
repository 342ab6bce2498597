/**
 * Watches an open canary: every health `interval`, probes each canary
 * instance with Berth's own probe and reads the front door's counters of
 * canary and baseline servers, and lets canary-gate.ts decide.
 */
import { CANARY_DEFAULTS } from '../config/model.js';
import { probeTarget } from '../rollout/launch.js';
import { timingOf } from '../health/judge.js';
import { probe } from '../health/probe.js';
import { decideCanary, observeCanary, openCanaryGate, type CanaryDecision, type CanaryReading, type InstanceReading } from './canary-gate.js';
import { observe, type RolloutContext } from '../rollout/rollout-context.js';
import { sleep } from '../time.js';

/** Without a health check, the counters and the containers' state are read this often. */
const DEFAULT_INTERVAL_MS = 2000;

export async function watchCanary(ctx: RolloutContext, canaries: string[], watchMs?: number): Promise<Exclude<CanaryDecision, { decision: 'wait' }>> {
  // Releases recorded before tolerance existed carry maxErrorRate instead: they get the defaults.
  const recorded = { ...CANARY_DEFAULTS, ...ctx.service.canary };
  const settings = { watchMs: watchMs ?? recorded.watchMs, minRequests: recorded.minRequests, tolerance: recorded.tolerance, inconclusiveLimit: recorded.inconclusiveLimit };
  const health = ctx.service.health ? { ...ctx.service.health, ...timingOf(ctx.service.health) } : undefined;
  const intervalMs = health?.intervalMs ?? DEFAULT_INTERVAL_MS;
  const restartsAtStart = await restartCounts(ctx, canaries);
  let gate = openCanaryGate(canaries, settings, health, Date.now());
  for (;;) {
    gate = observeCanary(gate, await read(ctx, canaries, restartsAtStart));
    const decision = decideCanary(gate);
    if (decision.decision !== 'wait') return decision;
    const toEnd = gate.startedAt! + settings.watchMs - Date.now();
    await sleep(toEnd > 0 ? Math.min(intervalMs, toEnd) : intervalMs);
  }
}

async function restartCounts(ctx: RolloutContext, canaries: string[]): Promise<Map<string, number>> {
  const found = (await observe(ctx)).filter((o) => o.role === 'main' && canaries.includes(o.slot));
  const counts = await Promise.all(found.map(async (o) => [o.slot, (await ctx.run.hosts.engine(o.host).containers.inspect(o.id))?.restartCount ?? 0] as const));
  return new Map(counts);
}

async function read(ctx: RolloutContext, canaries: string[], restartsAtStart: Map<string, number>): Promise<CanaryReading> {
  const at = Date.now();
  const [instances, counters] = await Promise.all([readInstances(ctx, canaries, restartsAtStart), readCounters(ctx)]);
  return { at, instances, counters };
}

async function readCounters(ctx: RolloutContext): Promise<CanaryReading['counters']> {
  try {
    return Object.fromEntries((await ctx.door.stats()).map((s) => [s.name, { requests: s.requests, errors: s.errors }]));
  } catch (error) {
    return { inconclusive: `reading the front door's counters: ${(error as Error).message}` };
  }
}

async function readInstances(ctx: RolloutContext, canaries: string[], restartsAtStart: Map<string, number>): Promise<Record<string, InstanceReading>> {
  let observed;
  try {
    observed = await observe(ctx);
  } catch (error) {
    return Object.fromEntries(canaries.map((slot) => [slot, { inconclusive: `listing the instances: ${(error as Error).message}` }]));
  }
  const network = ctx.target.network.mode === 'host' ? { mode: 'host', dockerName: 'host' } : { mode: ctx.target.network.mode, dockerName: ctx.target.dockerName };
  const entries = await Promise.all(
    canaries.map(async (slot): Promise<[string, InstanceReading]> => {
      const o = observed.find((x) => x.slot === slot && x.role === 'main');
      if (!o) return [slot, { crashed: 'its container is gone' }];
      const engine = ctx.run.hosts.engine(o.host);
      const state = await engine.containers.inspect(o.id).catch((error: Error) => error);
      if (state instanceof Error) return [slot, { inconclusive: `inspecting it: ${state.message}` }];
      if (!state) return [slot, { crashed: 'its container is gone' }];
      const restarts = state.restartCount - (restartsAtStart.get(slot) ?? 0);
      if (!state.running || state.status === 'restarting' || restarts > 0) return [slot, { crashed: `the container exited with code ${state.exitCode}${restarts > 0 ? ` (restarted ${restarts} time(s))` : ''}` }];
      if (!ctx.service.health) return [slot, {}];
      return [slot, { probe: await probe(engine, o.id, { ...ctx.service.health, ...timingOf(ctx.service.health) }, probeTarget(ctx.run, o.host, network.mode, network.dockerName, state)) }];
    }),
  );
  return Object.fromEntries(entries);
}
