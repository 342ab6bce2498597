/**
 * The executor's per-slot actions on an engine: launch a new container for a
 * slot (address first, durably; then create, bind, copy its files in, start, verify, gate), put a
 * replaced container back, and remove an instance for good.
 */
import type { Allocation, Ipam } from '../network/ipam.js';
import type { ContainerState } from '../engine/containers.js';
import type { Engine } from '../engine/client.js';
import { BerthError, failed, isBerthError } from '../errors.js';
import type { RunContext } from '../runtime/context.js';
import { waitHealthy, type GateResult, type ProbeTarget } from '../health/gate.js';
import type { ServiceSpec } from '../config/model.js';
import { checkpoint } from '../fault.js';
import { slotBody, type SlotInput } from '../runtime/instance-spec.js';
import { RUN_LABELS } from '../runtime/labels.js';
import { copyInstanceFiles, type InstanceFiles } from '../runtime/instance-files.js';
import { asideName, containerName } from '../runtime/slots.js';

export interface Launched {
  slot: string;
  host: string;
  id: string;
  state: ContainerState;
  ms: number;
}

export class LaunchError extends Error {
  constructor(
    readonly slot: string,
    readonly reason: string,
    /** The instance's last log lines, when it got as far as running. */
    readonly logs: string[],
    /** When Berth itself refused (an exhausted pool, the engine's error): its lines and fix. */
    readonly refusal?: BerthError,
  ) {
    super(`${slot}: ${reason}`);
  }

  /** It started but never became healthy, as opposed to not starting at all. */
  get unhealthy(): boolean {
    return this.refusal === undefined;
  }

  static from(slot: string, error: unknown): LaunchError {
    if (error instanceof LaunchError) return error;
    return new LaunchError(slot, (error as Error).message, [], isBerthError(error) ? error : failed((error as Error).message));
  }
}

export interface LaunchInput {
  context: RunContext;
  ipam: Ipam;
  input: Omit<SlotInput, 'network'> & { network: Omit<SlotInput['network'], 'ip' | 'mac'> };
  /** The secrets and config files copied into the container after it is created and before it starts. */
  files: InstanceFiles;
  /** The rollout that launches it (the container's berth.deployment label). */
  rollout: number;
  timeoutMs: number;
  /** Called once the address is written, before the container exists. */
  onAddress?: (allocation: Allocation) => void;
  /** Makes sure the host's engine has the image (by digest) before the container is created. */
  ensureImage?: (host: string) => Promise<unknown>;
  /** Between create and start (a move's check that nobody answers for the address): a rejection stops the launch. */
  beforeStart?: (container: LaunchedContainer) => Promise<void>;
  /** Once started with its address verified, before the health gate (a move's announcement of the address). */
  afterStart?: (container: LaunchedContainer) => Promise<void>;
  /** Aborted (the rollout cancelled): the health gate stops waiting and the launch fails as an unhealthy one does. */
  signal?: AbortSignal;
  /** Told what the launch did differently from what was asked (a kept port taken: a new one). */
  onNote?: (text: string) => void;
  /** Told how long the engine took to create and start the container (the launch limit follows it). */
  onEngineTime?: (ms: number) => void;
}

/** What the hooks around start know of the new container. */
export interface LaunchedContainer {
  id: string;
  image: string;
  labels: Record<string, string>;
  ip?: string;
  /** Its process's pid once it runs (afterStart only): where a host-side tool enters its network namespace. */
  pid?: number;
}

const LOG_LINES = 20;

/** On failure, removes what it created and releases a newly requested address (the slot gets its own back next time). */
export async function launchSlot({ context, ipam, input, files, rollout, timeoutMs, onAddress, ensureImage, beforeStart, afterStart, signal, onNote, onEngineTime }: LaunchInput): Promise<Launched> {
  const { slot, host } = input;
  const engine = context.hosts.engine(host);
  const flat = input.network.mode === 'flat';
  const allocation = flat ? await ipam.requestAddress(input.network.name, slot) : undefined;
  if (allocation) onAddress?.(allocation);
  const bodyWith = (hostPorts: SlotInput['hostPorts']) => {
    const { body, specHash } = slotBody({ ...input, hostPorts, network: { ...input.network, ...(allocation ? { ip: allocation.ip, mac: allocation.mac } : {}) } });
    body.Labels = { ...body.Labels, [RUN_LABELS.spec]: specHash, [RUN_LABELS.deployment]: String(rollout), [RUN_LABELS.incarnation]: String(allocation?.incarnation ?? 1) };
    return body;
  };
  // The container being launched: removed again if the launch fails at any point.
  const made: { id?: string } = {};
  const started = Date.now();
  // The engine's own time (create and start calls), without a move's address check between them.
  const engineMs = { total: 0 };
  const timedCall = async <T>(call: () => Promise<T>): Promise<T> => {
    const at = Date.now();
    try {
      return await call();
    } finally {
      engineMs.total += Date.now() - at;
    }
  };
  const createAndStart = async (created: CreateBody): Promise<LaunchedContainer> => {
    const id = (made.id = await timedCall(() => engine.containers.create(created)));
    await checkpoint('created');
    if (allocation) await ipam.bind(input.network.name, slot, id, allocation.incarnation);
    await copyInstanceFiles(engine.containers, id, files);
    const container = { id, image: created.Image, labels: created.Labels ?? {}, ...(allocation ? { ip: allocation.ip } : {}) };
    await beforeStart?.(container);
    await timedCall(() => engine.containers.start(id));
    return container;
  };
  try {
    await ensureImage?.(host);
    let container: LaunchedContainer;
    try {
      container = await createAndStart(bodyWith(input.hostPorts));
    } catch (error) {
      const kept = Object.values(input.hostPorts);
      if (kept.length === 0 || !portTaken(error)) throw error;
      // An engine that restarted hands its containers new ephemeral ports, so the port this slot kept may be another's now.
      onNote?.(`${slot}: its port ${kept.join(', ')} is taken on ${host}; the engine picks another`);
      if (made.id !== undefined) await engine.containers.remove(made.id).catch(() => {});
      delete made.id;
      container = await createAndStart(bodyWith({}));
    }
    const { id } = container;
    onEngineTime?.(engineMs.total);
    await checkpoint('started');
    const state = await engine.containers.inspect(id);
    if (!state) throw new LaunchError(slot, 'the container vanished right after it started', [], failed('the container vanished right after it started'));
    if (allocation) verifyAddress(slot, state, input.network.dockerName, allocation);
    await afterStart?.({ ...container, ...(state.pid !== undefined ? { pid: state.pid } : {}) });
    const gate = await waitHealthy(engine, id, input.service.health, probeTarget(context, host, input.network.mode, input.network.dockerName, state), timeoutMs, 0, signal);
    if (!gate.healthy) throw new LaunchError(slot, gate.reason, await lastLines(engine, id));
    await checkpoint('healthy');
    const final = (await engine.containers.inspect(id)) ?? state;
    return { slot, host, id, state: final, ms: Date.now() - started };
  } catch (error) {
    if (made.id !== undefined) await engine.containers.remove(made.id).catch(() => {});
    if (allocation) await ipam.releaseAddress(input.network.name, slot);
    throw LaunchError.from(slot, error);
  }
}

/** Renames a running container aside and stops it, so its slot's name and address are free for the new one. */
export async function setAside(engine: Engine, id: string, project: string, slot: string, graceSeconds: number): Promise<void> {
  // The name carries the project, so a container of that name is this slot's own leftover.
  const previous = await engine.containers.inspect(asideName(project, slot));
  if (previous) await engine.containers.remove(previous.id);
  await engine.containers.rename(id, asideName(project, slot));
  await checkpoint('renamed');
  await engine.containers.stop(id, graceSeconds);
}

/**
 * Health-gates a container that already runs (found after a crash, say):
 * it counts only once it passes the same check a new one must.
 */
export async function checkRunning(context: RunContext, host: string, id: string, health: ServiceSpec['health'], network: { mode: string; dockerName: string }, timeoutMs: number): Promise<GateResult> {
  const engine = context.hosts.engine(host);
  const state = await engine.containers.inspect(id);
  if (!state?.running) return { healthy: false, reason: 'not running' };
  return waitHealthy(engine, id, health, probeTarget(context, host, network.mode, network.dockerName, state), timeoutMs, state.restartCount);
}

/** Puts a set-aside container back under its slot's name and address and starts it. */
export async function restore(engine: Engine, ipam: Ipam, id: string, project: string, slot: string, network: { mode: string; name: string }): Promise<void> {
  await engine.containers.rename(id, containerName(project, slot));
  if (network.mode === 'flat') {
    const allocation = await ipam.requestAddress(network.name, slot);
    await ipam.bind(network.name, slot, id, allocation.incarnation);
  }
  await engine.containers.start(id);
}

type CreateBody = ReturnType<typeof slotBody>['body'];

/** Docker's words for a host port another container ("already allocated") or process ("in use") holds. */
function portTaken(error: unknown): boolean {
  const text = (error as Error)?.message ?? '';
  return /port is already allocated|address already in use/.test(text);
}

function verifyAddress(slot: string, state: ContainerState, dockerNetwork: string, allocation: Allocation): void {
  const applied = state.networks[dockerNetwork];
  const problems = [
    applied?.ip !== allocation.ip ? `IP ${applied?.ip || 'none'} instead of ${allocation.ip}` : '',
    applied?.mac.toLowerCase() !== allocation.mac ? `MAC ${applied?.mac || 'none'} instead of ${allocation.mac}` : '',
  ].filter(Boolean);
  if (problems.length > 0) {
    const message = `the engine did not apply the slot's address on network ${dockerNetwork}: ${problems.join(', ')}`;
    throw new LaunchError(slot, message, [], failed(message, { fix: 'check the engine version and the network: berth doctor' }));
  }
}

export function probeTarget(context: RunContext, host: string, mode: string, dockerNetwork: string, state: ContainerState): ProbeTarget {
  const own = state.networks[dockerNetwork]?.ip;
  return {
    address(port) {
      if (mode === 'flat' && own) return { host: own, port };
      if (mode === 'host') return { host: context.hosts.address(host), port };
      // nat: on this machine the container's bridge address is reachable; elsewhere only the published port.
      if (context.hosts.isLocal(host) && own) return { host: own, port };
      const published = state.ports[`${port}/tcp`];
      return published ? { host: context.hosts.address(host), port: published } : undefined;
    },
  };
}

async function lastLines(engine: Engine, id: string): Promise<string[]> {
  const text = await engine.containers.logs(id, { tail: LOG_LINES }).catch(() => '');
  return text.split('\n').filter((line) => line.trim() !== '').slice(-LOG_LINES);
}

/** The deploy's error: the instance's reason and last log lines, or Berth's own error with its category and fix. */
export function failure(deploy: string, error: LaunchError): BerthError {
  if (error.refusal) {
    return new BerthError(error.refusal.kind, `${deploy} failed: instance ${error.slot} could not start: ${error.refusal.message}`, {
      lines: error.refusal.lines,
      ...(error.refusal.fix ? { fix: error.refusal.fix } : {}),
    });
  }
  return failed(`${deploy} failed: instance ${error.slot} did not become healthy`, {
    lines: [error.reason, ...(error.logs.length > 0 ? ['last log lines:', ...error.logs.map((l) => `  ${l}`)] : [])],
    fix: 'see the log lines above; fix the service or its health check, then run the command again',
  });
}
