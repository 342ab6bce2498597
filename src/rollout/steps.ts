/**
 * The rollout steps against the engines and the front door. Each one looks at
 * what runs first, so running it again after a crash finishes what is left.
 */
import type { ContainerState } from '../engine/containers.js';
import { checkRunning, launchSlot, LaunchError, restore, setAside, type LaunchedContainer, type LaunchInput } from './launch.js';
import { announceMovedAddress, checkAddressFree, type AddressWorkDone } from '../network/address-work.js';
import { RUN_LABELS, WARDEN_NAME } from '../runtime/labels.js';
import { removeInstance } from './remove.js';
import { runOperationStep } from './ops-steps.js';
import { containerName } from '../runtime/slots.js';
import { Semaphore } from '../imaging/semaphore.js';
import type { Observed } from '../runtime/observe.js';
import { LatencyLimit } from './latency-limit.js';
import { invalid } from '../errors.js';
import { saveSlot } from '../store/deployments.js';
import { isLostLease } from '../store/leases.js';
import { NO_DOOR, NORMAL_WEIGHT, type DoorServer } from './door.js';
import { checkpoint } from '../fault.js';
import { canaryWeights, type RolloutStep } from './rollout-plan.js';
import { runPrepareStep } from './prepare.js';
import { journaled, observe, ordinalOf, placementOf, targetHash, type RolloutContext } from './rollout-context.js';

/** Removals of one step at once when the command asked for no number (drains wait on the front door). */
const REMOVALS_AT_ONCE = 16;

export async function runStep(ctx: RolloutContext, step: RolloutStep): Promise<void> {
  switch (step.op) {
    case 'front-door':
      return frontDoor(ctx);
    case 'create':
    case 'surge':
      return eachSlot(ctx, step.slots, (slot, here, sample) => ensureInstance(ctx, slot, NORMAL_WEIGHT, here, sample));
    case 'canary':
      return canary(ctx, step.slots, step.share);
    case 'drain':
      await Promise.all(step.slots.map((slot) => ctx.door.drain(slot, ctx.service.rollout.drainMs)));
      return;
    case 'replace': {
      const moving = step.to ? { ...ctx, moves: new Map([...(ctx.moves ?? []), ...Object.entries(step.to)]) } : ctx;
      return eachSlot(moving, step.slots, (slot, here, sample) => replace(moving, slot, step.force ?? false, here, sample));
    }
    case 'remove': {
      // Drains wait on the door, not the engine: as many at once as before the limits followed the engine.
      const semaphore = new Semaphore(ctx.concurrency ?? REMOVALS_AT_ONCE);
      const seen = await observe(ctx);
      await Promise.all(step.slots.map((slot) => semaphore.run(() => removeSlot(ctx, slot, 'not desired (above the replica count)', seen))));
      return;
    }
    case 'converge':
      return converge(ctx, [], step.replicas);
    case 'networks':
    case 'adopt-names':
    case 'addresses':
    case 'record-release':
    case 'pull':
    case 'scale':
      return runPrepareStep(ctx, step);
    case 'tidy':
      return converge(ctx, []);
    default:
      return runOperationStep(ctx, step);
  }
}

/**
 * Runs `act` for each slot, and waits for all of them before it reports the first failure: a rollback never
 * starts while a launch of the same step is still under way. What the engines run is observed once for the
 * step (each host listed once, not once per slot); each slot's act gets its own containers from it (a slot's
 * act changes only its own). Launches run as many at once on each host as its engine keeps up with
 * (latency-limit.ts), or `ctx.concurrency` in all when the command asked for a number.
 */
async function eachSlot(ctx: RolloutContext, slots: readonly string[], act: (slot: string, here: Observed[], sample: (engineMs: number) => void) => Promise<void>): Promise<void> {
  await claimAddressesInOrder(ctx, slots);
  const seen = await observe(ctx);
  const limit = launchLimits(ctx);
  const outcomes = await Promise.allSettled(slots.map((slot) => limit(placementOf(ctx, slot).host)((sample) => act(slot, seen.filter((o) => o.slot === slot), sample))));
  const failure = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
  if (failure) throw failure.reason;
}

type Limit = <T>(task: (sample: (engineMs: number) => void) => Promise<T>) => Promise<T>;

/** One step's limits: a latency limit per host, or one fixed semaphore for every host. */
function launchLimits(ctx: RolloutContext): (host: string) => Limit {
  if (ctx.concurrency !== undefined) {
    const semaphore = new Semaphore(ctx.concurrency);
    return () => (task) => semaphore.run(() => task(() => {}));
  }
  const perHost = new Map<string, LatencyLimit>();
  return (host) => {
    let limit = perHost.get(host);
    if (!limit) perHost.set(host, (limit = new LatencyLimit()));
    return (task) => limit.run(task);
  };
}

/**
 * New slots of a flat network get their addresses in slot order before they launch in parallel,
 * so slot 1 has the lowest free address whatever order the launches reach the store in.
 */
async function claimAddressesInOrder(ctx: RolloutContext, slots: readonly string[]): Promise<void> {
  const { network, ipam } = ctx.target;
  if (network.mode !== 'flat') return;
  const owned = new Set((await ipam.allocations(network.name)).map((a) => a.slot));
  const claimed: string[] = [];
  try {
    for (const slot of slots.filter((s) => !owned.has(s))) {
      await ipam.requestAddress(network.name, slot);
      claimed.push(slot);
    }
  } catch (error) {
    // An exhausted pool: none of the step's slots launches, so none keeps an address.
    for (const slot of claimed) await ipam.releaseAddress(network.name, slot);
    throw error;
  }
}

/** The instance into the front door; without one (a deploy), nothing to do: a service without ports needs no door. */
async function upsertServer(ctx: RolloutContext, host: string, slot: string, state: ContainerState, weight: number): Promise<void> {
  if (ctx.door !== NO_DOOR) await ctx.door.upsert(serverFor(ctx, host, slot, state, weight));
}

/** The service's port the front door sends requests to. */
export function servicePort(ctx: RolloutContext): number {
  const port = ctx.service.ports[0];
  if (port === undefined) throw invalid(`service ${ctx.service.name} has no ports, so a front door cannot reach it`, { fix: `set services.${ctx.service.name}.ports in berth.yaml` });
  return port;
}

/** Where the front door reaches an instance: its own address on flat networks, the published port on nat, the host on host. */
export function serverFor(ctx: RolloutContext, host: string, slot: string, state: ContainerState, weight: number): DoorServer {
  const port = servicePort(ctx);
  const endpoint = state.networks[ctx.target.dockerName];
  if (ctx.target.network.mode === 'flat' && endpoint?.ip) return { name: slot, address: endpoint.ip, port, weight };
  if (ctx.target.network.mode === 'nat') {
    const published = state.ports[`${port}/tcp`];
    if (published) return { name: slot, address: ctx.run.hosts.address(host), port: published, weight };
  }
  return { name: slot, address: ctx.run.hosts.address(host), port, weight };
}

async function frontDoor(ctx: RolloutContext): Promise<void> {
  const servers = await runningServers(ctx, () => NORMAL_WEIGHT);
  await ctx.door.sync(servers);
}

/** Every running instance of the service (not set-aside ones), as front door servers. */
async function runningServers(ctx: RolloutContext, weightOf: (slot: string) => number): Promise<DoorServer[]> {
  if (ctx.door === NO_DOOR) return [];
  const observed = (await observe(ctx)).filter((o) => o.running && o.role === 'main');
  const servers = await Promise.all(
    observed.map(async (o) => {
      const state = await ctx.run.hosts.engine(o.host).containers.inspect(o.id);
      return state ? serverFor(ctx, o.host, o.slot, state, weightOf(o.slot)) : undefined;
    }),
  );
  return servers.filter((s): s is DoorServer => s !== undefined);
}

/** A running container of the target release in the slot, in the front door; launched if missing or outdated. */
async function ensureInstance(ctx: RolloutContext, slot: string, weight: number, current: readonly Observed[], sample?: (engineMs: number) => void): Promise<void> {
  const want = await targetHash(ctx, slot);
  const host = placementOf(ctx, slot).host;
  const candidate = current.find((o) => o.role === 'main' && o.host === host && o.specHash === want && o.running);
  const ok = candidate && (await passes(ctx, candidate)) ? candidate : undefined;
  for (const o of current) if (o !== ok) await ctx.run.hosts.engine(o.host).containers.remove(o.id);
  if (ok) {
    const state = await ctx.run.hosts.engine(ok.host).containers.inspect(ok.id);
    if (state) await upsertServer(ctx, ok.host, slot, state, weight);
    return;
  }
  await launchInto(ctx, slot, weight, 'create', sample);
}

async function launchInto(ctx: RolloutContext, slot: string, weight: number, action: 'create' | 'replace', sample?: (engineMs: number) => void): Promise<void> {
  const placement = placementOf(ctx, slot);
  ctx.emit({ type: 'instance', slot, text: 'starting' });
  ctx.report({ type: 'launch', slot, action });
  await checkpoint('launch');
  let launched;
  try {
    launched = await launchSlot({ context: ctx.run, ipam: ctx.target.ipam, input: await ctx.target.input(placement), files: ctx.target.files, rollout: ctx.rollout, timeoutMs: ctx.timeoutMs, ensureImage: (h) => ctx.images.ensure(h), onNote: (text) => ctx.emit({ type: 'note', text }), ...arpAroundMove(ctx, slot, placement.host), ...(ctx.signal ? { signal: ctx.signal } : {}), ...(sample ? { onEngineTime: sample } : {}) });
  } catch (error) {
    const e = LaunchError.from(slot, error);
    ctx.report({ type: 'failed', slot, reason: e.reason });
    throw e;
  }
  try {
    await rememberSlot(ctx, slot, placement.host, launched.state.ports);
    await upsertServer(ctx, placement.host, slot, launched.state, weight);
  } catch (error) {
    // Launched but not taken in (the store or the front door refused): it goes, or it would keep the slot's name and the
    // previous instance could not come back under it. A lost lease leaves the slot as it stands to the new holder.
    if (!isLostLease(error)) await ctx.run.hosts.engine(placement.host).containers.remove(launched.id).catch(() => {});
    throw error;
  }
  ctx.emit({ type: 'instance', slot, text: `healthy in ${launched.ms} ms, in the front door` });
  ctx.report({ type: 'ready', slot, host: placement.host, id: launched.id, state: launched.state, ms: launched.ms });
}

/**
 * A slot moving to another host on a flat network keeps its IP and MAC: before it starts there, nobody may
 * answer for the IP (the old host may be unreachable while its container still runs); once it runs, it
 * announces the address so switches and neighbours learn its new port at once. The host's warden does both
 * when it runs one (an exec each), else helper containers (network/address-work.ts). Only for moves: a fresh
 * launch relies on the IPAM ledger, and the check costs seconds (arping waits for answers).
 */
function arpAroundMove(ctx: RolloutContext, slot: string, host: string): Pick<LaunchInput, 'beforeStart' | 'afterStart'> {
  if (!ctx.moves?.has(slot) || ctx.target.network.mode !== 'flat') return {};
  const engine = ctx.run.hosts.engine(host);
  const bridge = ctx.target.network.bridge;
  const helper = (c: LaunchedContainer, what: string) => ({ slot, host, ip: c.ip!, image: c.image, labels: c.labels, name: `${containerName(ctx.run.project.name, slot)}-${what}` });
  const by = (done: AddressWorkDone) => (done.by === 'warden' ? 'by its warden' : `by a helper container: ${done.instead}`);
  return {
    beforeStart: async (c) => {
      const started = Date.now();
      const done = await checkAddressFree(engine, WARDEN_NAME, { ...helper(c, 'arp-check'), dockerNetwork: ctx.target.dockerName, ...(bridge ? { bridge } : {}) });
      ctx.emit({ type: 'instance', slot, text: `nobody answers for ${c.ip} on the LAN (checked from ${host} in ${Date.now() - started} ms ${by(done)})` });
    },
    afterStart: async (c) => {
      const started = Date.now();
      const done = await announceMovedAddress(engine, WARDEN_NAME, { ...helper(c, 'arp-announce'), container: c.id, ...(c.pid !== undefined ? { pid: c.pid } : {}) });
      ctx.emit({ type: 'instance', slot, text: done.problem ? `could not announce ${c.ip} on the LAN (neighbours learn it at their next ARP): ${done.problem}` : `announced ${c.ip} on the LAN from ${host} in ${Date.now() - started} ms ${by(done)}` });
    },
  };
}

/** The slot's placement and kept host ports, in the store. */
async function rememberSlot(ctx: RolloutContext, slot: string, host: string, hostPorts: Record<string, number>): Promise<void> {
  await journaled(ctx, async () => await saveSlot(ctx.run.db, { environment: ctx.environment.name, slot, service: ctx.service.name, ordinal: ordinalOf(slot), host, network: ctx.target.network.name, hostPorts }));
}

/** Old instance aside, new one on the same slot and address; on failure the old one is put back and serves again. */
async function replace(ctx: RolloutContext, slot: string, force: boolean, here: readonly Observed[], sample?: (engineMs: number) => void): Promise<void> {
  const want = await targetHash(ctx, slot);
  const host = placementOf(ctx, slot).host;
  const main = here.find((o) => o.role === 'main');
  let aside = here.find((o) => o.role === 'aside');
  // A container of the slot under another name (an older naming, a copy) holds its address or name: it goes first.
  for (const o of here.filter((x) => x.role === 'stray')) await ctx.run.hosts.engine(o.host).containers.remove(o.id);
  // Forced, only an instance this rollout launched counts as replaced.
  const launchedHere = !force || main?.labels[RUN_LABELS.deployment] === String(ctx.rollout);
  if (main && main.host === host && main.specHash === want && main.running && launchedHere && (await passes(ctx, main))) {
    // Already replaced before a crash: finish the step (a moved slot's record may still name its old host).
    const state = await ctx.run.hosts.engine(main.host).containers.inspect(main.id);
    if (state) {
      await rememberSlot(ctx, slot, main.host, state.ports);
      await upsertServer(ctx, main.host, slot, state, NORMAL_WEIGHT);
    }
    if (aside) await ctx.run.hosts.engine(aside.host).containers.remove(aside.id);
    return;
  }
  if (main && aside) {
    // A half-launched new container from before a crash: the set-aside one is the old release.
    await ctx.run.hosts.engine(main.host).containers.remove(main.id);
  } else if (main) {
    await setAside(ctx.run.hosts.engine(main.host), main.id, ctx.run.project.name, slot, ctx.service.stopGraceSeconds);
    aside = { ...main, role: 'aside', running: false };
  }
  // Renamed aside before a crash but not stopped: it still holds the slot's address.
  if (aside?.running) await ctx.run.hosts.engine(aside.host).containers.stop(aside.id, ctx.service.stopGraceSeconds);
  await checkpoint('replace');
  try {
    await launchInto(ctx, slot, NORMAL_WEIGHT, 'replace', sample);
  } catch (error) {
    // The lease went to another process: the slot is its to finish, as it stands.
    if (isLostLease(error)) throw error;
    if (aside) {
      await restore(ctx.run.hosts.engine(aside.host), ctx.target.ipam, aside.id, ctx.run.project.name, slot, ctx.target.network);
      const state = await ctx.run.hosts.engine(aside.host).containers.inspect(aside.id);
      if (state) await upsertServer(ctx, aside.host, slot, state, NORMAL_WEIGHT);
      ctx.emit({ type: 'instance', slot, text: 'restarted the previous instance' });
      ctx.report({ type: 'undo', slot, what: 'restarted the previous instance' });
    }
    throw LaunchError.from(slot, error);
  }
  if (aside) await ctx.run.hosts.engine(aside.host).containers.remove(aside.id);
}

/** An instance found running after a crash counts only if it passes its health check now. */
async function passes(ctx: RolloutContext, o: { host: string; id: string; slot: string }): Promise<boolean> {
  const gate = await checkRunning(ctx.run, o.host, o.id, ctx.service.health, ctx.target.network.mode === 'host' ? { mode: 'host', dockerName: 'host' } : { mode: ctx.target.network.mode, dockerName: ctx.target.dockerName }, ctx.timeoutMs);
  if (!gate.healthy) ctx.emit({ type: 'instance', slot: o.slot, text: `found running but not healthy (${gate.reason}); replacing it` });
  return gate.healthy;
}

/** `seen`: what the engines ran when the step began (a slot's removal changes only its own containers). */
async function removeSlot(ctx: RolloutContext, slot: string, reason: string, seen: readonly Observed[]): Promise<void> {
  await ctx.door.drain(slot, ctx.service.rollout.drainMs);
  await checkpoint('remove');
  await ctx.door.remove(slot);
  for (const o of seen.filter((x) => x.slot === slot)) {
    await removeInstance(ctx.run, ctx.target.ipam, {
      host: o.host,
      id: o.id,
      slot,
      environment: ctx.environment.name,
      network: ctx.target.network,
      graceSeconds: ctx.service.stopGraceSeconds,
    }, <T>(forget: () => Promise<T>) => journaled(ctx, forget));
  }
  ctx.emit({ type: 'instance', slot, text: 'drained and removed' });
  ctx.report({ type: 'removed', slot, reason });
}

async function canary(ctx: RolloutContext, slots: string[], share: number): Promise<void> {
  const seen = await observe(ctx);
  const main = seen.filter((o) => o.running && o.role === 'main' && !slots.includes(o.slot)).length;
  const weights = canaryWeights(main, slots.length, share);
  await Promise.all(slots.map((slot) => ensureInstance(ctx, slot, weights.canary, seen.filter((o) => o.slot === slot))));
  await converge(ctx, slots, undefined, weights);
}

/**
 * Leftovers removed (set-aside containers; with `replicas`, slots above it that
 * are not canaries), the front door holding exactly the running instances.
 */
export async function converge(ctx: RolloutContext, canaries: string[], replicas?: number, weights = { main: NORMAL_WEIGHT, canary: NORMAL_WEIGHT }): Promise<void> {
  const seen = await observe(ctx);
  for (const o of seen) {
    if (o.role !== 'main') {
      await ctx.run.hosts.engine(o.host).containers.remove(o.id);
      ctx.emit({ type: 'note', text: `removed ${o.name}, left over from an interrupted rollout` });
    } else if (replicas !== undefined && ordinalOf(o.slot) > replicas && !canaries.includes(o.slot)) {
      // Looked at again: the leftovers removed above may have been this slot's.
      await removeSlot(ctx, o.slot, replicas === 0 ? 'removed what the rollout started' : 'not desired (above the replica count)', await observe(ctx));
    }
  }
  const servers = await runningServers(ctx, (slot) => (canaries.includes(slot) ? weights.canary : weights.main));
  await ctx.door.sync(servers);
}
