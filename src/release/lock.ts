/**
 * One rollout per service × environment. The lock names its rollout and the
 * process holding it; a holder that is gone (killed) leaves a rollout to resume.
 */
import { hostname } from 'node:os';
import { conflict } from '../errors.js';
import { isAlive } from '../processes.js';
import type { Db } from '../store/db.js';
import { rolloutById, takeOverLock, tryLock, unlock, type Lock, type Rollout } from '../store/releases.js';

export type LockOutcome = { acquired: true } | { acquired: false; interrupted: Rollout };

/** Whether the lock's holder still runs (on another machine Berth cannot tell, and assumes it does). */
export function holderAlive(lock: Lock): boolean {
  return lock.hostname !== hostname() || isAlive(lock.pid);
}

export function describeHolder(lock: Lock, rollout: Rollout | undefined): string {
  // Until its plan is recorded, the lock names no rollout (0): the holder is still checking and planning.
  const what = rollout
    ? `rollout #${rollout.id} (${rollout.kind} of release ${rollout.release}, by ${rollout.actor}, started ${new Date(rollout.startedAt).toISOString()})`
    : lock.rollout === 0
      ? `a rollout being planned since ${new Date(lock.acquiredAt).toISOString()} (not recorded yet)`
      : `rollout #${lock.rollout}`;
  return `${what}, berth process ${lock.pid} on ${lock.hostname}`;
}

/**
 * Takes the lock for `rollout`. A live holder is a conflict naming it; a dead
 * holder's rollout is handed back to be resumed first (the lock is taken over).
 */
export function acquire(db: Db, service: string, environment: string, rollout: number): LockOutcome {
  const me = { service, environment, rollout, pid: process.pid, hostname: hostname() };
  const held = tryLock(db, me);
  if (!held) return { acquired: true };
  const holder = rolloutById(db, held.rollout);
  if (holder?.status === 'canary') {
    throw conflict(`a canary of ${service} (release ${holder.release}) is open in ${environment}`, {
      fix: `decide it first: berth canary promote ${service} --env ${environment}, or berth canary abort ${service} --env ${environment}`,
    });
  }
  if (holderAlive(held) && held.pid !== process.pid) {
    throw conflict(`a rollout of ${service} in ${environment} is in progress: ${describeHolder(held, holder)}`, {
      fix: `wait for it to finish (berth rollout ls shows it); if that process is stuck, stop it and run the command again: the rollout resumes${holder ? ` (or end it: berth rollout abandon ${holder.id})` : ''}`,
    });
  }
  const interrupted = holder && holder.status === 'running' ? holder : undefined;
  // The lock keeps naming the interrupted rollout: if this process dies too before resuming it, the next one still finds it.
  takeOverLock(db, interrupted ? { ...me, rollout: interrupted.id } : me);
  return interrupted ? { acquired: false, interrupted } : { acquired: true };
}

export function release(db: Db, service: string, environment: string): void {
  unlock(db, service, environment);
}
