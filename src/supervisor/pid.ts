/**
 * Which process a pid file names, checked to be the one Berth started: a pid
 * is reused once its process is gone, so a live pid alone proves nothing.
 */
import { realpathSync } from 'node:fs';
import { isAlive, readOrUndefined } from '../processes.js';

/** A process, told apart from a later one given the same pid by its start time. */
export interface ProcessIdentity {
  pid: number;
  /** Clock ticks after boot at which it started (/proc/<pid>/stat); undefined when unreadable. */
  start: string | undefined;
}

/** When the process started, in clock ticks after boot; undefined when it is gone (or /proc is not readable). */
export function processStart(pid: number): string | undefined {
  const stat = readOrUndefined(`/proc/${pid}/stat`);
  // The command name may hold spaces and parentheses; the fields after the last ")" do not.
  return stat?.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
}

export function identityOf(pid: number): ProcessIdentity {
  return { pid, start: processStart(pid) };
}

/** Whether this very process still runs (not another one given its pid since). */
export function stillRuns(process: ProcessIdentity): boolean {
  if (!isAlive(process.pid)) return false;
  return process.start === undefined || processStart(process.pid) === process.start;
}

/** The pid a pid file holds, or undefined (no file, not a pid). */
export function readPidFile(file: string): number | undefined {
  const pid = Number((readOrUndefined(file) ?? '').trim());
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

/**
 * The process a pid file names when it runs and was started with `argument`
 * among its arguments (a config file only it uses), named by this path or by
 * another path to the same file (a folder reached through a link: servers that
 * share a front door's folder each name it by their own --state). An empty
 * command line is a process exiting; an unreadable one (another user's /proc)
 * is given the benefit of the doubt.
 */
export function runningFromPidFile(file: string, argument: string): ProcessIdentity | undefined {
  const pid = readPidFile(file);
  if (pid === undefined || !isAlive(pid)) return undefined;
  const cmdline = readOrUndefined(`/proc/${pid}/cmdline`);
  if (cmdline !== undefined && !namesFile(cmdline.split('\0'), argument)) return undefined;
  return identityOf(pid);
}

function namesFile(args: readonly string[], file: string): boolean {
  if (args.includes(file)) return true;
  const real = realPath(file);
  return real !== undefined && args.some((a) => a.startsWith('/') && realPath(a) === real);
}

function realPath(path: string): string | undefined {
  try {
    return realpathSync(path);
  } catch {
    return undefined;
  }
}
