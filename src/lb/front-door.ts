/**
 * Runs a front door: one HAProxy container per service and environment on
 * each of the door's hosts (its members), driven through each host's engine
 * only. A running door is changed through HAProxy's runtime API, reached by an
 * exec in its container (no reload, so no request is lost to one; no port of
 * it on the network); its config file in the container is rewritten with every
 * change, so a restarted or recreated member comes back with the current state.
 */
import { createServer, type AddressInfo } from 'node:net';
import { pack } from 'tar-stream';
import type { Engine } from '../engine/engine.js';
import { conflict, failed, forbidden, invalid, isBerthError, unavailable, type BerthError } from '../errors.js';
import { portState } from '../supervisor/port.js';
import { sleep } from '../time.js';
import { DOOR_STOP_SECONDS, doorContainerName, doorCreateBody, DOOR_LABELS } from './door-container.js';
import { DOOR_PATHS } from './door-image.js';
import { haproxyConfig, hostPort } from './haproxy-config.js';
import type { DoorMemberStatus, FrontDoorSpec, FrontDoorStatus, ProxyStats, ServerStats } from './model.js';
import { emptyProxyStats, HaproxyRuntime } from './runtime-api.js';
import { batchScript, splitBatchOutput, type BatchAnswer } from './runtime-batch.js';
import { planServerChanges, type ObservedServer, type ServerChange } from './sync-plan.js';

/** One host of a door, through its engine. */
export interface DoorMember {
  host: string;
  engine: Engine;
  /** Its engine runs on this machine: a port can be checked here before the door takes it. */
  local: boolean;
  /** Where clients reach the host (its address on the LAN), when it is not this machine. */
  address?: string;
}

/** Where a door runs and what it runs. */
export interface DoorPlace {
  project: string;
  members: DoorMember[];
  /** The door image on the member's engine (built, or brought there, first). */
  image(member: DoorMember): Promise<string>;
  /** The shared address, for a door of two or more hosts. */
  vrrp?: DoorVrrp;
}

/** The address the members share, and keepalived beside the doors (one container per environment and host, lb/vrrp.ts). */
export interface DoorVrrp {
  address: string;
  /** keepalived's container on each member (lb/vrrp-container.ts). */
  container: string;
  /** Makes keepalived on every member check the environment's doors there: after a door is made, changed or removed. */
  settle(): Promise<unknown>;
}

export interface FrontDoorOptions {
  /** How long a removed server's requests in flight may take before they are cut (default 10 s). */
  removeTimeoutMs?: number;
  /** How long a new member may take to answer on its admin socket (default 60 s). */
  startTimeoutMs?: number;
}

export interface SyncResult {
  /** What was changed, in order (in the first member that ran; each member gets the changes it needs). */
  changes: ServerChange[];
  /** Removed servers whose requests were still running after the timeout and were cut. */
  cut: string[];
}

/**
 * Makes every member run with exactly the spec's servers: a missing or
 * stopped member is (re)created with the current config, a running one is
 * changed through the runtime API. A changed bind address or port needs a new
 * container, the only case that stops a running member.
 */
export async function ensureFrontDoor(spec: FrontDoorSpec, place: DoorPlace, options: FrontDoorOptions = {}): Promise<FrontDoorStatus> {
  const config = haproxyConfig(spec);
  await Promise.all(place.members.map((member) => ensureMember(spec, config, place, member, options)));
  await place.vrrp?.settle();
  return frontDoorStatus(spec, place);
}

/**
 * Applies the spec's servers to every running member and writes the config
 * into every member's container (a stopped one starts with it). A member
 * whose host does not answer is left: it gets the whole state when it is
 * restored. Unavailable when no member runs. `seen`: a status read just
 * before, under the same lock (its running members are not read again).
 */
export async function syncServers(spec: FrontDoorSpec, place: DoorPlace, options: FrontDoorOptions = {}, seen?: FrontDoorStatus): Promise<SyncResult> {
  const config = haproxyConfig(spec);
  const results = await Promise.all(
    place.members.map(async (member) => {
      const name = doorContainerName(place.project, spec.id);
      // What a status read just now says of a running member spares reading it again (each read is an exec).
      const known = seen?.members.find((m) => m.host === member.host && m.state === 'running' && m.problem === undefined);
      const state = known ? { running: true } : await member.engine.containers.inspect(name).catch(() => undefined);
      if (!state) return undefined;
      await writeConfig(member, name, config);
      return state.running ? applyServers(spec, memberRuntime(member, name), options, known?.servers) : undefined;
    }),
  );
  const applied = results.filter((r): r is SyncResult => r !== undefined);
  if (applied.length === 0) throw unavailable(`front door ${spec.id} does not run on ${place.members.map((m) => m.host).join(', ')}`, { fix: 'start it first (ensureFrontDoor; a release starts it)' });
  return { changes: applied[0]!.changes, cut: [...new Set(applied.flatMap((r) => r.cut))] };
}

async function ensureMember(spec: FrontDoorSpec, config: string, place: DoorPlace, member: DoorMember, options: FrontDoorOptions): Promise<void> {
  const name = doorContainerName(place.project, spec.id);
  const { engine } = member;
  const state = await engine.containers.inspect(name);
  if (state?.running && state.labels[DOOR_LABELS.bind] === hostPort(spec.bind.address, spec.bind.port) && state.labels[DOOR_LABELS.vrrp] === String(place.vrrp !== undefined)) {
    await writeConfig(member, name, config);
    await applyServers(spec, memberRuntime(member, name), options);
    return;
  }
  if (state) await removeMember(member, name, state.running);
  if (member.local) await checkPortFree(spec);
  const image = await place.image(member);
  const id = await engine.containers.create(doorCreateBody({ project: place.project, spec, image, vrrp: place.vrrp !== undefined }));
  try {
    await writeConfig(member, id, config);
    await engine.containers.start(id);
    await waitReady(spec, member, id, name, options.startTimeoutMs ?? 60_000);
  } catch (error) {
    await engine.containers.remove(id).catch(() => {});
    throw error;
  }
  // The drain state exists only at run time (the config has weight 0 for it).
  await applyServers(spec, memberRuntime(member, id), options);
}

async function applyServers(spec: FrontDoorSpec, runtime: HaproxyRuntime, options: FrontDoorOptions, observed?: readonly ObservedServer[]): Promise<SyncResult> {
  const changes = planServerChanges(observed ?? (await runtime.stats()), spec.servers);
  const cut = await runtime.apply(changes, options.removeTimeoutMs);
  return { changes, cut };
}

/** The runtime API of a member: each batch of commands one exec in its container (runtime-batch.ts). */
export function memberRuntime(member: DoorMember, container: string): HaproxyRuntime {
  return new HaproxyRuntime(async (commands) => {
    let result;
    try {
      result = await member.engine.exec(container, ['sh', '-c', batchScript(DOOR_PATHS.socket), 'berth-door-batch', ...commands]);
    } catch (error) {
      throw unavailable(`cannot reach the front door ${container} on ${member.host}: ${isBerthError(error) ? error.message : String(error)}`, { fix: 'see "berth lb"; the reconciler restores a door that does not run', cause: error });
    }
    const answers = result.exitCode === 0 ? answersOf(result.output, commands.length) : undefined;
    const unanswered = answers ? answers.findIndex((a) => a.status !== 0) : 0;
    if (!answers || unanswered >= 0) {
      throw unavailable(`HAProxy in ${container} on ${member.host} did not answer "${commands[Math.max(unanswered, 0)]}"`, { lines: result.output.trim().split('\n').slice(-4), fix: 'see the container\'s log; the engine restarts a door whose HAProxy ended' });
    }
    return answers.map((a) => a.text);
  });
}

function answersOf(output: string, count: number): BatchAnswer[] | undefined {
  try {
    return splitBatchOutput(output, count);
  } catch {
    return undefined;
  }
}

/** The runtime APIs of the members that run now. */
export async function runningRuntimes(id: string, place: DoorPlace): Promise<HaproxyRuntime[]> {
  const name = doorContainerName(place.project, id);
  const states = await Promise.all(place.members.map((m) => m.engine.containers.inspect(name).catch(() => undefined)));
  return place.members.filter((_, i) => states[i]?.running).map((m) => memberRuntime(m, name));
}

/**
 * Where clients connect: the shared address where there is one; the door host's own address for one door on
 * another host listening on all its addresses; else the address HAProxy listens on.
 */
export function doorAddress(place: Pick<DoorPlace, 'vrrp' | 'members'>, bind: string): string {
  if (place.vrrp) return place.vrrp.address;
  const only = place.members.length === 1 ? place.members[0]! : undefined;
  if (bind === '0.0.0.0' && only && !only.local && only.address !== undefined) return only.address;
  return bind;
}

/** Each member and the door as a whole (counters summed over the members). Never throws for a stopped or unreachable member. */
export async function frontDoorStatus(target: Pick<FrontDoorSpec, 'id' | 'bind'>, place: DoorPlace): Promise<FrontDoorStatus> {
  const name = doorContainerName(place.project, target.id);
  const members = await Promise.all(place.members.map((m) => memberStatus(m, name, place.vrrp)));
  const up = members.filter((m) => m.state === 'running');
  const problem = up.find((m) => m.problem !== undefined)?.problem;
  return {
    id: target.id,
    address: hostPort(doorAddress(place, target.bind.address), target.bind.port),
    running: up.length > 0,
    servers: sumServers(up.map((m) => m.servers)),
    frontend: sumProxies(up.map((m) => m.frontend)),
    backend: sumProxies(up.map((m) => m.backend)),
    members,
    ...(problem !== undefined ? { problem } : {}),
  };
}

async function memberStatus(member: DoorMember, name: string, vrrp: DoorVrrp | undefined): Promise<DoorMemberStatus> {
  const base: DoorMemberStatus = { host: member.host, container: name, state: 'missing', role: '', frontend: emptyProxyStats(), backend: emptyProxyStats(), servers: [] };
  let state;
  try {
    state = await member.engine.containers.inspect(name);
  } catch (error) {
    return { ...base, state: 'unknown', problem: isBerthError(error) ? error.message : String(error) };
  }
  const keepalived = vrrp ? await keepalivedState(member, vrrp.container) : undefined;
  if (!state) return keepalived === undefined ? base : { ...base, keepalived };
  const running = { ...base, state: state.running ? 'running' : state.status, ...(keepalived !== undefined ? { keepalived } : {}) };
  if (!state.running) return vrrp ? { ...running, role: 'BACKUP' } : running;
  try {
    const runtime = memberRuntime(member, name);
    const [snapshot, role] = await Promise.all([runtime.snapshot(), vrrp ? roleOf(member, name, vrrp.address) : Promise.resolve('' as const)]);
    return { ...running, role, ...snapshot };
  } catch (error) {
    return { ...running, problem: isBerthError(error) ? error.message : String(error) };
  }
}

/** The member's door runs, and keepalived beside it where the door has a shared address. */
export function memberRuns(member: Pick<DoorMemberStatus, 'state' | 'keepalived'>): boolean {
  return member.state === 'running' && (member.keepalived === undefined || member.keepalived === 'running');
}

/** running, restarting, exited…, or missing; undefined when the host does not answer (the door's own state says so). */
async function keepalivedState(member: DoorMember, container: string): Promise<string | undefined> {
  try {
    const state = await member.engine.containers.inspect(container);
    if (!state) return 'missing';
    return state.running ? 'running' : state.status;
  } catch {
    return undefined;
  }
}

/** MASTER when the shared address is on the member's host (the container sees the host's interfaces). */
async function roleOf(member: DoorMember, container: string, address: string): Promise<'MASTER' | 'BACKUP'> {
  const result = await member.engine.exec(container, ['ip', '-4', '-o', 'addr', 'show']);
  return result.output.split('\n').some((line) => line.includes(` ${address}/`)) ? 'MASTER' : 'BACKUP';
}

/**
 * Stops and removes every member: HAProxy's soft stop first (it stops
 * listening and lets requests in flight finish), killed after `graceMs`.
 * False when no member ran.
 */
export async function stopFrontDoor(id: string, place: DoorPlace, graceMs = DOOR_STOP_SECONDS * 1000): Promise<boolean> {
  const name = doorContainerName(place.project, id);
  const ran = await Promise.all(
    place.members.map(async (member) => {
      const state = await member.engine.containers.inspect(name);
      if (!state) return false;
      await removeMember(member, name, state.running, graceMs);
      return state.running;
    }),
  );
  await place.vrrp?.settle();
  return ran.some(Boolean);
}

async function removeMember(member: DoorMember, name: string, running: boolean, graceMs = DOOR_STOP_SECONDS * 1000): Promise<void> {
  if (running) await member.engine.containers.stop(name, Math.ceil(graceMs / 1000));
  await member.engine.containers.remove(name);
}

/** The config files, unpacked into the member's container (running or not). */
async function writeConfig(member: DoorMember, container: string, config: string): Promise<void> {
  await member.engine.containers.putArchive(container, DOOR_PATHS.dir, await tarOf([['haproxy.cfg', config]]));
}

/** Text files as a tar archive for the engine's archive API (root's, mode 644). */
export async function tarOf(files: readonly (readonly [string, string])[]): Promise<Buffer> {
  const tar = pack();
  const mtime = new Date();
  // keepalived refuses a configuration others may write; HAProxy's has nothing secret but is kept alike.
  for (const [name, text] of files) tar.entry({ name, mode: 0o644, uid: 0, gid: 0, mtime }, text);
  tar.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of tar) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Until HAProxy answers on its admin socket; a container that ended (or restarts) has failed, with its log as the reason. */
async function waitReady(spec: FrontDoorSpec, member: DoorMember, id: string, name: string, timeoutMs: number): Promise<void> {
  const runtime = memberRuntime(member, id);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const state = await member.engine.containers.inspect(id);
    if (!state?.running || state.restartCount > 0) throw startFailure(spec, member, (await member.engine.containers.logs(id).catch(() => '')).split('\n'));
    try {
      if ((await runtime.command('show info')).includes('Pid:')) return;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) {
      throw unavailable(`front door ${spec.id} on ${member.host}: HAProxy did not answer on its admin socket within ${timeoutMs / 1000} s of starting`, { fix: `see the log of its container ${name}` });
    }
    await sleep(50);
  }
}

/** Why HAProxy ended right after it started, from what it logged. */
function startFailure(spec: FrontDoorSpec, member: DoorMember, logged: string[]): BerthError {
  const all = logged.map((l) => l.trimEnd()).filter((l) => l !== '');
  const alerts = all.filter((l) => l.includes('[ALERT]'));
  const lines = (alerts.length > 0 ? alerts : all).slice(-6);
  if (/Address already in use/i.test(lines.join('\n'))) return portTaken(spec, lines);
  return failed(`front door ${spec.id} on ${member.host}: HAProxy ended right after it started`, { lines, fix: 'see the lines above; this is a bug in Berth if the configuration came from berth.yaml' });
}

/** A port nothing listens on at `address` now, for a front door without a configured port. */
export function freePort(address = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', (error: NodeJS.ErrnoException) => reject(bindError(`cannot find a free port on ${address}`, address, 0, error)));
    server.listen({ host: address, port: 0 }, () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function portTaken(spec: Pick<FrontDoorSpec, 'id' | 'bind'>, lines: string[] = []): BerthError {
  const { address, port } = spec.bind;
  return conflict(`front door ${spec.id}: port ${port} on ${address} is taken by another process`, {
    lines,
    fix: `choose another port with lb_port (environments.<env>.services.<service>.lb_port in berth.yaml), or stop the other process (see "ss -ltnp 'sport = :${port}'")`,
  });
}

async function checkPortFree(spec: Pick<FrontDoorSpec, 'id' | 'bind'>): Promise<void> {
  const { address, port } = spec.bind;
  const check = await portState(address, port);
  if (check.state === 'taken') throw portTaken(spec);
  if (check.state === 'refused') throw bindError(`front door ${spec.id} cannot listen on ${hostPort(address, port)}`, address, port, check.error);
}

function bindError(message: string, address: string, port: number, error: NodeJS.ErrnoException): BerthError {
  if (error.code === 'EADDRNOTAVAIL') return invalid(`${message}: ${address} is not an address of this machine`, { fix: 'use 127.0.0.1, 0.0.0.0, or an address of one of its interfaces (the environment\'s lb_address)' });
  if (error.code === 'EACCES') return forbidden(`${message}: not allowed to listen on port ${port}`, { fix: 'use a port above 1023, or run berth as root' });
  return unavailable(`${message}: ${error.code ?? error.message}`, { cause: error });
}

/** The servers of several members as one: counters summed by name, the rest from the first member that has it. */
export function sumServers(members: readonly ServerStats[][]): ServerStats[] {
  const byName = new Map<string, ServerStats>();
  for (const servers of members) {
    for (const s of servers) {
      const seen = byName.get(s.name);
      if (!seen) {
        byName.set(s.name, structuredClone(s));
        continue;
      }
      seen.current += s.current;
      seen.total += s.total;
      seen.requests += s.requests;
      for (const k of Object.keys(seen.responses) as (keyof ServerStats['responses'])[]) seen.responses[k] += s.responses[k];
      for (const k of Object.keys(seen.errors) as (keyof ServerStats['errors'])[]) seen.errors[k] += s.errors[k];
    }
  }
  return [...byName.values()];
}

export function sumProxies(proxies: readonly ProxyStats[]): ProxyStats {
  const sum = emptyProxyStats();
  for (const p of proxies) {
    sum.status ||= p.status;
    sum.current += p.current;
    sum.total += p.total;
    sum.requests += p.requests;
    for (const k of Object.keys(sum.responses) as (keyof ProxyStats['responses'])[]) sum.responses[k] += p.responses[k];
    for (const k of Object.keys(sum.errors) as (keyof ProxyStats['errors'])[]) sum.errors[k] += p.errors[k];
    sum.retries += p.retries;
    sum.redispatches += p.redispatches;
  }
  return sum;
}
