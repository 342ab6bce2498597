/** Stopping a process Berth started: a gentle signal first, harder ones after a grace. */
import { sleep } from '../time.js';
import { stillRuns, type ProcessIdentity } from './pid.js';

/** Signals in order, each followed by how long to wait for the process to end before the next one. */
export type StopSequence = readonly { signal: NodeJS.Signals; graceMs: number }[];

/** SIGTERM, then SIGKILL after `graceMs`. */
export function termThenKill(graceMs: number): StopSequence {
  return [
    { signal: 'SIGTERM', graceMs },
    { signal: 'SIGKILL', graceMs: 0 },
  ];
}

/**
 * Sends the sequence's signals until the process is gone, and returns when it
 * is. Each signal goes only to this very process: once its pid names another
 * one (or none), nothing more is sent.
 */
export async function stopProcess(target: ProcessIdentity, sequence: StopSequence): Promise<void> {
  for (const [i, { signal, graceMs }] of sequence.entries()) {
    if (!stillRuns(target) || !send(target.pid, signal)) return;
    const last = i === sequence.length - 1;
    const deadline = Date.now() + graceMs;
    while (stillRuns(target) && (last || Date.now() <= deadline)) await sleep(20);
  }
}

function send(pid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(pid, signal);
    return true;
  } catch {
    return false;
  }
}
