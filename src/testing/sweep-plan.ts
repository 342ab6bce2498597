/**
 * Which test folders an interrupted run left behind, as plain data: a folder
 * /tmp/berth-t-xxxxxxxx-XXXXXX whose owner process is gone. Everything its
 * project made (containers, images and networks by label, processes naming
 * the folder, the bridges and namespaces it recorded) goes with it.
 */

/** The test process that made a folder: its pid and the kernel's start time of that process. */
export interface Owner {
  pid: number;
  start: string;
}

/**
 * bridge, link: network interfaces; netns: a namespace (lan.ts's LAN hosts, lab.ts's hosts);
 * execroot: /run/NAME, a lab engine's exec-root; cgroup: NAME under every cgroup hierarchy, a lab engine's containers;
 * certs: /etc/docker/certs.d/NAME, a registry's trust entry; forward: the FORWARD rule accepting traffic through bridge NAME.
 */
export type MadeKind = 'bridge' | 'netns' | 'link' | 'execroot' | 'cgroup' | 'certs' | 'forward';

/** A host network object a test recorded in its folder before creating it. */
export interface Made {
  kind: MadeKind;
  name: string;
}

export interface FoundDir {
  /** Absolute path. */
  dir: string;
  /** The folder's owner file: absent (made before owner files, or by a run still writing it), or unreadable. */
  owner: Owner | 'none' | 'unreadable';
  made: Made[];
  /** Some live process other than the ones naming it on their command line works in it (legacy folders only). */
  inUse?: boolean;
}

export interface SweepTarget {
  dir: string;
  project: string;
  made: Made[];
  why: string;
}

export interface SweepPlan {
  sweep: SweepTarget[];
  keep: { dir: string; why: string }[];
}

const TEST_DIR = /^berth-(t-[0-9a-f]{8})-[A-Za-z0-9]{6}$/;
const LAB_HOST = /^berth-lab-[0-9a-f]{8}-[1-9][0-9]?$/;
const NAME_OF: Record<MadeKind, RegExp> = {
  // Interface names are at most 15 characters; namespaces are lan.ts's and lab.ts's.
  bridge: /^[a-z][a-z0-9]{1,14}$/,
  link: /^[a-z][a-z0-9]{1,14}$/,
  netns: /^berth-(lan-[0-9a-f]{8}|lab-[0-9a-f]{8}-[1-9][0-9]?)$/,
  // Names a sweep turns into paths: no slash, no "..", only the patterns lab.ts makes.
  execroot: LAB_HOST,
  cgroup: LAB_HOST,
  certs: /^[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*:[0-9]{1,5}$/,
  forward: /^[a-z][a-z0-9]{1,14}$/,
};

/** Whether `name` is a plausible name of a `kind`: what a record holds and what a sweep acts on. */
export function isMadeName(kind: MadeKind, name: string): boolean {
  return NAME_OF[kind].test(name);
}

/** The test project a folder belongs to, from its name; undefined for anything not made by makeFixture. */
export function testProjectOf(dir: string): string | undefined {
  return TEST_DIR.exec(dir.slice(dir.lastIndexOf('/') + 1))?.[1];
}

/** Parses a folder's record of made objects ("kind name" lines); unknown kinds and odd names are ignored, never acted on. */
export function parseMade(text: string): Made[] {
  const made: Made[] = [];
  for (const line of text.split('\n')) {
    const [kind, name, ...rest] = line.trim().split(/\s+/);
    if (rest.length > 0 || !name || !(kind! in NAME_OF)) continue;
    if (NAME_OF[kind as MadeKind].test(name) && !made.some((m) => m.kind === kind && m.name === name)) made.push({ kind: kind as MadeKind, name });
  }
  return made;
}

export function parseOwner(text: string): Owner | 'unreadable' {
  try {
    const value = JSON.parse(text) as { pid?: unknown; start?: unknown };
    if (typeof value.pid === 'number' && Number.isInteger(value.pid) && value.pid > 0 && typeof value.start === 'string' && value.start !== '') return { pid: value.pid, start: value.start };
  } catch {
    // Falls through: a half-written file is not an owner.
  }
  return 'unreadable';
}

/**
 * `alive` tells whether the owner still runs (same pid and same start time, so a reused pid is not it).
 * A folder without an owner file is swept only with `legacy`, and then only when no process works in it:
 * a run that makes folders without owner files (an older checkout) may be live.
 */
export function planSweep(found: FoundDir[], alive: (owner: Owner) => boolean, options: { legacy: boolean }): SweepPlan {
  const plan: SweepPlan = { sweep: [], keep: [] };
  for (const entry of found) {
    const project = testProjectOf(entry.dir);
    if (!project) continue;
    const { dir, owner, made } = entry;
    if (owner === 'unreadable') plan.keep.push({ dir, why: 'its owner file cannot be read (being written?)' });
    else if (owner !== 'none') {
      if (alive(owner)) plan.keep.push({ dir, why: `its owner (pid ${owner.pid}) runs` });
      else plan.sweep.push({ dir, project, made, why: `its owner (pid ${owner.pid}) is gone` });
    } else if (!options.legacy) plan.keep.push({ dir, why: 'no owner file (--legacy sweeps those)' });
    else if (entry.inUse) plan.keep.push({ dir, why: 'no owner file, but a live process works in it' });
    else plan.sweep.push({ dir, project, made, why: 'no owner file (--legacy) and no process works in it' });
  }
  return plan;
}

/** The processes to stop for a swept folder: those whose command line names a path inside it. */
export function processesNaming(dir: string, processes: { pid: number; argv: string[] }[], self: number): number[] {
  return processes.filter((p) => p.pid !== self && p.argv.some((arg) => arg === dir || arg.includes(`${dir}/`))).map((p) => p.pid);
}
