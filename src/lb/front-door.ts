/**
 * Runs a front door: one HAProxy process per service and environment, with
 * its files in the front door's folder. A running front door is changed only
 * through the runtime API (no reloads, so no request is lost to one); the
 * config file is rewritten each time so a restart brings back the same
 * servers.
 *
 * HAProxy runs in the foreground (neither -D nor -W), started detached by
 * Berth with stdout and stderr going to haproxy.log. Berth never reloads it,
 * which is what master-worker mode is for; daemon mode would close stdout, so
 * logs would need a syslog server. One process, whose pid Berth writes to
 * haproxy.pid itself (HAProxy writes a pid file only in those two modes).
 */
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { conflict, failed, forbidden, invalid, isBerthError, unavailable, type BerthError } from '../errors.js';
import { isAlive, readOrUndefined } from '../processes.js';
import { logTail, startDetached, waitReady } from '../supervisor/detached.js';
import { readPidFile, runningFromPidFile, type ProcessIdentity } from '../supervisor/pid.js';
import { portState } from '../supervisor/port.js';
import { findProgram, type Program } from '../supervisor/program.js';
import { stopProcess, type StopSequence } from '../supervisor/stop.js';
import { sleep } from '../time.js';
import { configBind, frontDoorFiles, haproxyConfig, hostPort, type FrontDoorFiles } from './haproxy-config.js';
import type { FrontDoorSpec, FrontDoorStatus } from './model.js';
import { emptyProxyStats, HaproxyRuntime } from './runtime-api.js';
import { planServerChanges, type ServerChange } from './sync-plan.js';

export interface FrontDoorOptions {
  /** The program run as HAProxy (default: haproxy on the PATH, or in /usr/sbin; tests pass a stand-in). */
  program?: string;
  /** How long a removed server's requests in flight may take before they are cut (default 10 s). */
  removeTimeoutMs?: number;
}

export interface SyncResult {
  /** What was changed, in order. */
  changes: ServerChange[];
  /** Removed servers whose requests were still running after the timeout and were cut. */
  cut: string[];
}

const START_TIMEOUT_MS = 10_000;

/**
 * Makes the front door run with exactly the spec's servers: starts HAProxy
 * when it is not running (after checking that its port is free), else applies
 * the servers through the runtime API. A changed bind address or port needs a
 * restart, the only case that stops a running front door.
 */
export async function ensureFrontDoor(spec: FrontDoorSpec, options: FrontDoorOptions = {}): Promise<FrontDoorStatus> {
  const config = haproxyConfig(spec);
  const files = frontDoorFiles(spec.dir);
  mkdirSync(spec.dir, { recursive: true });
  let running = runningFrontDoor(spec.dir);
  if (running && configBind(readOrUndefined(files.config) ?? '') !== hostPort(spec.bind.address, spec.bind.port)) {
    await stopFrontDoor(spec.dir);
    running = undefined;
  }
  if (running) {
    writeAtomically(files.config, config);
    await applyServers(spec, options);
    return frontDoorStatus(spec);
  }
  await waitExiting(files.pid);
  await checkPortFree(spec);
  writeAtomically(files.config, config);
  await startHaproxy(spec, files, options.program ?? haproxyProgram());
  // The drain state exists only at run time (the config has weight 0 for it).
  await applyServers(spec, options);
  return frontDoorStatus(spec);
}

/** Applies the spec's servers to the running front door (add, change, remove) and rewrites its config. */
export async function syncServers(spec: FrontDoorSpec, options: FrontDoorOptions = {}): Promise<SyncResult> {
  const config = haproxyConfig(spec);
  if (!runningFrontDoor(spec.dir)) {
    throw unavailable(`front door ${spec.id} is not running`, { fix: 'start it first (ensureFrontDoor; a release starts it)' });
  }
  writeAtomically(frontDoorFiles(spec.dir).config, config);
  return applyServers(spec, options);
}

async function applyServers(spec: FrontDoorSpec, options: FrontDoorOptions): Promise<SyncResult> {
  const runtime = frontDoorRuntime(spec.dir);
  const changes = planServerChanges(await runtime.stats(), spec.servers);
  const removes: string[] = [];
  for (const change of changes) {
    switch (change.op) {
      case 'add':
        await runtime.addServer(change.server);
        break;
      case 'address':
        await runtime.setAddress(change.name, change.address, change.port);
        break;
      case 'weight':
        await runtime.setWeight(change.name, change.weight);
        break;
      case 'state':
        await runtime.setState(change.name, change.state);
        break;
      case 'remove':
        removes.push(change.name);
        break;
    }
  }
  const drained = await Promise.all(removes.map((name) => runtime.removeServer(name, options.removeTimeoutMs)));
  return { changes, cut: removes.filter((_, i) => !drained[i]) };
}

/** The runtime API of the front door whose folder this is. */
export function frontDoorRuntime(dir: string): HaproxyRuntime {
  return new HaproxyRuntime(frontDoorFiles(dir).socket);
}

/** What runs: the process, its servers and counters. Never throws for a stopped or unreachable front door. */
export async function frontDoorStatus(target: Pick<FrontDoorSpec, 'id' | 'dir' | 'bind'>): Promise<FrontDoorStatus> {
  const files = frontDoorFiles(target.dir);
  const running = runningFrontDoor(target.dir);
  const status: FrontDoorStatus = {
    id: target.id,
    address: hostPort(target.bind.address, target.bind.port),
    running: running !== undefined,
    ...(running ? { pid: running.pid } : {}),
    servers: [],
    frontend: emptyProxyStats(),
    backend: emptyProxyStats(),
    files,
  };
  if (!running) return status;
  try {
    const snapshot = await frontDoorRuntime(target.dir).snapshot();
    return { ...status, servers: snapshot.servers, frontend: snapshot.frontend, backend: snapshot.backend };
  } catch (error) {
    return { ...status, problem: isBerthError(error) ? error.message : String(error) };
  }
}

/**
 * Stops the front door: a soft stop first (HAProxy stops listening and lets
 * requests in flight finish), then TERM and KILL after `graceMs`. False when
 * it was not running.
 */
export async function stopFrontDoor(dir: string, graceMs = 10_000): Promise<boolean> {
  const files = frontDoorFiles(dir);
  const running = runningFrontDoor(dir);
  rmSync(files.pid, { force: true });
  if (running) await stopProcess(running, softStop(graceMs));
  rmSync(files.socket, { force: true });
  return running !== undefined;
}

/** Berth's HAProxy for this folder, when it runs (pid file, a live process, and its command line names this folder's config). */
export function runningFrontDoor(dir: string): ProcessIdentity | undefined {
  const files = frontDoorFiles(dir);
  return runningFromPidFile(files.pid, files.config);
}

/**
 * Waits (up to 5 s) for the front door's previous process when it is exiting:
 * a killed HAProxy loses its command line first and holds its listener until
 * its last thread is gone.
 */
async function waitExiting(pidFile: string): Promise<void> {
  const pid = readPidFile(pidFile);
  if (pid === undefined) return;
  const deadline = Date.now() + 5000;
  while (isAlive(pid) && readOrUndefined(`/proc/${pid}/cmdline`) === '' && Date.now() < deadline) await sleep(10);
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

export const HAPROXY_PROGRAM: Program = { name: 'haproxy', what: 'the load balancer program', debianPackage: 'haproxy' };

/** The haproxy program: on the PATH, or in /usr/sbin. */
export function haproxyProgram(path?: string): string {
  return findProgram(HAPROXY_PROGRAM, path);
}

/**
 * HAProxy's soft stop (SIGUSR1: it stops listening and lets requests in
 * flight finish), then TERM after `graceMs` and KILL 2 s later.
 */
function softStop(graceMs: number): StopSequence {
  return [
    { signal: 'SIGUSR1', graceMs },
    { signal: 'SIGTERM', graceMs: 2000 },
    { signal: 'SIGKILL', graceMs: 0 },
  ];
}

function portTaken(spec: FrontDoorSpec, lines: string[] = []): BerthError {
  const { address, port } = spec.bind;
  return conflict(`front door ${spec.id}: port ${port} on ${address} is taken by another process`, {
    lines,
    fix: `choose another port with lb_port (environments.<env>.services.<service>.lb_port in berth.yaml), or stop the other process (see "ss -ltnp 'sport = :${port}'")`,
  });
}

async function checkPortFree(spec: FrontDoorSpec): Promise<void> {
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

async function startHaproxy(spec: FrontDoorSpec, files: FrontDoorFiles, file: string): Promise<void> {
  const started = startDetached({ program: HAPROXY_PROGRAM, file, args: ['-f', files.config], log: files.log, pidFile: files.pid });
  const runtime = new HaproxyRuntime(files.socket);
  await waitReady(started, {
    probe: async () => {
      try {
        return (await runtime.command('show info')).includes('Pid:');
      } catch {
        return false; // Not listening yet.
      }
    },
    timeoutMs: START_TIMEOUT_MS,
    intervalMs: 20,
    exited: (logged) => startFailure(spec, files, logged),
    timedOut: () => unavailable(`front door ${spec.id}: HAProxy did not answer on ${files.socket} within ${START_TIMEOUT_MS / 1000} s of starting`, { fix: `see its log ${files.log}` }),
    stop: softStop(1000),
  });
}

/** Why HAProxy exited right after it started, from what it logged. */
function startFailure(spec: FrontDoorSpec, files: FrontDoorFiles, logged: string): BerthError {
  const all = logTail(logged, Infinity);
  const alerts = all.filter((l) => l.includes('[ALERT]'));
  const lines = (alerts.length > 0 ? alerts : all).slice(-6);
  if (/cannot bind socket|Address already in use/i.test(lines.join('\n'))) {
    return portTaken(spec, lines);
  }
  return failed(`front door ${spec.id}: HAProxy exited right after it started`, { lines, fix: `see its config ${files.config} and log ${files.log}` });
}

function writeAtomically(file: string, text: string): void {
  const temporary = `${file}.tmp-${process.pid}`;
  writeFileSync(temporary, text, { mode: 0o644 });
  renameSync(temporary, file);
}
