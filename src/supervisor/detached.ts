/**
 * Starting a program in the background: detached from Berth (it outlives the
 * command that started it), output appended to a log file, its pid in a pid
 * file; then waiting until it serves, or stopping it and saying why it did not.
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { failed, unavailable, type BerthError } from '../errors.js';
import { sleep } from '../time.js';
import { identityOf, stillRuns, type ProcessIdentity } from './pid.js';
import { installFix, type Program } from './program.js';
import { stopProcess, type StopSequence } from './stop.js';

export interface DetachedSpec {
  /** The program, for the error when it cannot be started at all. */
  program: Program;
  /** Its executable file (findProgram's answer, or one a test passes). */
  file: string;
  args: readonly string[];
  /** Its environment (default: Berth's). */
  env?: NodeJS.ProcessEnv;
  /** Appended to; made with `logMode` when new. */
  log: string;
  logMode?: number;
  pidFile: string;
}

export interface Started extends ProcessIdentity {
  spec: DetachedSpec;
  /** Whether it has exited (or could not be run). */
  exited(): boolean;
  /** What it wrote to its log since this start. */
  logged(): string;
}

/** Spawns the program detached and writes its pid file; returns at once. */
export function startDetached(spec: DetachedSpec): Started {
  const logStart = existsSync(spec.log) ? statSync(spec.log).size : 0;
  const log = openSync(spec.log, 'a', spec.logMode ?? 0o644);
  let exited = false;
  let pid: number;
  try {
    const child = spawn(spec.file, spec.args, { detached: true, stdio: ['ignore', log, log], env: spec.env ?? process.env });
    child.on('exit', () => (exited = true));
    child.on('error', () => (exited = true));
    child.unref();
    if (child.pid === undefined) throw unavailable(`cannot start ${spec.file}`, { fix: installFix(spec.program) });
    pid = child.pid;
  } finally {
    closeSync(log);
  }
  writeFileSync(spec.pidFile, `${pid}\n`);
  const identity = identityOf(pid);
  return {
    ...identity,
    spec,
    exited: () => exited || !stillRuns(identity),
    logged: () => readFrom(spec.log, logStart),
  };
}

export interface ReadyWait {
  /** True once the program serves, false while not yet; an error it throws ends the wait (the program cannot work). */
  probe: () => Promise<boolean>;
  timeoutMs: number;
  intervalMs: number;
  /** The error for a program that exited before it served (default: that it exited, with the last lines of its log). */
  exited?: (logged: string) => BerthError;
  /** The error for one that did not serve within the timeout. */
  timedOut: () => BerthError;
  /** How to stop it when it failed to become ready. */
  stop: StopSequence;
}

/**
 * Polls the probe until the program serves. When it exits first, does not serve
 * in time or the probe fails, the program is stopped, its pid file removed, and
 * the error says why.
 */
export async function waitReady(started: Started, wait: ReadyWait): Promise<void> {
  const deadline = Date.now() + wait.timeoutMs;
  try {
    for (;;) {
      if (started.exited()) throw (wait.exited ?? exitedError(started))(started.logged());
      if (await wait.probe()) return;
      if (Date.now() >= deadline) throw wait.timedOut();
      await sleep(wait.intervalMs);
    }
  } catch (error) {
    await stopProcess(started, wait.stop);
    rmSync(started.spec.pidFile, { force: true });
    throw error;
  }
}

/** The non-empty lines of a log, trimmed; the last `count` of them. */
export function logTail(text: string, count: number): string[] {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '')
    .slice(-count);
}

function exitedError(started: Started): (logged: string) => BerthError {
  return (logged) => failed(`${started.spec.program.name} exited right after it started`, { lines: logTail(logged, 8), fix: `see its log ${started.spec.log}` });
}

/** A file's text from byte `offset` on ('' when it cannot be read). */
function readFrom(file: string, offset: number): string {
  try {
    return readFileSync(file).subarray(offset).toString('utf8');
  } catch {
    return '';
  }
}
