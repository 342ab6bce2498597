/**
 * The failover: the instances of lost hosts (runtime/lost-hosts.ts: down past their stop grace)
 * recreated on other hosts of their environments. One pass reads every slot on a lost host,
 * plans where each goes (failover-plan.ts, pure), and runs one rollout of kind 'failover' per
 * service × environment through the one executor: journaled (a server that dies mid-way
 * resumes it as any interrupted rollout, from its journal's `replace.to`), under the pair's
 * lease, each slot launched on its new host with its own IP and MAC (checked free with
 * arping -D first), health-gated, then in the front door (a nat instance with its new port).
 * Slots without room wait and are reported; the next pass places them when there is room.
 * Called by the server after each round of its host watch (the leader's work).
 *
 * `removeStale`: a host that comes back holds containers of slots that now live elsewhere; they
 * are removed, never started (the ledger says where each slot runs).
 */
import { environmentOf, type RunContext } from '../runtime/context.js';
import { gatherInventory, slotRequests } from '../runtime/placement.js';
import { lostHosts } from '../runtime/lost-hosts.js';
import { RUN_LABELS } from '../runtime/labels.js';
import { reasonOf } from '../runtime/reach.js';
import type { PlacementHost, Reservation } from '../placement/plan.js';
import { allSlots, type SlotRecord } from '../store/deployments.js';
import { currentRelease } from '../store/releases.js';
import { ordinalOf } from '../rollout/rollout-context.js';
import type { RolloutPlan } from '../rollout/rollout-plan.js';
import { replicasIn, requireRelease, rollout, serviceOfRelease, type RolloutOptions } from '../rollout/executor.js';
import { planFailover, type FailoverGroup, type PairFailover } from './failover-plan.js';

export const FAILOVER_ACTOR = 'failover';

export type FailoverEvent =
  /** Slots of a lost host recreated elsewhere by one rollout (or not: `outcome` failed, with why). */
  | { type: 'failover'; service: string; environment: string; moves: { slot: string; from: string; to: string }[]; outcome: 'succeeded' | 'failed'; rollout?: number; message: string }
  /** Slots of a lost host that found no room: they wait. */
  | { type: 'failover-waiting'; service: string; environment: string; slots: { slot: string; host: string }[]; message: string };

export interface FailoverOptions {
  emit?: (event: FailoverEvent) => void;
  audit?: (entry: { action: string; target: string; outcome: 'succeeded' | 'failed'; params: Record<string, unknown> }) => void | Promise<void>;
  /** Each pair's rollout options (a test's door and timeout; the server's progress). */
  rollout?: (pair: { service: string; environment: string }) => RolloutOptions;
  now?: number;
}

export interface FailoverReport {
  lost: string[];
  plans: PairFailover[];
  events: FailoverEvent[];
}

/** The run as the failover acts in it: its rollouts and audit entries name the actor "failover". */
export function asFailover(run: RunContext): RunContext {
  return { ...run, env: { ...run.env, BERTH_ACTOR: FAILOVER_ACTOR } };
}

export async function failoverOnce(run: RunContext, options: FailoverOptions = {}): Promise<FailoverReport> {
  const lost = await lostHosts(run, options.now);
  if (lost.size === 0) return { lost: [], plans: [], events: [] };
  const acting = asFailover(run);
  const slots = await allSlots(run.db);
  const plans = planFailover(await failoverInput(acting, slots, lost));
  const events: FailoverEvent[] = [];
  const say = async (event: FailoverEvent) => {
    events.push(event);
    options.emit?.(event);
    await options.audit?.(auditOf(event));
  };
  for (const plan of plans) {
    if (plan.waiting.length > 0) {
      await say({ type: 'failover-waiting', service: plan.service, environment: plan.environment, slots: plan.waiting, message: `${plan.waiting.map((w) => w.slot).join(', ')} of lost host(s) ${[...new Set(plan.waiting.map((w) => w.host))].join(', ')} wait for room: ${plan.shortage ?? 'no host can take them'}` });
    }
    if (plan.moves.size === 0) continue;
    const from = new Map(slots.filter((s) => s.environment === plan.environment).map((s) => [s.slot, s.host]));
    const moves = [...plan.moves].map(([slot, to]) => ({ slot, from: from.get(slot)!, to }));
    try {
      const result = await failoverPair(acting, plan, options.rollout?.(plan) ?? {});
      await say({ type: 'failover', service: plan.service, environment: plan.environment, moves, outcome: 'succeeded', rollout: result, message: `recreated ${moves.map((m) => `${m.slot} on ${m.to}`).join(', ')} (lost: ${moves.map((m) => m.from).filter((h, i, all) => all.indexOf(h) === i).join(', ')})` });
    } catch (error) {
      await say({ type: 'failover', service: plan.service, environment: plan.environment, moves, outcome: 'failed', message: `the failover of ${plan.service} in ${plan.environment} failed: ${reasonOf(error)}; the next pass tries again` });
    }
  }
  return { lost: [...lost].sort(), plans, events };
}

/** One rollout of kind 'failover' of the release the pair runs, each moving slot pinned to its planned host. */
async function failoverPair(run: RunContext, plan: PairFailover, options: RolloutOptions): Promise<number> {
  const current = await currentRelease(run.db, plan.service, plan.environment);
  const release = await requireRelease(run, plan.service, current!);
  const environment = environmentOf(run.project, plan.environment);
  const replicas = await replicasIn(run, serviceOfRelease(release), environment);
  const slots = [...plan.moves.keys()].sort((a, b) => ordinalOf(a) - ordinalOf(b));
  const steps = async (): Promise<RolloutPlan> => ({
    target: release.number,
    phase: 'forward',
    // Their instances are gone with their host: nothing to drain, all of them at once.
    steps: [{ op: 'front-door' }, { op: 'replace', slots, to: Object.fromEntries(plan.moves) }, { op: 'converge', replicas }],
  });
  const result = await rollout(run, plan.environment, { kind: 'failover', release, previous: release.number, forced: false, plan: steps }, { ...options, moves: plan.moves });
  return result.rollout;
}

/** Every pair with a slot on a lost host: its planner requests, against one inventory of the hosts of all of them. */
async function failoverInput(run: RunContext, slots: readonly SlotRecord[], lost: ReadonlySet<string>) {
  const pairs = [...new Map(slots.filter((s) => lost.has(s.host)).map((s) => [`${s.service}\0${s.environment}`, s])).values()];
  const groups: FailoverGroup[] = [];
  const hosts = new Map<string, PlacementHost>();
  for (const pair of pairs) {
    const number = await currentRelease(run.db, pair.service, pair.environment);
    // Without a release there is nothing to recreate it with (a slot left by `berth deploy` of an older Berth).
    if (number === undefined || !run.project.environments.has(pair.environment)) continue;
    const service = serviceOfRelease(await requireRelease(run, pair.service, number));
    const environment = environmentOf(run.project, pair.environment);
    const saved = new Map(slots.filter((s) => s.service === pair.service && s.environment === pair.environment).map((s) => [s.slot, s]));
    const { request, planned } = slotRequests(service, environment, saved, { replicas: await replicasIn(run, service, environment) });
    const extra = [...saved.keys()].filter((slot) => !planned.includes(slot)).sort((a, b) => ordinalOf(a) - ordinalOf(b));
    groups.push({ service: pair.service, environment: pair.environment, requests: [...planned, ...extra].map(request) });
    for (const h of (await gatherInventory(run, service, environment)).hosts) hosts.set(h.name, h);
  }
  const moving = new Set(groups.map((g) => `${g.service}\0${g.environment}`));
  const reserved: Reservation[] = slots
    .filter((s) => !moving.has(`${s.service}\0${s.environment}`))
    .map((s) => {
      const resources = run.project.services.get(s.service)?.resources ?? {};
      return { host: s.host, service: s.service, environment: s.environment, cpus: resources.cpus ?? 0, memoryBytes: resources.memoryBytes ?? 0 };
    });
  return { hosts: [...hosts.values()], reserved, groups, lost };
}

/**
 * Before a host that was down takes part again: every container of the project on it whose slot
 * the ledger places on another host (it failed over) is removed, not started. Its addresses are
 * not touched: they belong to the slots, which run elsewhere. Returns the removed containers' names.
 */
export async function removeStale(run: RunContext, host: string): Promise<string[]> {
  const engine = run.hosts.engine(host);
  const where = new Map((await allSlots(run.db)).map((s) => [`${s.environment}\0${s.slot}`, s.host]));
  const found = await engine.containers.summaries([`${RUN_LABELS.project}=${run.project.name}`]);
  const removed: string[] = [];
  for (const c of found) {
    const slot = c.labels[RUN_LABELS.instance];
    const environment = c.labels[RUN_LABELS.environment];
    if (slot === undefined || environment === undefined) continue;
    const lives = where.get(`${environment}\0${slot}`);
    if (lives === undefined || lives === host) continue;
    await engine.containers.remove(c.id);
    removed.push(c.name);
  }
  return removed.sort();
}

function auditOf(event: FailoverEvent) {
  if (event.type === 'failover-waiting') {
    return { action: 'failover.wait', target: `${event.service}/${event.environment}`, outcome: 'failed' as const, params: { slots: event.slots, message: event.message } };
  }
  return { action: 'failover.move', target: `${event.service}/${event.environment}`, outcome: event.outcome, params: { moves: event.moves, ...(event.rollout ? { rollout: event.rollout } : {}), message: event.message } };
}
