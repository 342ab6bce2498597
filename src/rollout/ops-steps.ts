/**
 * The steps of the rollouts that act on what runs (`berth restart`, `stop`, `rm`, `rollout abandon`).
 * Like every step, each looks at what the engines run first, so running it again after a crash
 * finishes what is left. They need no release's image, no placement and no front door: their
 * context is the service's settings, its network and the lease.
 */
import type { EnvironmentSpec, ServiceSpec } from '../config/model.js';
import type { ContainerState } from '../engine/containers.js';
import { checkpoint } from '../fault.js';
import { waitHealthy } from '../health/gate.js';
import { stopFrontDoor } from '../lb/front-door.js';
import { doorPlaceOf } from './door-place.js';
import { doorId } from './front-door.js';
import type { RunContext } from '../runtime/context.js';
import { listInstances } from '../runtime/instances.js';
import { observeService, type Observed } from '../runtime/observe.js';
import type { ServiceTarget } from '../runtime/target.js';
import { slotsOf } from '../store/deployments.js';
import { fenced } from '../store/leases.js';
import { allRefs, releaseDigest } from '../store/refs.js';
import { restore } from './launch.js';
import type { HeldLease } from './lease.js';
import { removeInstance } from './remove.js';
import type { RolloutEvent } from './rollout-context.js';
import type { OperationStep } from './rollout-plan.js';

/** What a slot came to, for the command that asked for it. */
export type SlotOutcome =
  | { op: 'restart'; slot: string; healthy: boolean; reason?: string }
  | { op: 'stop'; slot: string }
  | { op: 'rm'; slot: string; ip?: string }
  | { op: 'restore'; slot: string };

/** What an operation's steps work with; a full RolloutContext is one too (an abandon's). */
export interface OperationContext {
  run: RunContext;
  service: ServiceSpec;
  environment: EnvironmentSpec;
  target: Pick<ServiceTarget, 'ipam' | 'network' | 'dockerName' | 'hostNames'>;
  /** The rollout's id once it is journaled. */
  rollout: number;
  lease?: HeldLease;
  /** Per restarted instance, until healthy. */
  timeoutMs: number;
  emit: (event: RolloutEvent) => void | Promise<void>;
  signal?: AbortSignal;
  /** Each slot's outcome (operation.ts passes it on to the command that asked, or as an instance line). */
  outcome?: (outcome: SlotOutcome) => void;
}

export async function runOperationStep(ctx: OperationContext, step: Exclude<OperationStep, { op: 'tidy' }>): Promise<void> {
  switch (step.op) {
    case 'restart':
      for (const slot of step.slots) await restartSlot(ctx, slot, step.at[slot]!);
      return;
    case 'stop':
      await Promise.all(step.slots.map((slot) => stopSlot(ctx, slot, step.at[slot]!)));
      return;
    case 'rm':
      await Promise.all(step.slots.map((slot) => rmSlot(ctx, slot, step.at[slot]!)));
      return;
    case 'retire':
      return retire(ctx);
    case 'restore':
      for (const slot of step.slots) await restoreSlot(ctx, slot);
      return;
  }
}

function tell(ctx: OperationContext, outcome: SlotOutcome): void {
  ctx.outcome?.(outcome);
}

function observeOn(ctx: OperationContext, hosts: Iterable<string>): Promise<Observed[]> {
  return observeService(ctx.run.hosts, hosts, ctx.run.project.name, ctx.service.name, ctx.environment.name);
}

async function mainOf(ctx: OperationContext, slot: string, host: string): Promise<Observed | undefined> {
  return (await observeOn(ctx, [host])).find((o) => o.slot === slot && o.role === 'main');
}

/** Restarted in place (same container), then health-gated; an unhealthy one is told, and the next slot's step goes on. */
async function restartSlot(ctx: OperationContext, slot: string, host: string): Promise<void> {
  const main = await mainOf(ctx, slot, host);
  if (!main) {
    tell(ctx, { op: 'restart', slot, healthy: false, reason: 'missing (no container)' });
    return;
  }
  const engine = ctx.run.hosts.engine(host);
  await checkpoint('restart');
  await engine.containers.restart(main.id, ctx.service.stopGraceSeconds);
  const state = await engine.containers.inspect(main.id);
  const gate = await waitHealthy(engine, main.id, ctx.service.health, { address: (port) => probeAddress(ctx, host, state, port) }, ctx.timeoutMs, state?.restartCount ?? 0, ctx.signal);
  if (gate.healthy) tell(ctx, { op: 'restart', slot, healthy: true });
  else tell(ctx, { op: 'restart', slot, healthy: false, reason: gate.reason });
}

/** Where Berth's probe reaches a restarted instance: its own address, else its published port, else the host. */
function probeAddress(ctx: OperationContext, host: string, state: ContainerState | undefined, port: number): { host: string; port: number } {
  const ip = state ? Object.values(state.networks)[0]?.ip : undefined;
  if (ip) return { host: ip, port };
  const published = state?.ports[`${port}/tcp`];
  return { host: ctx.run.hosts.address(host), port: published ?? port };
}

async function stopSlot(ctx: OperationContext, slot: string, host: string): Promise<void> {
  const main = await mainOf(ctx, slot, host);
  // Stopped before a crash, or gone: stopped is what was asked.
  if (main?.running || main?.restarting) await ctx.run.hosts.engine(host).containers.stop(main.id, ctx.service.stopGraceSeconds);
  tell(ctx, { op: 'stop', slot });
}

/** Every container of the slot goes (its set-aside one too), then its address and record; a slot already gone has only those left. */
async function rmSlot(ctx: OperationContext, slot: string, host: string): Promise<void> {
  const saved = (await slotsOf(ctx.run.db, ctx.service.name, ctx.environment.name)).find((s) => s.slot === slot);
  const network = { mode: ctx.target.network.mode, name: saved?.network || ctx.target.network.name };
  const containers = (await observeOn(ctx, [host])).filter((o) => o.slot === slot);
  // The others first; the slot's own container last, its address and record with it, once.
  const [own, ...others] = [...containers].sort((a, b) => Number(a.role !== 'main') - Number(b.role !== 'main'));
  for (const o of others) await ctx.run.hosts.engine(host).containers.remove(o.id);
  const ip = await removeInstance(ctx.run, ctx.target.ipam, { host, id: own?.id ?? '', slot, environment: ctx.environment.name, network, graceSeconds: ctx.service.stopGraceSeconds }, leased(ctx));
  tell(ctx, { op: 'rm', slot, ...(ip ? { ip } : {}) });
}

/** A write in the store, refused once the lease has another holder. */
function leased(ctx: OperationContext): <T>(write: () => Promise<T>) => Promise<T> {
  return (write) => (ctx.lease ? fenced(ctx.run.db, ctx.lease, ctx.rollout, () => write()) : write());
}

/** Nothing of the service left in the environment: its front door goes (its port stays reserved for it), and what protected its digest. */
async function retire(ctx: OperationContext): Promise<void> {
  const { run } = ctx;
  const service = ctx.service.name;
  const environment = ctx.environment.name;
  if ((await listInstances(run, { environment })).some((i) => i.service === service)) return;
  await stopFrontDoor(doorId(service, environment), doorPlaceOf(run, ctx.environment));
  for (const ref of await allRefs(run.db)) {
    if (ref.kind === 'deployed' && ref.service === service && ref.environment === environment) await releaseDigest(run.db, ref);
  }
}

/** The set-aside container back under the slot's name and address, unless a main one runs (then it is a leftover). */
async function restoreSlot(ctx: OperationContext, slot: string): Promise<void> {
  const here = (await observeOn(ctx, ctx.target.hostNames)).filter((o) => o.slot === slot);
  const aside = here.find((o) => o.role === 'aside');
  const main = here.find((o) => o.role === 'main');
  if (!aside || main?.running) return;
  // A move launches the new container on another host than the set-aside one.
  if (main) {
    await ctx.run.hosts.engine(main.host).containers.remove(main.id);
    tell(ctx, { op: 'rm', slot });
  }
  await checkpoint('restore');
  await restore(ctx.run.hosts.engine(aside.host), ctx.target.ipam, aside.id, ctx.run.project.name, slot, ctx.target.network);
  tell(ctx, { op: 'restore', slot });
}
