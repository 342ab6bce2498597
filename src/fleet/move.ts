/**
 * Moving instances between hosts, called by the CLI and the HTTP API (server/routes/operations.ts):
 * drain a host (every instance on it moves, the host gets nothing new until
 * undrained) and move one instance. Each service × environment moves in its
 * own journaled, locked rollout of kind 'move' (rollout/executor.ts), so an
 * interrupted drain resumes when it is run again.
 */
import type { RunContext } from '../runtime/context.js';
import { environmentOf } from '../runtime/context.js';
import { conflict, invalid, isBerthError, notFound, failed, type BerthError } from '../errors.js';
import { checkDrain, checkMove } from './move-check.js';
import { allSlots, type SlotRecord } from '../store/deployments.js';
import { clearHostState, hostStates, markDraining } from '../store/hosts.js';
import { hostHealth, setHostHealth } from '../store/host-health.js';
import { currentRelease, openRollouts } from '../store/releases.js';
import { movesOff, planMoves, type SlotOnHost } from '../release/move-plan.js';
import { ordinalOf, type RolloutContext } from '../rollout/rollout-context.js';
import { actor, replicasIn, requireRelease, rollout, type RolloutOptions } from '../rollout/executor.js';
import type { RolloutPlan } from '../rollout/rollout-plan.js';

export interface MovedInstance {
  service: string;
  environment: string;
  slot: string;
  from: string;
  to: string;
}

export interface StayedInstance {
  service: string;
  environment: string;
  slot: string;
  host: string;
  reason: string;
}

export interface MoveResult {
  /** The drained host, or the host `berth move` moved to. */
  host: string;
  moved: MovedInstance[];
  /** Instances that should have moved and did not, with why: the command did not finish. */
  stayed: StayedInstance[];
  /** The move rollouts journaled, one per service × environment. */
  rollouts: number[];
}

/**
 * Marks `host` draining (it gets nothing new), then moves every instance on it where the placement
 * planner puts it (the rollouts' `leave`: spread, room, labels; never a draining or unreachable host).
 * When the fleet cannot take them all, nothing moves and the host stays draining.
 */
export async function drainHost(run: RunContext, host: string, options: RolloutOptions = {}): Promise<MoveResult> {
  run.hosts.spec(host);
  await markDraining(run.db, host, actor(run.env), 'berth host drain');
  const before = (await allSlots(run.db)).filter((s) => s.host === host);
  // An interrupted move whose slots all left already still has its journal to finish.
  const interrupted = (await openRollouts(run.db)).filter((r) => r.kind === 'move' && r.status === 'running');
  const pairs = uniquePairs([...before, ...interrupted]);
  // Where everything goes is checked before the first instance moves: an impossible drain moves nothing.
  await checkDrain(run, host, pairs);
  const reasons = new Map<string, string>();
  const rollouts: number[] = [];
  for (const { service, environment } of pairs) {
    try {
      const onHost = (ctx: RolloutContext) => [...ctx.target.saved.values()].filter((s) => s.host === host);
      const id = await moveWith(run, service, environment, (ctx) => movesOff(onHost(ctx), planned(ctx)), { ...options, leave: new Set([host]) });
      if (id !== undefined) rollouts.push(id);
    } catch (error) {
      reasons.set(pairKey(service, environment), reasonOf(error));
    }
  }
  return await outcome(run, host, before, (s) => s.host === host, reasons, rollouts);
}

export interface UndrainResult {
  host: string;
  state: 'ready';
  wasDraining: boolean;
}

/** Clears the draining state, and lets a returning host (back after it was down) take work at once; instances are not moved back. */
export async function undrainHost(run: RunContext, host: string): Promise<UndrainResult> {
  run.hosts.spec(host);
  const health = (await hostHealth(run.db)).get(host);
  const returning = health?.state === 'returning';
  if (returning) await setHostHealth(run.db, { name: host, state: 'up', since: Date.now(), reason: 'undrained by an operator' });
  return { host, state: 'ready', wasDraining: (await clearHostState(run.db, host)) || returning };
}

/** Moves one instance (`slot`, e.g. hello-production-4) of `environment` to `to`, keeping its address. */
export async function moveInstance(run: RunContext, slot: string, environmentName: string, to: string, options: RolloutOptions = {}): Promise<MoveResult> {
  const environment = environmentOf(run.project, environmentName);
  run.hosts.spec(to);
  const record = (await allSlots(run.db, environment.name)).find((s) => s.slot === slot);
  if (!record) throw notFound(`no instance ${slot} in ${environment.name}`, { fix: `list the instances with: berth ps --env ${environment.name}` });
  if (!environment.hosts.includes(to)) {
    throw invalid(`${to} is not a host of environment ${environment.name} (its hosts: ${environment.hosts.join(', ')})`, { fix: `add it to environments.${environment.name}.hosts in berth.yaml, or move to one of those` });
  }
  if ((await hostStates(run.db)).has(to)) throw conflict(`${to} is draining: it gets no new instances`, { fix: `undrain it first: berth host undrain ${to}` });
  if (record.host !== to) await checkMove(run, { service: record.service, environment: environment.name }, slot, to);
  const reasons = new Map<string, string>();
  const rollouts: number[] = [];
  try {
    const pin = record.host === to ? {} : { moves: new Map([[slot, to]]) };
    const id = await moveWith(run, record.service, environment.name, (ctx) => movesOff(savedSlot(ctx, slot), planned(ctx)), { ...options, ...pin });
    if (id !== undefined) rollouts.push(id);
  } catch (error) {
    reasons.set(pairKey(record.service, environment.name), reasonOf(error));
  }
  return await outcome(run, to, [record], (s) => s.slot === slot && s.host !== to, reasons, rollouts);
}

/** Where the rollout's placement (planned with its `leave` or pin) puts a slot. */
function planned(ctx: RolloutContext): (slot: string) => string {
  return (slot) => ctx.target.placer.placement(slot).host;
}

function savedSlot(ctx: RolloutContext, slot: string): SlotOnHost[] {
  const saved = ctx.target.saved.get(slot);
  return saved ? [saved] : [];
}

/** One rollout of kind 'move' of the release the environment runs; undefined when there was nothing to move. */
async function moveWith(run: RunContext, service: string, environment: string, choose: (ctx: RolloutContext) => Map<string, string>, options: RolloutOptions): Promise<number | undefined> {
  const current = await currentRelease(run.db, service, environment);
  if (current === undefined) throw failed(`no release of ${service} ran to success in ${environment}, so there is nothing to move it with`, { fix: `roll one out first: berth release ${service} --env ${environment}` });
  const release = await requireRelease(run, service, current);
  const plan = async (ctx: RolloutContext): Promise<RolloutPlan> => ({
    target: ctx.release.number,
    phase: 'forward',
    steps: planMoves(choose(ctx), await replicasIn(run, ctx.service, ctx.environment), ctx.service.rollout, ordinalOf),
  });
  const result = await rollout(run, environment, { kind: 'move', release, previous: current, forced: false, plan }, options);
  return result.message.startsWith('nothing to do') ? undefined : result.rollout;
}

/** What moved and what stayed, read back from the store: the truth of where each slot runs now. */
async function outcome(run: RunContext, host: string, before: readonly SlotRecord[], stillThere: (s: SlotRecord) => boolean, reasons: ReadonlyMap<string, string>, rollouts: number[]): Promise<MoveResult> {
  const now = new Map((await allSlots(run.db)).map((s) => [`${s.environment}/${s.slot}`, s]));
  const moved: MovedInstance[] = [];
  const stayed: StayedInstance[] = [];
  for (const s of before) {
    const after = now.get(`${s.environment}/${s.slot}`);
    if (!after) continue;
    if (stillThere(after)) stayed.push({ service: s.service, environment: s.environment, slot: s.slot, host: after.host, reason: reasons.get(pairKey(s.service, s.environment)) ?? 'not moved' });
    else if (after.host !== s.host) moved.push({ service: s.service, environment: s.environment, slot: s.slot, from: s.host, to: after.host });
  }
  return { host, moved, stayed, rollouts };
}

/** The command's error when instances stayed: what moved, what stayed where and why, and that running it again continues. */
export function unfinished(result: MoveResult, command: string): BerthError | undefined {
  if (result.stayed.length === 0) return undefined;
  const total = result.moved.length + result.stayed.length;
  const where = [...new Set(result.stayed.map((s) => s.host))].join(', ');
  return failed(`moved ${result.moved.length} of ${total}; ${result.stayed.map((s) => s.slot).join(', ')} ${result.stayed.length === 1 ? 'is' : 'are'} still on ${where}`, {
    lines: [...new Set(result.stayed.map((s) => `${s.service} in ${s.environment}: ${s.reason}`))],
    fix: `run the same command again to continue: ${command}`,
  });
}

function uniquePairs(items: readonly { service: string; environment: string }[]): { service: string; environment: string }[] {
  const seen = new Map(items.map((i) => [pairKey(i.service, i.environment), { service: i.service, environment: i.environment }]));
  return [...seen.values()];
}

function pairKey(service: string, environment: string): string {
  return `${service}\u0000${environment}`;
}

function reasonOf(error: unknown): string {
  if (isBerthError(error)) return [error.message, ...error.lines].join('; ');
  return error instanceof Error ? error.message : String(error);
}
