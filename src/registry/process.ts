/**
 * Runs the embedded registry (Debian's docker-registry, CNCF Distribution
 * 2.8) as a background process: config, pid and log files under
 * <state dir>/registry/, a health check after every start, and a clear error
 * for a taken port, unwritable storage, unreachable S3 or a bad config.
 */
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import type { Project } from '../config/model.js';
import { BerthError, conflict, failed, forbidden, invalid, isBerthError, notFound, unavailable } from '../errors.js';
import { readOrUndefined } from '../processes.js';
import { startDetached, waitReady } from '../supervisor/detached.js';
import { runningFromPidFile, type ProcessIdentity } from '../supervisor/pid.js';
import { portState } from '../supervisor/port.js';
import { findProgram, type Program } from '../supervisor/program.js';
import { stopProcess, termThenKill } from '../supervisor/stop.js';
import { clientFor, splitAddress, type RegistryClient } from './client.js';
import { describeStorage, registryConfig } from './config.js';
import { readMaintenance } from './maintenance.js';
import { clientAddress, registryPaths, type RegistryPaths } from './paths.js';
import { redactor, registryPassword, registrySecrets, type RegistrySecrets } from './secrets.js';
import { ensureCertificates } from './certificates.js';
import { DOCKER_CERTS_DIR, installTrust, trustOf, type Trust } from './trust.js';

export interface RegistryTarget {
  project: Project;
  env: NodeJS.ProcessEnv;
  paths: RegistryPaths;
  /** host:port clients (the engine, Berth) use. */
  address: string;
  client: RegistryClient;
  /** Where this machine's engines read a registry's CA (Docker's certs.d). */
  certsDir: string;
  /** The registry program's file, when not docker-registry found on the PATH (tests pass a stand-in). */
  program?: string;
}

export interface RegistryTargetOptions {
  certsDir?: string;
  /** Runs this program instead of docker-registry (it gets the same arguments). */
  program?: string;
}

export function registryTarget(project: Project, env: NodeJS.ProcessEnv, options: RegistryTargetOptions = {}): RegistryTarget {
  const address = clientAddress(project.registry.listen);
  return {
    project,
    env,
    paths: registryPaths(project.stateDir),
    address,
    client: clientFor(project.registry, address, registryPassword(project.registry, env, project)),
    certsDir: options.certsDir ?? DOCKER_CERTS_DIR,
    program: options.program,
  };
}

export const REGISTRY_PROGRAM: Program = { name: 'docker-registry', what: 'the registry program', debianPackage: 'docker-registry' };

export interface Running extends ProcessIdentity {
  readOnly: boolean;
}

/** Berth's registry process for this state dir, when it runs (its command line names this state dir's config). */
export function runningRegistry(paths: RegistryPaths): Running | undefined {
  const running = runningFromPidFile(paths.pid, paths.config);
  return running && { ...running, readOnly: configIsReadOnly(paths.config) };
}

export interface UpResult {
  pid: number;
  address: string;
  readOnly: boolean;
  /** False when it was already running in the asked mode. */
  started: boolean;
  /** With TLS: whether this machine's engines trust the registry's CA. */
  trust?: Trust;
}

/** Starts the registry, or restarts it when it runs in the other mode; returns once it answers and its storage works. */
export async function registryUp(target: RegistryTarget, options: { readOnly?: boolean } = {}): Promise<UpResult> {
  const { project, paths, address } = target;
  const readOnly = options.readOnly ?? false;
  const running = runningRegistry(paths);
  const tls = project.registry.tls;
  if (tls?.generated) await ensureCertificates(tls.cert, project.registry.listen);
  const trust = () => (tls ? { trust: installTrust(tls.ca ?? tls.cert, address, target.certsDir) } : {});
  if (running && running.readOnly === readOnly) return { pid: running.pid, address, readOnly, started: false, ...trust() };
  // A restart skips the port check: connections the old process left closing
  // (FIN-WAIT) make a test bind fail for a while, while the registry's own
  // listener (SO_REUSEADDR) binds fine.
  if (running) await registryDown(target);

  const file = registryProgram(target);
  mkdirSync(paths.dir, { recursive: true });
  checkFiles(project);
  checkStorage(project);
  const secrets = registrySecrets(project.registry, paths.secret, target.env, project);
  if (!running) await checkPortFree(project.registry.listen);

  writeFileSync(paths.config, registryConfig(project.registry, secrets, { readOnly }), { mode: 0o600 });
  chmodSync(paths.config, 0o600);
  const started = startDetached({ program: REGISTRY_PROGRAM, file, args: ['serve', paths.config], env: registryEnv(target.env), log: paths.log, pidFile: paths.pid });
  let last: unknown;
  await waitReady(started, {
    probe: async () => {
      try {
        await target.client.ping();
      } catch (error) {
        if (isBerthError(error) && error.kind === 'forbidden') throw error;
        last = error;
        return false;
      }
      await checkStorageServes(target, () => loggedErrors(secrets, started.logged()));
      return true;
    },
    timeoutMs: START_TIMEOUT_MS,
    intervalMs: 100,
    exited: (logged) => startFailure(target, secrets, logged),
    timedOut: () => unavailable(`the registry did not answer on ${target.client.url} within ${START_TIMEOUT_MS / 1000} s of starting`, { fix: `see its log ${target.paths.log}`, cause: last }),
    stop: termThenKill(10_000),
  });
  return { pid: started.pid, address, readOnly, started: true, ...trust() };
}

const START_TIMEOUT_MS = 15_000;

/** Stops the registry; false when it was not running. */
export async function registryDown(target: RegistryTarget): Promise<boolean> {
  const running = runningRegistry(target.paths);
  rmSync(target.paths.pid, { force: true });
  if (!running) return false;
  await stopProcess(running, termThenKill(10_000));
  return true;
}

export interface RegistryStatus {
  running: boolean;
  pid: number | null;
  healthy: boolean;
  /** Why it is not healthy. */
  problem: string | null;
  mode: 'writable' | 'read-only' | 'stopped';
  address: string;
  listen: string;
  storage: string;
  /** Bytes under the filesystem storage; null for S3. */
  sizeBytes: number | null;
  repositories: number | null;
  tags: number | null;
  /** A GC in progress, or one that was interrupted and left the registry read-only. */
  maintenance: { step: string; startedAt: string; interrupted: boolean } | null;
  logFile: string;
  configFile: string;
  /** With TLS: the CA clients and engines must trust (made by Berth or named in berth.yaml), and whether this machine's engines do. */
  tls: { ca: string; generated: boolean; trust: Trust } | null;
}

export async function registryStatus(target: RegistryTarget): Promise<RegistryStatus> {
  const { project, paths, client } = target;
  const running = runningRegistry(paths);
  const maintenance = readMaintenance(paths.maintenance);
  const status: RegistryStatus = {
    running: running !== undefined,
    pid: running?.pid ?? null,
    healthy: false,
    problem: running ? null : 'not running',
    mode: running ? (running.readOnly ? 'read-only' : 'writable') : 'stopped',
    address: target.address,
    listen: project.registry.listen,
    storage: describeStorage(project.registry),
    sizeBytes: project.registry.storage.kind === 'filesystem' ? diskUsage(project.registry.storage.path) : null,
    repositories: null,
    tags: null,
    maintenance: maintenance ? { step: maintenance.step, startedAt: new Date(maintenance.startedAt).toISOString(), interrupted: maintenance.interrupted } : null,
    logFile: paths.log,
    configFile: paths.config,
    tls: project.registry.tls ? { ca: project.registry.tls.ca ?? project.registry.tls.cert, generated: project.registry.tls.generated ?? false, trust: trustOf(project.registry.tls.ca ?? project.registry.tls.cert, target.address, target.certsDir) } : null,
  };
  if (!running) return status;
  try {
    await client.ping();
    // The test push of "berth registry gc" is not one of the project's repositories.
    const repositories = (await client.catalog()).filter((r) => !r.startsWith('berth-gc/'));
    const counts = await Promise.all(repositories.map((r) => client.tags(r).then((t) => t.length)));
    status.repositories = repositories.length;
    status.tags = counts.reduce((a, b) => a + b, 0);
    status.healthy = true;
  } catch (error) {
    status.problem = isBerthError(error) ? error.message : String(error);
  }
  return status;
}

/**
 * The registry's environment: Berth's, without AWS_CA_BUNDLE. Distribution
 * 2.8's S3 driver cannot load a custom CA bundle and panics at start when that
 * variable is set (a CA for the endpoint belongs in the system's store).
 */
export function registryEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const { AWS_CA_BUNDLE: _dropped, ...rest } = env;
  return rest;
}

/** The registry program: the target's, else docker-registry on the PATH (or in /usr/bin, /usr/sbin). */
export function registryProgram(target: Pick<RegistryTarget, 'program' | 'env'>): string {
  return target.program ?? findProgram(REGISTRY_PROGRAM, target.env.PATH ?? '');
}

function checkFiles(project: Project): void {
  const { tls, htpasswd } = project.registry;
  const files = [...(tls ? [['registry.tls.cert', tls.cert], ['registry.tls.key', tls.key], ...(tls.ca && tls.ca !== tls.cert ? [['registry.tls.ca', tls.ca]] : [])] : []), ...(htpasswd ? [['registry.htpasswd', htpasswd]] : [])];
  for (const [key, file] of files) {
    if (!existsSync(file!)) throw notFound(`${key}: no such file ${file}`, { fix: `create it, or correct ${key} in ${project.file}` });
  }
}

function checkStorage(project: Project): void {
  const storage = project.registry.storage;
  if (storage.kind !== 'filesystem') return;
  const probe = join(storage.path, `.berth-write-test-${process.pid}`);
  try {
    mkdirSync(storage.path, { recursive: true });
    writeFileSync(probe, '');
    rmSync(probe);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? String(error);
    throw forbidden(`the registry's storage ${storage.path} is not writable (${code})`, {
      fix: `make it a writable folder for the user running berth, or set registry.storage.filesystem.path in ${project.file} to one`,
      cause: error,
    });
  }
}

/** The clearest way to learn that the address is not this machine's or that another program holds the port. */
export async function checkPortFree(listen: string): Promise<void> {
  const [host, port] = splitAddress(listen);
  const check = await portState(host, port);
  if (check.state === 'free') return;
  if (check.state === 'taken') {
    throw conflict(`port ${port} on ${host} is taken by another program, so the registry cannot listen on ${listen}`, {
      fix: `stop that program (see "ss -ltnp 'sport = :${port}'"), or set registry.listen in berth.yaml to a free port`,
    });
  }
  const code = check.error.code ?? String(check.error);
  if (code === 'EADDRNOTAVAIL') throw invalid(`registry.listen: ${host} is not an address of this machine`, { fix: 'use 127.0.0.1, 0.0.0.0, or an address of one of its interfaces' });
  if (code === 'EACCES') throw forbidden(`not allowed to listen on port ${port}`, { fix: 'use a port above 1023, or run berth as root' });
  throw unavailable(`cannot check ${listen}: ${code}`);
}

/** The API answering does not prove the storage works: listing repositories reads it. */
async function checkStorageServes(target: RegistryTarget, logged: () => string[]): Promise<void> {
  try {
    await target.client.catalog();
  } catch (error) {
    const storage = target.project.registry.storage;
    const detail = isBerthError(error) ? error.message : String(error);
    if (storage.kind === 's3') {
      throw unavailable(`the registry started but cannot use its S3 storage (${storage.endpoint}, bucket ${storage.bucket}): ${detail}`, {
        lines: logged(),
        fix: 'check that the endpoint answers, the bucket exists and the access and secret keys are right (registry.storage.s3 in berth.yaml)',
        cause: error,
      });
    }
    throw unavailable(`the registry started but cannot read its storage ${describeStorage(target.project.registry)}: ${detail}`, { lines: logged(), fix: `see its log ${target.paths.log}`, cause: error });
  }
}

/** The details of the errors the registry logged since it was started (its API says only "unknown error"). */
function loggedErrors(secrets: RegistrySecrets, text: string): string[] {
  const redact = redactor(secrets);
  const details = text
    .split('\n')
    .filter((l) => l.includes('level=error'))
    .map((l) => /err\.detail="((?:[^"\\]|\\.)*)"/.exec(l)?.[1])
    .filter((d): d is string => d !== undefined)
    .map((d) => redact(d.replace(/\\n|\\t/g, ' ').replace(/\\"/g, '"').replace(/\s+/g, ' ').trim()));
  return [...new Set(details)].slice(-2);
}

/** Reads what the registry logged since it was started and explains its exit. */
function startFailure(target: RegistryTarget, secrets: RegistrySecrets, text: string): BerthError {
  const redact = redactor(secrets);
  const all = text.split('\n').map((l) => redact(l.trim())).filter((l) => l !== '');
  // A Go panic ends in a stack trace: its first lines say what went wrong.
  const panicAt = all.findIndex((l) => l.startsWith('panic:'));
  const lines = panicAt >= 0 ? all.slice(panicAt, panicAt + 2) : all.slice(-8);
  const joined = lines.join('\n');
  if (/address already in use/.test(joined)) {
    return conflict(`the registry could not listen on ${target.project.registry.listen}: the address is in use`, { lines, fix: 'stop the program that holds it, or set registry.listen in berth.yaml to a free port' });
  }
  if (/permission denied|read-only file system/i.test(joined)) {
    return forbidden(`the registry could not use its storage ${describeStorage(target.project.registry)}`, { lines, fix: 'make the storage writable for the user running berth' });
  }
  return failed(`the registry exited right after it started (its config or files are wrong)`, {
    lines,
    fix: `correct the registry: settings in ${target.project.file} (the generated config is ${target.paths.config}); the whole log is ${target.paths.log}`,
  });
}

function configIsReadOnly(file: string): boolean {
  try {
    const config = parse(readFileSync(file, 'utf8')) as { storage?: { maintenance?: { readonly?: { enabled?: boolean } } } };
    return config.storage?.maintenance?.readonly?.enabled === true;
  } catch {
    return false;
  }
}

/** Bytes of every file under a folder (0 when it does not exist). */
export function diskUsage(dir: string): number {
  let total = 0;
  const walk = (d: string) => {
    let entries;
    try {
      entries = readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) total += statSync(p).size;
    }
  };
  walk(dir);
  return total;
}



/**
 * Whether the registry running for this state directory was started from these settings: a garbage collection
 * restarts it (read-only, then writable) from them, and other settings would serve another storage.
 */
export function runsWithSettingsOf(target: RegistryTarget): boolean {
  const running = runningRegistry(target.paths);
  if (!running) return false;
  const secrets = registrySecrets(target.project.registry, target.paths.secret, target.env, target.project);
  return readOrUndefined(target.paths.config) === registryConfig(target.project.registry, secrets, { readOnly: running.readOnly });
}
