/**
 * One engine of a lab: a dockerd in the host's network namespace, started with
 * nsenter (`ip netns exec` would remount /sys and break dockerd's cgroup mounts),
 * listening on a unix socket and on tcp://IP:2376 with mutual TLS.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { isAlive } from '../processes.js';
import { sleep } from '../time.js';
import type { LabHostPlan } from './lab-plan.js';
import type { TlsFiles } from './lab-tls.js';

const START_TIMEOUT_MS = 180_000;
const STOP_TIMEOUT_MS = 120_000;

export interface DockerdPaths {
  /** The host's folder: data-root, config, pid file and log, so a sweep finds dockerd by its command line. */
  dir: string;
  dataRoot: string;
  pidFile: string;
  log: string;
  socket: string;
}

export function dockerdPaths(hostDir: string, plan: LabHostPlan): DockerdPaths {
  return { dir: hostDir, dataRoot: join(hostDir, 'data'), pidFile: join(hostDir, 'dockerd.pid'), log: join(hostDir, 'dockerd.log'), socket: join(plan.execRoot, 'docker.sock') };
}

export function dockerdArgv(plan: LabHostPlan, paths: DockerdPaths, server: TlsFiles): string[] {
  return [
    `--net=/run/netns/${plan.netns}`,
    'dockerd',
    // Its own config file: the machine's daemon.json is the machine engine's; the key file gives each engine its own ID.
    '--config-file', join(paths.dir, 'daemon.json'),
    '--data-root', paths.dataRoot,
    '--exec-root', plan.execRoot,
    '--pidfile', paths.pidFile,
    '--cgroup-parent', `/${plan.cgroup}`,
    '-H', `unix://${paths.socket}`,
    '-H', `tcp://${plan.ip}:2376`,
    '--tlsverify', '--tlscacert', server.ca, '--tlscert', server.cert, '--tlskey', server.key,
    // No docker0 and no rules in the machine's iptables: flat networks on the lab bridge need neither.
    '--bridge', 'none',
    '--iptables=false',
  ];
}

export interface RunningDockerd {
  pid: number;
  /** Resolves when the process has exited. */
  exited: Promise<void>;
  /** Waits for the exit holding the event loop: the child is unref'd, so without this a test whose last work is this wait would end with the wait unfinished (and its cleanup with it). */
  waitExited(): Promise<void>;
}

export function spawnDockerd(plan: LabHostPlan, paths: DockerdPaths, server: TlsFiles): RunningDockerd {
  mkdirSync(paths.dataRoot, { recursive: true });
  writeFileSync(join(paths.dir, 'daemon.json'), `${JSON.stringify({ 'deprecated-key-path': join(paths.dir, 'key.json') })}\n`);
  const log = openSync(paths.log, 'a');
  // Detached, so a Ctrl-C in the terminal reaches the test (whose cleanup stops the engines in order), not the engines.
  const child: ChildProcess = spawn('nsenter', dockerdArgv(plan, paths, server), { detached: true, stdio: ['ignore', log, log] });
  closeSync(log);
  child.unref();
  const exited = new Promise<void>((resolve) => {
    child.on('exit', () => resolve());
    child.on('error', () => resolve());
  });
  if (child.pid === undefined) throw new Error(`could not start dockerd for ${plan.name} (nsenter missing?)`);
  const waitExited = async () => {
    child.ref();
    try {
      await exited;
    } finally {
      child.unref();
    }
  };
  return { pid: child.pid, exited, waitExited };
}

/** GET /_ping over mutual TLS; true for 200 "OK". */
export function pingTls(ip: string, tls: TlsFiles, timeoutMs = 3000): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request(
      { host: ip, port: 2376, path: '/_ping', method: 'GET', ca: readFileSync(tls.ca), cert: readFileSync(tls.cert), key: readFileSync(tls.key), agent: false, timeout: timeoutMs },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode === 200));
      },
    );
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
    req.end();
  });
}

export async function waitForEngine(plan: LabHostPlan, running: RunningDockerd, client: TlsFiles, logFile: string): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  let gone = false;
  void running.exited.then(() => (gone = true));
  while (!(await pingTls(plan.ip, client))) {
    if (gone) throw new Error(`dockerd of lab host ${plan.name} exited while starting: ${tail(logFile)}`);
    if (Date.now() > deadline) throw new Error(`dockerd of lab host ${plan.name} did not answer GET /_ping on ${plan.ip}:2376 within ${START_TIMEOUT_MS / 1000} s: ${tail(logFile)}`);
    await sleep(200);
  }
}

/** SIGTERM, then waits until the process is gone (it stops its containers and containerd first). */
export async function stopDockerd(pid: number, what: string): Promise<void> {
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  const deadline = Date.now() + STOP_TIMEOUT_MS;
  while (isAlive(pid)) {
    if (Date.now() > deadline) {
      process.kill(pid, 'SIGKILL');
      throw new Error(`${what} did not stop within ${STOP_TIMEOUT_MS / 1000} s of SIGTERM; killed it`);
    }
    await sleep(100);
  }
}

function tail(file: string): string {
  try {
    return readFileSync(file, 'utf8').trim().split('\n').slice(-5).join(' | ');
  } catch {
    return `(no log at ${file})`;
  }
}
