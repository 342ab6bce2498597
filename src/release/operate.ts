/** Day-to-day operations on a deployed service: logs, exec, stop, rm (restart.ts: restart). */
import { notFound } from '../errors.js';
import { stopDoorOf } from '../rollout/front-door.js';
import { allRefs, releaseDigest } from '../store/refs.js';
import { environmentOf, ipamOf, networkOf, serviceOf, type RunContext } from '../runtime/context.js';
import { listFleet, listInstances, type InstanceStatus } from '../runtime/instances.js';
import { unreachableError } from '../runtime/reach.js';
import { removeInstance } from '../rollout/remove.js';
import { conflict } from '../errors.js';
import { currentRelease, type OperationKind } from '../store/releases.js';
import { acquire, leaseSettingsFor, type HeldLease, type LeaseSettings } from '../rollout/lease.js';
import { actor, recoverInterrupted, repairWait, runOperation, type RolloutOptions } from '../rollout/executor.js';
import { applyOperation, operationContext, type OperationResult } from '../rollout/operation.js';
import type { SlotOutcome } from '../rollout/ops-steps.js';
import type { OperationStep } from '../rollout/rollout-plan.js';

/** A service's instances in an environment, or one instance when `name` is a slot. */
export async function selectInstances(context: RunContext, name: string, environment: string, options: { withMissing?: boolean } = {}): Promise<InstanceStatus[]> {
  environmentOf(context.project, environment);
  const isSlot = !context.project.services.has(name);
  if (!isSlot) serviceOf(context.project, name);
  const listing = await listFleet(context, { environment, withMissing: true });
  const all = listing.instances.filter((i) => options.withMissing || i.state !== 'missing');
  const chosen = all.filter((i) => (isSlot ? i.slot === name : i.service === name));
  // Instances on hosts that answer are enough; one recorded on a host that does not (or none found while one does not) is not.
  const silent = new Set(chosen.filter((i) => i.state === 'unknown').map((i) => i.host));
  const needed = listing.unreachable.filter((u) => silent.has(u.host) || chosen.length === 0);
  if (needed.length > 0) throw unreachableError(needed, `${name} in ${environment}`);
  if (chosen.length === 0) {
    if (isSlot && !all.some((i) => i.slot === name) && ![...context.project.services.keys()].some((s) => name.startsWith(`${s}-`))) serviceOf(context.project, name);
    throw notFound(`no instances of ${name} in ${environment}`, { fix: `deploy it first: berth deploy ${isSlot ? '<service>' : name} --env ${environment}` });
  }
  return chosen;
}

export interface LogOptions {
  follow?: boolean;
  /** Seconds since the epoch. */
  since?: number;
  tail?: number;
  onLine: (slot: string, line: string) => void;
}

/** Each instance's lines prefixed by its slot; with `follow`, merged as they come until every stream ends. */
export async function instanceLogs(context: RunContext, instances: InstanceStatus[], options: LogOptions): Promise<void> {
  const width = Math.max(...instances.map((i) => i.slot.length));
  const emitLines = (slot: string, text: string, pending: { rest: string }) => {
    const lines = (pending.rest + text).split('\n');
    pending.rest = lines.pop() ?? '';
    for (const line of lines) options.onLine(slot.padEnd(width), line);
  };
  await Promise.all(
    instances.map(async (instance) => {
      const engine = context.hosts.engine(instance.host);
      const pending = { rest: '' };
      const query = { ...(options.since !== undefined ? { since: options.since } : {}), ...(options.tail !== undefined ? { tail: options.tail } : {}) };
      if (options.follow) await engine.containers.follow(instance.id, query, (text) => emitLines(instance.slot, text, pending));
      else emitLines(instance.slot, await engine.containers.logs(instance.id, query), pending);
      if (pending.rest) options.onLine(instance.slot.padEnd(width), pending.rest);
    }),
  );
}

export async function execIn(context: RunContext, instance: InstanceStatus, command: string[]): Promise<{ exitCode: number; output: string }> {
  return context.hosts.engine(instance.host).exec(instance.id, command);
}

/** `berth stop`: the instances' containers stopped, as a rollout of kind 'stop' under the service's lease; they keep their slots and addresses. */
export async function stopInstances(run: RunContext, instances: InstanceStatus[], environment: string, options: OperationOptions = {}): Promise<void> {
  for (const [service, of] of byService(instances)) {
    const at = hostsOf(of);
    await operate(run, service, environment, 'stop', [{ op: 'stop', slots: Object.keys(at), at }], options);
  }
}

/**
 * `berth rm`: the instances removed, their addresses into quarantine, as a rollout of kind 'rm' under the
 * service's lease; once nothing of the service is left, its front door and deployed-digest references end too.
 * Returns the addresses released, in the order of the instances.
 */
export async function rmInstances(run: RunContext, instances: InstanceStatus[], environment: string, options: OperationOptions = {}): Promise<string[]> {
  const released = new Map<string, string>();
  for (const [service, of] of byService(instances)) {
    const at = hostsOf(of);
    const all = (await listInstances(run, { environment, withMissing: true })).filter((i) => i.service === service);
    const everything = all.every((i) => i.slot in at);
    const steps: OperationStep[] = [{ op: 'rm', slots: Object.keys(at), at }, ...(everything ? [{ op: 'retire' } as const] : [])];
    await operate(run, service, environment, 'rm', steps, { ...options, outcome: (o) => (o.op === 'rm' && o.ip ? released.set(o.slot, o.ip) : undefined) });
  }
  return [...new Set(instances.map((i) => released.get(i.slot)).filter((ip): ip is string => ip !== undefined))];
}

export interface OperationOptions {
  /** Told what the operation waits for (a repair by the reconciler) and, resuming an interrupted rollout first, its progress. */
  emit?: RolloutOptions['emit'];
  outcome?: (outcome: SlotOutcome) => void;
  onJournaled?: (rollout: number) => void;
  timeoutMs?: number;
  signal?: AbortSignal;
  /** The lease's TTL, clock and holder (a test plays another process). */
  lease?: LeaseSettings;
}

function byService(instances: InstanceStatus[]): Map<string, InstanceStatus[]> {
  const services = new Map<string, InstanceStatus[]>();
  for (const i of instances) services.set(i.service, [...(services.get(i.service) ?? []), i]);
  return services;
}

/** Slot → its host, in the instances' order (a slot's set-aside container is on the same host as its own). */
function hostsOf(instances: InstanceStatus[]): Record<string, string> {
  const at: Record<string, string> = {};
  for (const i of instances) at[i.slot] ??= i.host;
  return at;
}

/** Journals and runs the steps as a rollout of `kind` under the service's lease; returns how it ended. */
export async function operate(run: RunContext, service: string, environment: string, kind: OperationKind, steps: OperationStep[], options: OperationOptions): Promise<OperationResult> {
  const lease = await operationLease(run, service, environment, kind, options);
  const emit = options.emit ?? (() => {});
  let ctx;
  try {
    ctx = await operationContext(run, service, environment, lease, { emit, timeoutMs: options.timeoutMs ?? 120_000, ...(options.outcome ? { outcome: options.outcome } : {}), ...(options.signal ? { signal: options.signal } : {}) });
  } catch (error) {
    await lease.release();
    throw error;
  }
  const release = (await currentRelease(run.db, service, environment)) ?? 0;
  return await runOperation(ctx, { kind, release, actor: actor(run.env), plan: { target: release, phase: 'forward', steps }, ...(options.onJournaled ? { onJournaled: options.onJournaled } : {}) }, applyOperation);
}

/**
 * The service's lease for an operation: a rollout a killed berth left is finished first (as before any
 * rollout), a repair by the reconciler waited for, and any other holder a conflict that names it.
 */
async function operationLease(run: RunContext, service: string, environment: string, kind: OperationKind, options: OperationOptions): Promise<HeldLease> {
  const wait = () => repairWait({ ...options, ...(options.emit ? { emit: options.emit } : {}) });
  const first = await acquire(run.db, service, environment, 0, options.lease ?? leaseSettingsFor(run), wait());
  if (!first.interrupted) return first.lease;
  // Not asked of every host up front: a stop on one host works while another does not answer, unless there is a rollout to finish.
  first.lease.stop();
  await recoverInterrupted(run, service, environment, options, `the ${kind} of ${service} in ${environment}`);
  const { lease, interrupted } = await acquire(run.db, service, environment, 0, options.lease ?? leaseSettingsFor(run), wait());
  if (interrupted) {
    lease.stop();
    throw conflict(`rollout #${interrupted.id} of ${service} in ${environment} was interrupted just now`, { fix: `run the same command again: it finishes that rollout first (or end it: berth rollout abandon ${interrupted.id})` });
  }
  return lease;
}

/**
 * Removes the instances at once, without the service's lease or a journal (`berth rm` is rmInstances): what a
 * test's cleanup uses to leave nothing behind whatever state it left the service in.
 */
export async function removeInstances(context: RunContext, instances: InstanceStatus[], environment: string): Promise<string[]> {
  const ipam = ipamOf(context);
  const network = networkOf(context.project, environmentOf(context.project, environment));
  const ips = await Promise.all(
    instances.map((i) => {
      const grace = context.project.services.get(i.service)?.stopGraceSeconds ?? 10;
      return removeInstance(context, ipam, { host: i.host, id: i.id, slot: i.slot, environment, network: { mode: network.mode, name: i.network || network.name }, graceSeconds: grace });
    }),
  );
  const released = ips.filter((ip): ip is string => ip !== undefined);
  const left = await listInstances(context, { environment });
  const services = new Set(instances.map((i) => i.service));
  for (const service of services) {
    if (left.some((i) => i.service === service)) continue;
    // Nothing of the service runs here any more: its front door goes too (its port stays reserved for it).
    await stopDoorOf(context, service, environment);
    for (const ref of await allRefs(context.db)) {
      if (ref.kind === 'deployed' && ref.service === service && ref.environment === environment) await releaseDigest(context.db, ref);
    }
  }
  return released;
}
