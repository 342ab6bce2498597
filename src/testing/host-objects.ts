/**
 * Removal of the machine-wide things a lab of engines makes besides network
 * links: mounts under a folder, exec-roots, cgroups, /etc/docker/certs.d
 * entries, forwarding rules. Shared by a lab's dispose and the sweep of
 * interrupted runs, so both remove the same way; each is safe to run twice.
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { isAlive } from '../processes.js';
import { sleep } from '../time.js';

const run = promisify(execFile);
const CGROUP_ROOT = '/sys/fs/cgroup';
export const CERTS_DIR = '/etc/docker/certs.d';
const KILL_WAIT_MS = 10_000;

/** Mount points at or under `path`, deepest first (/proc/self/mountinfo escapes spaces as \040). */
export function mountsUnder(path: string, mountinfo = readFileSync('/proc/self/mountinfo', 'utf8')): string[] {
  const points = mountinfo
    .split('\n')
    .map((line) => line.split(' ')[4])
    .filter((p): p is string => p !== undefined)
    .map((p) => p.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8))))
    .filter((p) => p === path || p.startsWith(`${path}/`));
  return [...new Set(points)].sort((a, b) => b.length - a.length);
}

/** Unmounts everything under `path` (a killed dockerd leaves its data-root's bind mount, overlays, netns files). */
export async function unmountUnder(path: string): Promise<void> {
  for (const point of mountsUnder(path)) {
    // A lazy unmount detaches what is still busy (a process of a killed engine holding a file).
    await run('umount', [point]).catch(() => run('umount', ['--lazy', point]));
  }
}

export async function killAll(pids: number[]): Promise<void> {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
  const deadline = Date.now() + KILL_WAIT_MS;
  while (pids.some(isAlive) && Date.now() < deadline) await sleep(50);
}

/** The hierarchies' folders for cgroup `name`: /sys/fs/cgroup/NAME (v2) and /sys/fs/cgroup/CONTROLLER/NAME (v1). */
function cgroupDirs(name: string): string[] {
  const roots = [CGROUP_ROOT, ...readdirSync(CGROUP_ROOT).map((c) => join(CGROUP_ROOT, c))];
  return roots.map((root) => join(root, name)).filter((dir) => existsSync(join(dir, 'cgroup.procs')));
}

/** `dir` and the cgroups below it, deepest first. */
function cgroupTree(dir: string): string[] {
  const below = readdirSync(dir).filter((entry) => statSync(join(dir, entry)).isDirectory()).flatMap((entry) => cgroupTree(join(dir, entry)));
  return [...below, dir];
}

/** Kills every process in cgroup `name` (the containers of an engine killed before it stopped them), then removes the cgroup. */
export async function removeCgroup(name: string): Promise<void> {
  const dirs = cgroupDirs(name);
  const pids = new Set<number>();
  for (const dir of dirs) {
    for (const group of cgroupTree(dir)) {
      for (const pid of readFileSync(join(group, 'cgroup.procs'), 'utf8').split('\n').filter((p) => p !== '')) pids.add(Number(pid));
    }
  }
  await killAll([...pids]);
  for (const dir of dirs) {
    for (const group of cgroupTree(dir)) {
      // A cgroup whose last process just exited may stay busy for a moment.
      for (let attempt = 0; ; attempt++) {
        try {
          rmdirSync(group);
          break;
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code === 'ENOENT') break;
          if (attempt >= 50) throw error;
          await sleep(100);
        }
      }
    }
  }
}

/** An engine's exec-root: what still runs from it (containerd shims), what is mounted in it, then the folder. */
export async function removeExecRoot(path: string, processesNaming: (path: string) => number[]): Promise<void> {
  await killAll(processesNaming(path));
  await unmountUnder(path);
  rmSync(path, { recursive: true, force: true });
}

/** A registry's trust entry /etc/docker/certs.d/ADDR, which every engine on the machine reads. */
export function removeCertsDir(address: string): void {
  rmSync(join(CERTS_DIR, address), { recursive: true, force: true });
}

/**
 * The rule that lets traffic through a LAN bridge. With br_netfilter, frames bridged between two
 * ports go through the machine's FORWARD chain, which Docker sets to DROP.
 */
export function forwardRule(bridge: string): string[] {
  return ['FORWARD', '-i', bridge, '-o', bridge, '-m', 'comment', '--comment', `berth lab ${bridge}`, '-j', 'ACCEPT'];
}

export async function addForwardRule(bridge: string): Promise<void> {
  await run('iptables', ['-w', '-I', ...forwardRule(bridge)]);
}

export async function removeForwardRule(bridge: string): Promise<void> {
  // Each delete removes one copy; a rule inserted twice (a retried start) goes on the second pass.
  for (let i = 0; i < 10; i++) {
    const removed = await run('iptables', ['-w', '-D', ...forwardRule(bridge)]).then(
      () => true,
      () => false,
    );
    if (!removed) return;
  }
}
