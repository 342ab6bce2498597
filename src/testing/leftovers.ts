/**
 * What a test folder knows about the things its test made, and their removal:
 * the owner file (pid and start time), the record of host network objects
 * (bridges, namespaces, veths), and one removal used by a fixture's cleanup,
 * a signal's cleanup and the sweep of interrupted runs alike.
 */
import { execFile } from 'node:child_process';
import { appendFileSync, existsSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Engine } from '../engine/client.js';
import { isAlive } from '../processes.js';
import { processStart } from '../supervisor/pid.js';
import { sleep } from '../time.js';
import { removeCertsDir, removeCgroup, removeExecRoot, removeForwardRule, unmountUnder } from './host-objects.js';
import { isMadeName, parseMade, parseOwner, processesNaming, type Made, type MadeKind, type Owner } from './sweep-plan.js';

const run = promisify(execFile);

export const OWNER_FILE = '.owner';
export const MADE_FILE = '.made';
const STOP_GRACE_MS = 5000;

export function ownerAlive(owner: Owner): boolean {
  return isAlive(owner.pid) && processStart(owner.pid) === owner.start;
}

export function writeOwner(dir: string): void {
  writeFileSync(join(dir, OWNER_FILE), `${JSON.stringify({ pid: process.pid, start: processStart(process.pid) })}\n`);
}

export function readOwner(dir: string): Owner | 'none' | 'unreadable' {
  const file = join(dir, OWNER_FILE);
  if (!existsSync(file)) return 'none';
  try {
    return parseOwner(readFileSync(file, 'utf8'));
  } catch {
    return 'unreadable';
  }
}

/** Records a host object before creating it, so a run killed in between still leaves its name. */
export function recordMade(dir: string, kind: MadeKind, name: string): void {
  appendFileSync(join(dir, MADE_FILE), `${kind} ${name}\n`);
}

export function readMade(dir: string): Made[] {
  try {
    return parseMade(readFileSync(join(dir, MADE_FILE), 'utf8'));
  } catch {
    return [];
  }
}

export function listProcesses(): { pid: number; argv: string[] }[] {
  const processes: { pid: number; argv: string[] }[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      processes.push({ pid: Number(entry), argv: readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').filter((a) => a !== '') });
    } catch {
      // Exited meanwhile.
    }
  }
  return processes;
}

/** Whether a live process other than `except` works in `dir`: its cwd, an open file, or its environment points into it. */
export function dirInUse(dir: string, except: number[]): boolean {
  const inside = (path: string) => path === dir || path.startsWith(`${dir}/`);
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || except.includes(Number(entry)) || Number(entry) === process.pid) continue;
    try {
      if (inside(readlinkSync(`/proc/${entry}/cwd`))) return true;
      if (readFileSync(`/proc/${entry}/environ`, 'utf8').split('\0').some((v) => v.includes(`=${dir}/`) || v.endsWith(`=${dir}`))) return true;
      for (const fd of readdirSync(`/proc/${entry}/fd`)) {
        if (inside(readlinkSync(`/proc/${entry}/fd/${fd}`).replace(/ \(deleted\)$/, ''))) return true;
      }
    } catch {
      // Exited meanwhile, or a kernel thread.
    }
  }
  return false;
}

/**
 * Removes everything of test project `project` whose folder is `dir`: the processes naming the folder
 * (front doors, registries, lab engines), containers, images and networks labelled with the project, the recorded
 * host objects (cgroups, exec-roots, namespaces, veths, bridges, forwarding rules, certs.d entries), then the folder. Each step goes on when an earlier one failed;
 * the failures are returned, and the folder stays for a later sweep.
 */
export async function removeLeftovers(engine: Engine, project: string, dir: string, settleMs = 0): Promise<string[]> {
  const { failures, step } = collectFailures();
  const label = `berth.project=${project}`;
  // On a signal the test's own work goes on while this runs, and the engine completes requests
  // already sent (an import, a container create), so each pass stops processes and removes containers and images: with `settleMs`, passes after a pause until one
  // finds nothing left.
  let found = 0;
  for (let pass = 0; pass < 5; pass++) {
    if (pass > 0) {
      if (found === 0 && !(settleMs > 0 && pass === 1)) break;
      await sleep(settleMs);
    }
    found = 0;
    await step('stop processes', async () => {
      const pids = processesNaming(dir, listProcesses(), process.pid);
      found += pids.length;
      await stopAll(pids);
    });
    await step('remove containers', async () => {
      const ids = await engine.containers.list([label]);
      found += ids.length;
      for (const id of ids) await engine.containers.remove(id);
    });
    await step('remove images', async () => {
      // Children first, so no image is still a parent when it is removed.
      const images = await engine.images.list(label);
      found += images.length;
      for (const image of images.sort((a, b) => b.created - a.created)) await engine.images.remove(image.id).catch(() => {});
    });
  }
  await step('remove networks', async () => {
    for (const network of await engine.networks.list([label])) await engine.networks.remove(network.id);
  });
  const made = readMade(dir);
  for (const kind of REMOVAL_ORDER) {
    for (const { name } of made.filter((m) => m.kind === kind)) await step(`remove ${kind} ${name}`, () => removeMade(kind, name));
  }
  // The folder names its owner: kept while anything may be left, a later sweep finds the rest.
  if (found > 0 || failures.length > 0) failures.push(`kept ${dir} for a later sweep`);
  else {
    await step('remove the folder', async () => {
      // A lab engine killed before it stopped leaves its data-root's mounts; rm would fail on them.
      await unmountUnder(dir);
      rmSync(dir, { recursive: true, force: true });
    });
  }
  return failures;
}

/**
 * Containers of a killed lab engine first (its cgroup), then what still runs from its exec-root;
 * namespaces before links (deleting one destroys its veth ends); bridges once nothing is plugged in.
 */
const REMOVAL_ORDER: readonly MadeKind[] = ['cgroup', 'execroot', 'netns', 'link', 'bridge', 'forward', 'certs'];

/** Removes one recorded host object; one that is already gone is no failure. */
export async function removeMade(kind: MadeKind, name: string): Promise<void> {
  if (!isMadeName(kind, name)) throw new Error(`not a ${kind} a test makes: ${JSON.stringify(name)}`);
  switch (kind) {
    case 'netns':
      if (existsSync(`/run/netns/${name}`)) await run('ip', ['netns', 'delete', name]);
      return;
    case 'bridge':
    case 'link':
      // A veth's peer goes with its namespace a moment after the namespace is deleted.
      if (existsSync(`/sys/class/net/${name}`)) await run('ip', ['link', 'delete', name]).catch((error: { stderr?: string }) => {
        // iproute says either, depending on whether the name vanished before or during the call.
        if (!/Cannot find device|No such device/.test(error.stderr ?? '')) throw error;
      });
      return;
    case 'cgroup':
      return removeCgroup(name);
    case 'execroot':
      return removeExecRoot(`/run/${name}`, (path) => processesNaming(path, listProcesses(), process.pid));
    case 'certs':
      return removeCertsDir(name);
    case 'forward':
      return removeForwardRule(name);
  }
}

async function stopAll(pids: number[]): Promise<void> {
  const signal = (pid: number, name: NodeJS.Signals) => {
    try {
      process.kill(pid, name);
    } catch {
      // Already gone.
    }
  };
  for (const pid of pids) signal(pid, 'SIGTERM');
  const deadline = Date.now() + STOP_GRACE_MS;
  while (pids.some(isAlive) && Date.now() < deadline) await sleep(50);
  for (const pid of pids.filter(isAlive)) signal(pid, 'SIGKILL');
  // A killed process can outlive SIGKILL briefly; its sockets go with it.
  const killedBy = Date.now() + STOP_GRACE_MS;
  while (pids.some(isAlive) && Date.now() < killedBy) await sleep(50);
}

/** Cleanup steps that go on after one fails: each failure kept as "what: why" for the caller to report. */
export function collectFailures(): { failures: string[]; step: (what: string, work: () => Promise<unknown>) => Promise<void> } {
  const failures: string[] = [];
  const step = async (what: string, work: () => Promise<unknown>) => {
    try {
      await work();
    } catch (error) {
      failures.push(`${what}: ${error instanceof Error ? error.message : String(error)}`);
    }
  };
  return { failures, step };
}
